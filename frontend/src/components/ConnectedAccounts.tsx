import { useEffect, useId, useRef } from "react";
import { Link, useLocation, useNavigate, useSearchParams } from "react-router";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useForm } from "react-hook-form";
import { useTranslation } from "react-i18next";
import { api, call } from "../api/client";
import {
  PASSWORD_NETWORKS,
  connectionStatusText,
  networkLabel,
  useConnections,
  useNetworks,
  type Connection,
  type NetworkInfo,
} from "../lib/networks";
import { safeHref } from "../lib/session";
import { ConfirmButton } from "./ConfirmButton";
import { ErrorMessage } from "./ErrorMessage";
import { FieldError, invalidProps } from "./FieldError";
import { DataTable } from "./Wide";
import { ReconnectButton } from "./ReconnectButton";

/**
 * A page of this app to come back to after connecting, from ?return_to=:
 * a same-origin path only ("/share/abc"), never "//host" or a URL, as the
 * server also checks.
 */
export function returnPath(raw: string | null): string | undefined {
  if (!raw || !raw.startsWith("/") || raw.startsWith("//") || raw.includes("\\") || /[\u0000-\u001f\u007f]/.test(raw)) return undefined;
  try {
    const u = new URL(raw, window.location.origin);
    return u.origin === window.location.origin ? u.pathname + u.search : undefined;
  } catch {
    return undefined;
  }
}

/**
 * What a network's OAuth return says (?connected= or ?connect_error=),
 * on a page the member came back to from connecting, such as the composer.
 */
export function ConnectResult() {
  const { t } = useTranslation();
  const [params] = useSearchParams();
  const connected = params.get("connected");
  const connectError = params.get("connect_error");
  const network = networkLabel(params.get("network") ?? "");
  return (
    <div role="status" aria-live="polite">
      {connected && <p className="notice">{t("Your {{network}} account is connected.", { network: networkLabel(connected) })}</p>}
      {connectError && (
        <p className="error">
          {connectError === "declined"
            ? t("{{network}} did not connect: the authorisation was declined.", { network })
            : t("{{network}} did not connect: {{reason}}.", { network, reason: connectError })}
        </p>
      )}
    </div>
  );
}

/**
 * The member's social accounts: connect (OAuth or app password),
 * reconnect, disconnect. Only the networks the admins allow are offered.
 */
