import { useEffect, useState, type FormEvent } from "react";
import { useNavigate } from "react-router";
import { useTranslation } from "react-i18next";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { api, call } from "../api/client";
import { ROLE_LABELS, useMe, useSignOut, useTopics } from "../lib/session";
import { forgetMemberData } from "../lib/pwa";
import { ConfirmButton } from "../components/ConfirmButton";
import { ErrorMessage } from "../components/ErrorMessage";
import { TopicPicker } from "../components/TopicPicker";
import { ConnectedAccounts } from "../components/ConnectedAccounts";
import { ExportData } from "../components/ExportData";
import { PushNotifications } from "../components/PushNotifications";

type Purpose = "tracking" | "analytics_attribution" | "digest_mail";
const purposes: { purpose: Purpose; label: string; hint: string; byDefault: boolean }[] = [
  {
    purpose: "tracking",
    label: "Allow view pixels and non-essential cookies",
    hint: "Off until you turn it on. Chorus sets none today: its only cookie keeps you signed in. Clicks on the links you share are counted without identifying the reader either way.",
    byDefault: false,
  },
  {
    purpose: "analytics_attribution",
    label: "Attribute reach analytics to me by name",
    hint: "On unless you object.",
    byDefault: true,
  },
  { purpose: "digest_mail", label: "Send me the digest mail", hint: "On unless you object.", byDefault: true },
];
const CONSENT_TEXT_VERSION = "2026-11";

export function Profile() {
  const me = useMe();
  const topics = useTopics();
  const qc = useQueryClient();
  const navigate = useNavigate();
  const signOut = useSignOut();
  const [name, setName] = useState("");
  const [title, setTitle] = useState("");
  const [followed, setFollowed] = useState<string[]>([]);
  useEffect(() => {
    if (!me.data) return;
    setName(me.data.member.name);
    setTitle(me.data.member.title ?? "");
    setFollowed(me.data.member.topics ?? []);
  }, [me.data]);

  const save = useMutation({
    // Only topics that still exist: one an admin removed meanwhile is
    // no longer shown, so it cannot be unticked.
    mutationFn: () => {
      const known = topics.data?.items.map((x) => x.id);
      const body = { name: name.trim(), title, topics: known ? followed.filter((id) => known.includes(id)) : followed };
      return call(api.PATCH("/api/v1/members/me", { body }));
    },
    onSuccess: () => qc.invalidateQueries({ queryKey: ["me"] }),
  });
  // The member's choices flip the switches at once; the server settles them.
  const [chosen, setChosen] = useState<Partial<Record<Purpose, boolean>>>({});
  const consents = useQuery({ queryKey: ["consents"], queryFn: () => call(api.GET("/api/v1/me/consents")) });
  const setConsent = useMutation({
    mutationFn: (v: { purpose: Purpose; granted: boolean }) =>
      call(
        api.PUT("/api/v1/me/consents/{purpose}", {
          params: { path: { purpose: v.purpose } },
          body: { granted: v.granted, text_version: CONSENT_TEXT_VERSION },
        }),
      ),
    onError: (_e, v) => setChosen(({ [v.purpose]: _, ...rest }) => rest),
    onSettled: () => qc.invalidateQueries({ queryKey: ["consents"] }),
  });
  const erase = useMutation({
    mutationFn: () => call(api.DELETE("/api/v1/me")),
    onSuccess: async () => {
      qc.clear();
      await forgetMemberData();
      navigate("/signin");
    },
  });

  const submit = (e: FormEvent) => {
    e.preventDefault();
    save.mutate();
  };
  const current = consents.data?.current ?? {};
  const { t } = useTranslation();
  return (
    <section className="narrow">
      <h1 tabIndex={-1}>{t("Profile")}</h1>
      <ErrorMessage error={me.error} />
      {me.data && (
        <p className="signed-in">
          <span>{t("Signed in as {{email}} ({{role}}).", { email: me.data.member.email, role: t(ROLE_LABELS[me.data.member.role]) })}</span>{" "}
          <button type="button" className="secondary" onClick={signOut}>
            {t("Sign out")}
          </button>
        </p>
      )}
      <form onSubmit={submit} aria-labelledby="profile-h">
        <h2 id="profile-h">{t("About me")}</h2>
        <label htmlFor="profile-name">{t("Name")}</label>
        <input id="profile-name" required maxLength={100} value={name} onChange={(e) => setName(e.target.value)} />
        <label htmlFor="profile-title">{t("Job title")}</label>
        <input id="profile-title" maxLength={100} value={title} onChange={(e) => setTitle(e.target.value)} />
        <div id="topics">
          <TopicPicker legend={t("Topics I follow")} topics={topics.data?.items ?? []} value={followed} onChange={setFollowed} />
        </div>
        <button type="submit" disabled={save.isPending}>
          {t("Save profile")}
        </button>
        <div role="status" aria-live="polite">
          {save.isSuccess && <p className="notice">{t("Saved.")}</p>}
        </div>
        <ErrorMessage error={save.error} />
      </form>

      <ConnectedAccounts />

      <PushNotifications />

      <section aria-labelledby="consents-h">
        <h2 id="consents-h">{t("Privacy choices")}</h2>
        <ErrorMessage error={consents.error} />
        {purposes.map((p) => {
          const granted = chosen[p.purpose] ?? current[p.purpose] ?? p.byDefault;
          return (
            <div key={p.purpose} className="consent">
              <label className="check">
                <input
                  type="checkbox"
                  role="switch"
                  checked={granted}
                  disabled={consents.isPending}
                  onChange={(e) => {
                    const granted = e.target.checked;
                    setChosen((c) => ({ ...c, [p.purpose]: granted }));
                    setConsent.mutate({ purpose: p.purpose, granted });
                  }}
                />
                {t(p.label)}
              </label>
              <span className="hint"> {t(p.hint)}</span>
            </div>
          );
        })}
        <ErrorMessage error={setConsent.error} />
      </section>

      <section aria-labelledby="data-h">
        <h2 id="data-h">{t("My data")}</h2>
        <p>{t("Everything Chorus stores about you, as a JSON file.")}</p>
        <ExportData />
        <h3>{t("Delete my account")}</h3>
        <ConfirmButton
          question={t(
            "Delete your account? Your profile, suggestions and choices are erased; content already published stays with the company without your name. This cannot be undone.",
          )}
          confirmLabel={t("Delete my account")}
          onConfirm={() => erase.mutate()}
          disabled={erase.isPending}
        >
          {t("Delete my account")}
        </ConfirmButton>
        <ErrorMessage error={erase.error} />
      </section>
    </section>
  );
}
