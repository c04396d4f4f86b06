import { useState, type FormEvent } from "react";
import { Navigate } from "react-router";
import { useMutation, useQuery } from "@tanstack/react-query";
import { useTranslation } from "react-i18next";
import { T } from "../components/T";
import { api, call } from "../api/client";
import { safeHref, useMe } from "../lib/session";
import { ErrorMessage } from "../components/ErrorMessage";

/** The newest sign-in link of the development mailbox, when it is on. */
async function devMailLink(email: string): Promise<string | undefined> {
  const r = await api.GET("/api/v1/dev/mail", { params: { query: { to: email } } }).catch(() => undefined);
  if (!r || !r.response.ok || !r.data) return undefined; // off in production: 404
  return safeHref(r.data.items[0]?.link);
}

/** The company whose login page this host is (acme.<base domain>), if any. */
function useLoginPage() {
  return useQuery({
    queryKey: ["login-page"],
    queryFn: async () => {
      const r = await api.GET("/api/v1/auth/login-page").catch(() => undefined);
      return r?.response.ok && r.data ? r.data : null; // 404: the generic page
    },
    retry: false,
    staleTime: Infinity,
  });
}

export function SignIn() {
  const me = useMe();
  const page = useLoginPage().data;
  const company = page?.instance?.name;
  const instanceId = page?.instance?.id;
  const { t } = useTranslation();
  const [email, setEmail] = useState("");
  const [devLink, setDevLink] = useState<string>();
  const send = useMutation({
    mutationFn: async (address: string) => {
      await call(api.POST("/api/v1/auth/email", { body: { email: address } }));
      setDevLink(await devMailLink(address));
      return address;
    },
  });
  if (me.data) return <Navigate to="/feed" replace />;

  const submit = (e: FormEvent) => {
    e.preventDefault();
    setDevLink(undefined);
    send.mutate(email.trim());
  };
  return (
    <section className="narrow">
      <h1 tabIndex={-1}>{company ? t("Sign in to {{company}}", { company }) : t("Sign in to Chorus")}</h1>
      {page?.sso && instanceId && (
        <p>
          <a className="button" href={`/api/v1/auth/oidc/start?instance=${encodeURIComponent(instanceId)}`}>
            {t("Sign in with your company account (single sign-on)")}
          </a>
        </p>
      )}
      <p>
        {page?.sso
          ? t("Or sign in with your work email address. We send you a link that signs you in; no password needed.")
          : t("Sign in with your work email address. We send you a link that signs you in; no password needed.")}
      </p>
      <form onSubmit={submit} noValidate={false}>
        <label htmlFor="signin-email">{t("Work email")}</label>
        <input
          id="signin-email"
          name="email"
          type="email"
          autoComplete="email"
          required
          value={email}
          onChange={(e) => setEmail(e.target.value)}
        />
        <button type="submit" disabled={send.isPending}>
          {send.isPending ? t("Sending…") : t("Send me a sign-in link")}
        </button>
      </form>
      <div role="status" aria-live="polite">
        {send.isSuccess && (
          <div className="notice">
            <p>
              <T
                k="Check your mail: if <0>{{email}}</0> may sign in, a link is on its way. It works once, for 15 minutes."
                values={{ email: send.data }}
                components={[<strong />]}
              />
            </p>
            {devLink && (
              <p>
                <T k="Development mailbox: <0>open the sign-in link</0>" components={[<a href={devLink} />]} />
              </p>
            )}
          </div>
        )}
      </div>
      <ErrorMessage error={send.error} />
    </section>
  );
}