export function ConnectedAccounts() {
  const { t } = useTranslation();
  const qc = useQueryClient();
  const [params, setParams] = useSearchParams();
  const networks = useNetworks();
  const conns = useConnections();
  const connected = params.get("connected");
  const connectError = params.get("connect_error");
  const reconnectId = params.get("reconnect");
  const reconnecting = conns.data?.items?.find((c) => c.id === reconnectId);
  const back = returnPath(params.get("return_to"));
  const allowed = (networks.data?.items ?? []).filter((n) => n.allowed);
  const items = conns.data?.items ?? [];

  useEffect(() => {
    if (connected) qc.invalidateQueries({ queryKey: ["connections"] });
  }, [connected, qc]);
  // Links to #accounts (the OAuth return, "Reconnect", the composer) land here.
  const { hash } = useLocation();
  const section = useRef<HTMLElement>(null);
  const listed = conns.isSuccess && networks.isSuccess;
  useEffect(() => {
    if (hash === "#accounts" && listed) section.current?.scrollIntoView({ block: "start" });
  }, [hash, listed]);
  const dismiss = () => {
    const p = new URLSearchParams(params);
    for (const k of ["connected", "connect_error", "network", "reconnect"]) p.delete(k);
    setParams(p, { replace: true });
  };

  const disconnect = useMutation({
    mutationFn: (id: string) => call(api.DELETE("/api/v1/connections/{id}", { params: { path: { id } } })),
    onSettled: () => {
      qc.invalidateQueries({ queryKey: ["connections"] });
      qc.invalidateQueries({ queryKey: ["shares"] }); // its waiting shares were cancelled
    },
  });

  return (
    <section id="accounts" aria-labelledby="accounts-h" ref={section}>
      <h2 id="accounts-h">{t("Connected accounts")}</h2>
      {back && (
        <p className="notice">
          {t("After connecting you go back to your post.")} <Link to={back}>{t("Back to the post")}</Link>
        </p>
      )}
      <div role="status" aria-live="polite">
        {connected && (
          <p className="notice">
            {t("Your {{network}} account is connected.", { network: networkLabel(connected) })}{" "}
            <button type="button" className="link" onClick={dismiss}>
              {t("Dismiss")}
            </button>
          </p>
        )}
      </div>
      {connectError && (
        <p className="error" role="alert">
          {connectError === "declined"
            ? t("{{network}} did not connect: the authorisation was declined.", { network: networkLabel(params.get("network") ?? "") })
            : t("{{network}} did not connect: {{reason}}.", { network: networkLabel(params.get("network") ?? ""), reason: connectError })}
        </p>
      )}
      <ErrorMessage error={conns.error ?? networks.error} />
      {conns.isSuccess && items.length === 0 && (
        <p className="empty">{t("No accounts connected yet. Connect one below to share with one click.")}</p>
      )}
      {items.length > 0 && (
        <DataTable label={t("My connected accounts")} columns={[t("Network"), t("Account"), t("State"), t("Actions")]}>
          {items.map((c) => (
            <tr key={c.id}>
              <th scope="row">{networkLabel(c.network)}</th>
              <td className="break">
                <AccountName c={c} />
                {c.followers > 0 && <span className="meta"> · {t("{{count}} followers", { count: c.followers })}</span>}
              </td>
              <td>
                <span className={`state conn-${c.status}`}>{t(connectionStatusText[c.status] ?? c.status)}</span>
              </td>
              <td>
                {(c.status === "needs_reconnect" || c.status === "broken") && (
                  <>
                    <ReconnectButton connection={c} />{" "}
                  </>
                )}
                <ConfirmButton
                  question={t("Disconnect {{network}} {{handle}}? Its scheduled shares are cancelled; you can connect it again later.", {
                    network: networkLabel(c.network),
                    handle: c.handle,
                  })}
                  confirmLabel={t("Disconnect")}
                  aria-label={t("Disconnect {{network}} {{handle}}", { network: networkLabel(c.network), handle: c.handle })}
                  onConfirm={() => disconnect.mutate(c.id)}
                >
                  {t("Disconnect")}
                </ConfirmButton>
              </td>
            </tr>
          ))}
        </DataTable>
      )}
      <ErrorMessage error={disconnect.error} />

      <h3>{t("Connect an account")}</h3>
      {networks.isSuccess && allowed.length === 0 && (
        <p className="empty">{t("Your admins have not allowed any social network yet. Ask them to allow one under Admin.")}</p>
      )}
      {allowed.map((n) =>
        PASSWORD_NETWORKS.has(n.name) ? (
          <PasswordConnect key={n.name} network={n} reconnect={reconnecting?.network === n.name ? reconnecting : undefined} returnTo={back} />
        ) : (
          <OAuthConnect key={n.name} network={n} returnTo={back} />
        ),
      )}
    </section>
  );
}

function AccountName({ c }: { c: Connection }) {
  const href = safeHref(c.profile_url);
  const name = c.display_name ? `${c.display_name} (${c.handle})` : c.handle;
  return href ? (
    <a href={href} target="_blank" rel="noopener noreferrer">
      {name}
    </a>
  ) : (
    <>{name}</>
  );
}

