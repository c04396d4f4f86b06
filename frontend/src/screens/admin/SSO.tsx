import { useEffect, useState, type FormEvent } from "react";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useTranslation } from "react-i18next";
import { api, call, isApiError } from "../../api/client";
import { when } from "../../lib/session";
import { ConfirmButton } from "../../components/ConfirmButton";
import { ErrorMessage } from "../../components/ErrorMessage";

/** The company's own identity provider (admins of a verified instance). */
export function SSO() {
  const { t } = useTranslation();
  const qc = useQueryClient();
  const cfg = useQuery({ queryKey: ["sso"], queryFn: () => call(api.GET("/api/v1/instance/sso")), retry: false });
  const [issuer, setIssuer] = useState("");
  const [clientID, setClientID] = useState("");
  const [secret, setSecret] = useState("");
  const [domains, setDomains] = useState("");
  useEffect(() => {
    if (!cfg.data?.configured) return;
    setIssuer(cfg.data.issuer ?? "");
    setClientID(cfg.data.client_id ?? "");
    setDomains((cfg.data.domains ?? []).join(", "));
  }, [cfg.data]);
  const done = () => {
    setSecret("");
    qc.invalidateQueries({ queryKey: ["sso"] });
    qc.invalidateQueries({ queryKey: ["instance"] });
  };
  const save = useMutation({
    mutationFn: () =>
      call(
        api.PUT("/api/v1/instance/sso", {
          body: {
            issuer: issuer.trim(),
            client_id: clientID.trim(),
            ...(secret ? { client_secret: secret } : {}),
            domains: domains
              .split(/[\s,]+/)
              .map((d) => d.trim())
              .filter(Boolean),
          },
        }),
      ),
    onSuccess: done,
  });
  const remove = useMutation({ mutationFn: () => call(api.DELETE("/api/v1/instance/sso")), onSuccess: done });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    save.mutate();
  };
  const pending = isApiError(cfg.error, 403);
  return (
    <section id="sso" aria-labelledby="sso-h" className="panel">
      <h2 id="sso-h">{t("Single sign-on")}</h2>
      {pending ? (
        <p>{t("Verify the company's domain first: then you can let people sign in through your identity provider.")}</p>
      ) : (
        <>
          <ErrorMessage error={cfg.error} />
          {cfg.data && (
            <p>
              {t("Register this redirect URI at your provider:")} <code className="break">{cfg.data.redirect_uri}</code>
              {cfg.data.configured && (
                <>
                  {" "}
                  {cfg.data.has_secret
                    ? t("— configured {{time}}, the client secret is stored (encrypted).", { time: when(cfg.data.updated_at) })
                    : t("— configured {{time}}, the client secret is missing.", { time: when(cfg.data.updated_at) })}
                </>
              )}
            </p>
          )}
          <form onSubmit={submit}>
            <label htmlFor="sso-issuer">{t("Issuer URL")}</label>
            <input id="sso-issuer" type="url" required placeholder="https://acme.okta.com" value={issuer} onChange={(e) => setIssuer(e.target.value)} />
            <label htmlFor="sso-client">{t("Client ID")}</label>
            <input id="sso-client" required value={clientID} onChange={(e) => setClientID(e.target.value)} />
            <label htmlFor="sso-secret">{t("Client secret")}</label>
            <input
              id="sso-secret"
              type="password"
              autoComplete="off"
              placeholder={cfg.data?.has_secret ? t("stored: leave empty to keep it") : ""}
              value={secret}
              onChange={(e) => setSecret(e.target.value)}
            />
            <label htmlFor="sso-domains">{t("Domains it signs in (empty: all verified domains)")}</label>
            <input id="sso-domains" value={domains} onChange={(e) => setDomains(e.target.value)} />
            <button type="submit" disabled={save.isPending}>
              {save.isPending ? t("Checking the provider…") : t("Save")}
            </button>
            <div role="status" aria-live="polite">{save.isSuccess && <p className="notice">{t("Saved.")}</p>}</div>
            <ErrorMessage error={save.error} />
          </form>
          {cfg.data?.configured && (
            <>
              <ConfirmButton
                question={t("Remove the identity provider? People then sign in by email link again.")}
                confirmLabel={t("Remove it")}
                onConfirm={() => remove.mutate()}
              >
                {t("Remove the provider")}
              </ConfirmButton>
              <ErrorMessage error={remove.error} />
            </>
          )}
        </>
      )}
    </section>
  );
}
