import { useMutation, useQueryClient } from "@tanstack/react-query";
import { Link } from "react-router";
import { useTranslation } from "react-i18next";
import { api, call, type Member } from "../api/client";
import { useConnections } from "../lib/networks";
import { useMe } from "../lib/session";
import { ErrorMessage } from "./ErrorMessage";

/**
 * Whether a member set their name: the name they joined with is their
 * address's local part ("carol"), so any other name is their own.
 */
export function nameSet(m: Pick<Member, "name" | "email">): boolean {
  const local = (m.email ?? "").split("@")[0] ?? "";
  return m.name.trim() !== "" && m.name.trim() !== local;
}

/**
 * The first-sign-in checklist: name, an account to share with, topics.
 * Each item is ticked from the member's own data; the member may close
 * the list, which is remembered on their profile.
 */
export function Onboarding() {
  const { t } = useTranslation();
  const me = useMe();
  const conns = useConnections();
  const qc = useQueryClient();
  const dismiss = useMutation({
    mutationFn: () => call(api.PATCH("/api/v1/members/me", { body: { onboarding_dismissed: true } })),
    onSuccess: () => qc.invalidateQueries({ queryKey: ["me"] }),
  });
  const m = me.data?.member;
  if (!m || m.onboarding?.dismissed || !conns.isSuccess) return null;
  const steps = [
    { done: nameSet(m), label: t("Set your name, so colleagues know who shared"), to: "/profile#profile-h", action: t("Edit profile") },
    {
      done: (conns.data.items ?? []).some((c) => c.status === "active"),
      label: t("Connect a social account to share in one tap"),
      to: "/profile#accounts",
      action: t("Connect"),
    },
    { done: m.topics.length > 0, label: t("Pick the topics you care about"), to: "/profile#topics", action: t("Pick topics") },
  ];
  const left = steps.filter((s) => !s.done).length;
  return (
    <section className="panel onboarding" aria-labelledby="onboarding-h">
      <h2 id="onboarding-h">{left === 0 ? t("You are all set") : t("Get started: {{left}} of 3 left", { left })}</h2>
      <ol className="steps">
        {steps.map((s) => (
          <li key={s.to} className={s.done ? "done" : ""}>
            <span className="tick" aria-hidden="true">
              {s.done ? "✓" : ""}
            </span>
            <span>
              {s.label}
              {s.done ? <span className="sr-only"> {t("(done)")}</span> : null}
            </span>
            {!s.done && (
              <Link className="button secondary" to={s.to}>
                {s.action}
              </Link>
            )}
          </li>
        ))}
      </ol>
      <button type="button" className="link" onClick={() => dismiss.mutate()} disabled={dismiss.isPending}>
        {left === 0 ? t("Close") : t("Hide this checklist")}
      </button>
      <ErrorMessage error={dismiss.error} />
    </section>
  );
}