/** Bluesky: handle and an app password, sent once, never stored. */
export function PasswordConnect({ network, reconnect, returnTo }: { network: NetworkInfo; reconnect?: Connection; returnTo?: string }) {
  const { t } = useTranslation();
  const qc = useQueryClient();
  const navigate = useNavigate();
  const id = useId();
  const label = networkLabel(network.name);
  const form = useForm<{ handle: string; password: string; server: string }>({
    defaultValues: { handle: "", password: "", server: "" },
    // Reconnecting fills in the account the connection had.
    values: reconnect ? { handle: reconnect.handle, password: "", server: reconnect.instance_url ?? "" } : undefined,
  });
  const connect = useMutation({
    mutationFn: (v: { handle: string; password: string; server: string }) =>
      call(
        api.POST("/api/v1/connections/{network}/password", {
          params: { path: { network: network.name } },
          body: {
            identifier: v.handle.trim().replace(/^@/, ""),
            app_password: v.password.trim(),
            ...(v.server.trim() ? { instance_url: v.server.trim() } : {}),
          },
        }),
      ),
    onSuccess: async () => {
      form.resetField("password");
      await qc.invalidateQueries({ queryKey: ["connections"] });
      if (returnTo) navigate(returnTo);
    },
  });
  const { register } = form;
  return (
    <form onSubmit={form.handleSubmit((v) => connect.mutate(v))} className="connect" aria-labelledby={`${id}-h`}>
      <h4 id={`${id}-h`}>{reconnect ? t("Reconnect {{network}}", { network: label }) : label}</h4>
      <p className="hint">
        {t(
          "Create an app password in {{network}} (Settings → Privacy and security → App passwords). Chorus uses it once to sign in and never stores it.",
          { network: label },
        )}
      </p>
      <label htmlFor={`${id}-handle`}>{t("{{network}} handle", { network: label })}</label>
      <input id={`${id}-handle`} required autoComplete="username" placeholder="you.bsky.social" {...register("handle", { required: true })} />
      <label htmlFor={`${id}-password`}>{t("App password")}</label>
      <input
        id={`${id}-password`}
        type="password"
        required
        autoComplete="off"
        placeholder="xxxx-xxxx-xxxx-xxxx"
        {...register("password", { required: true })}
      />
      <label htmlFor={`${id}-server`}>{t("Server (optional; default https://bsky.social)")}</label>
      <input id={`${id}-server`} type="url" placeholder="https://bsky.social" {...register("server")} />
      <button type="submit" disabled={connect.isPending}>
        {connect.isPending ? t("Connecting…") : t("Connect {{network}}", { network: label })}
      </button>
      <div role="status" aria-live="polite">
        {connect.isSuccess && (
          <p className="notice">
            {t("Connected {{network}} as {{handle}}.", { network: label, handle: connect.data.handle })}
          </p>
        )}
      </div>
      <ErrorMessage error={connect.error} />
    </form>
  );
}

/** OAuth networks: to the network's consent page and back. */
export function OAuthConnect({ network, returnTo }: { network: NetworkInfo; returnTo?: string }) {
  const { t } = useTranslation();
  const id = useId();
  const label = networkLabel(network.name);
  const servers = network.config?.allowed_instances ?? [];
  const form = useForm<{ server: string }>({ defaultValues: { server: servers[0] ?? "" } });
  const serverError = form.formState.errors.server;
  const start = useMutation({
    mutationFn: (server: string) =>
      call(
        api.POST("/api/v1/connections/{network}/start", {
          params: { path: { network: network.name } },
          body: {
            ...(network.federated ? { instance_url: withScheme(server.trim()) } : {}),
            ...(returnTo ? { return_to: returnTo } : {}),
          },
        }),
      ),
    onSuccess: (r) => {
      const to = safeHref(r.authorize_url);
      if (to) window.location.assign(to);
    },
  });
  return (
    <form noValidate onSubmit={form.handleSubmit((v) => start.mutate(v.server))} className="connect" aria-labelledby={`${id}-h`}>
      <h4 id={`${id}-h`}>{label}</h4>
      {network.federated && (
        <>
          <label htmlFor={`${id}-server`}>{t("Your {{network}} server", { network: label })}</label>
          {servers.length > 0 ? (
            <select id={`${id}-server`} {...form.register("server")}>
              {servers.map((s) => (
                <option key={s} value={s}>
                  {s}
                </option>
              ))}
            </select>
          ) : (
            <input
              id={`${id}-server`}
              required
              placeholder="mastodon.social"
              {...invalidProps(`${id}-server-error`, serverError)}
              {...form.register("server", {
                validate: (v) =>
                  !v.trim()
                    ? t("Enter your {{network}} server, such as mastodon.social.", { network: label })
                    : isServer(v.trim()) || t("That is not a server address."),
              })}
            />
          )}
          <FieldError id={`${id}-server-error`} error={serverError} />
        </>
      )}
      <button type="submit" disabled={start.isPending}>
        {t("Connect {{network}}", { network: label })}
      </button>
      <p className="hint">{t("You are sent to {{network}} to allow Chorus to post for you, then back here.", { network: label })}</p>
      <ErrorMessage error={start.error} />
    </form>
  );
}

/** Whether s (with or without its scheme) is an http(s) server's address. */
export function isServer(s: string): boolean {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(s) && !/^https?:\/\//i.test(s)) return false;
  try {
    const u = new URL(withScheme(s));
    return (u.protocol === "https:" || u.protocol === "http:") && u.hostname.length > 0 && !/\s/.test(s);
  } catch {
    return false;
  }
}

/** "mastodon.social" → "https://mastodon.social". */
export function withScheme(s: string): string {
  return s === "" || /^https?:\/\//i.test(s) ? s : `https://${s}`;
}
