import { useEffect, useState, type FormEvent } from "react";
import { Link, Navigate } from "react-router";
import { useMutation, useQuery } from "@tanstack/react-query";
import { useTranslation } from "react-i18next";
import { T } from "../components/T";
import { api, call, isApiError } from "../api/client";
import { safeHref, useMe } from "../lib/session";
import { ErrorMessage } from "../components/ErrorMessage";
import { keptReturn } from "../lib/returnTo";

/** The newest sign-in link of the development mailbox, when it is on. */
async function devMailLink(email: string): Promise<string | undefined> {
  const r = await api.GET("/api/v1/dev/mail", { params: { query: { to: email } } }).catch(() => undefined);
  if (!r || !r.response.ok || !r.data) return undefined; // off in production: 404
  return safeHref(r.data.items[0]?.link);
}

/** Where single sign-on starts: the company of this login page, or the address's. */
function ssoStart(q: { instance?: string; email?: string }): string {
  const p = new URLSearchParams();
  if (q.instance) p.set("instance", q.instance);
  else if (q.email) p.set("email", q.email);
  return "/api/v1/auth/oidc/start?" + p.toString();
}

export function SignIn() {
  const me = useMe();
  // On a company's subdomain: its name, and whether single sign-on is on.
  const page = useQuery({
    queryKey: ["login-page"],
    queryFn: () => call(api.GET("/api/v1/auth/login-page")),
    retry: false,
    staleTime: Infinity,
  });
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
  // Kept through sign-in (see lib/returnTo): read once, at the first render.
  const [kept] = useState(keptReturn);
  if (me.data) return <Navigate to={kept ?? "/feed"} replace />;

  const submit = (e: FormEvent) => {
    e.preventDefault();
    setDevLink(undefined);
    send.mutate(email.trim());
  };
  const company = page.data?.instance;
  const ssoRequired = isApiError(send.error) && send.error.code === "sso_required";
  return (
    <section className="narrow">
      <h1 tabIndex={-1}>{t("Sign in to {{company}}", { company: company?.name ?? "Chorus" })}</h1>
      {kept && (
        <p className="notice" role="note">
          {kept.startsWith("/suggest?")
            ? t("After you sign in, the page you shared opens in the suggestion form.")
            : t("After you sign in, the page you asked for opens.")}
        </p>
      )}
      {company && page.data?.sso && (
        <p>
          <a className="button" href={ssoStart({ instance: company.id })}>
            {t("Sign in with single sign-on")}
          </a>
        </p>
      )}
      {!page.data?.sso_detail?.required && (
        <p>{t("Sign in with your work email address. We send you a link that signs you in; no password needed.")}</p>
      )}
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
      {ssoRequired ? (
        <div className="notice" role="alert">
          <p>{t("Your company signs in through its identity provider.")}</p>
          <p>
            <a className="button" href={ssoStart({ email: email.trim() })}>
              {t("Sign in with single sign-on")}
            </a>
          </p>
        </div>
      ) : (
        <ErrorMessage error={send.error} />
      )}
    </section>
  );
}

/** What the link in a sign-in mail carries to the confirmation page, in the URL fragment. */
export function linkOf(hash: string): { token?: string; email?: string; error?: string } {
  const p = new URLSearchParams(hash.replace(/^#/, ""));
  return { token: p.get("token") ?? undefined, email: p.get("email") ?? undefined, error: p.get("error") ?? undefined };
}

/**
 * The page a sign-in (or invitation) link leads to: it says which address
 * signs in, and that a session already open here ends, and signs in with
 * one click. Opening the link alone signs nobody in, so mail scanners that
 * fetch links leave it working and another site cannot sign a visitor in
 * to its account.
 */
export function SignInConfirm({ go = (path: string) => window.location.replace(path) }: { go?: (path: string) => void }) {
  const me = useMe();
  const { t } = useTranslation();
  const [link] = useState(() => linkOf(window.location.hash));
  const signIn = useMutation({
    mutationFn: () => call(api.POST("/api/v1/auth/email/callback", { body: { token: link.token ?? "" } })),
    // A fresh start: the app loads as the new member, where they were
    // going before they had to sign in, if anywhere.
    onSuccess: () => go(keptReturn() ?? "/feed"),
  });
  useEffect(() => {
    // The token stays out of the history and of anything the page links to.
    window.history.replaceState(null, "", window.location.pathname);
  }, []);
  if (!link.token || !link.email) {
    return (
      <section className="narrow">
        <h1 tabIndex={-1}>{t("This sign-in link does not work")}</h1>
        <p>{t("It is unknown, used or expired: ask for a new one.")}</p>
        <p>
          <Link to="/signin">{t("Sign in")}</Link>
        </p>
      </section>
    );
  }
  const current = me.data?.member.email;
  return (
    <section className="narrow">
      <h1 tabIndex={-1}>{t("Sign in as {{email}}", { email: link.email })}</h1>
      {current && (
        <p className="notice" role="note">
          <T
            k="You are signed in as <0>{{current}}</0> here. Signing in as <1>{{email}}</1> ends that session."
            values={{ current, email: link.email }}
            components={[<strong />, <strong />]}
          />
        </p>
      )}
      <button type="button" onClick={() => signIn.mutate()} disabled={signIn.isPending || signIn.isSuccess || me.isPending}>
        {signIn.isPending ? t("Signing in…") : t("Sign in")}
      </button>
      <ErrorMessage error={signIn.error} />
    </section>
  );
}
