import { useTranslation } from "react-i18next";
import { useId, useState } from "react";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { Link } from "react-router";
import { api, call } from "../../api/client";
import { useInstance } from "../../lib/session";
import { networkLabel, useNetworks, type NetworkInfo } from "../../lib/networks";
import { ConfirmButton } from "../../components/ConfirmButton";
import { ErrorMessage } from "../../components/ErrorMessage";
import { DataTable } from "../../components/Wide";

/** Where operators read how to register Chorus with each network. */
export const NETWORK_SETUP_DOCS = "https://github.com/chorushq/chorus/blob/main/docs/connections.md#registering-chorus-with-each-network";

/** The settings an operator sets to serve a network that needs app credentials. */
const OPERATOR_SETTINGS: Record<string, string[]> = {
  linkedin: ["CHORUS_LINKEDIN_CLIENT_ID", "CHORUS_LINKEDIN_CLIENT_SECRET"],
  x: ["CHORUS_X_CLIENT_ID", "CHORUS_X_CLIENT_SECRET"],
  facebook: ["CHORUS_FACEBOOK_APP_ID", "CHORUS_FACEBOOK_APP_SECRET"],
};

/** The networks whitelist with each network's state and configuration. */
export function Networks() {
  const { t } = useTranslation();
  const networks = useNetworks();
  const inst = useInstance();
  const unverified = inst.data ? !inst.data.verified : false;
  const items = networks.data?.items ?? [];
  const missing = items.filter((n) => n.state === "not_configured");
  return (
    <section id="networks" aria-labelledby="networks-h" className="panel">
      <h2 id="networks-h">{t("Social networks")}</h2>
      <p>{t("Members can connect and share only to the networks allowed here. Whatever is allowed, members can always copy a tracked link, or send it by email or WhatsApp, from the share screen.")}</p>
      {unverified && (
        <p className="notice" id="networks-unverified">
          {t("Allowing a network needs a verified company domain.")} <Link to="/admin/domains">{t("Verify your domain")}</Link>.
        </p>
      )}
      <ErrorMessage error={networks.error ?? inst.error} />
      <DataTable label={t("Social networks and whether members may use them")} columns={[t("Network"), t("State"), t("Settings"), t("Action")]}>
        {items.map((n) => <NetworkRow key={n.name} n={n} unverified={unverified} />)}
      </DataTable>
      {missing.length > 0 && (
        <>
          <h3>{t("Networks not set up on this server")}</h3>
          <p>
            {t("{{networks}} need app credentials that the operator of this Chorus server sets once for every company: they register Chorus with the network, then set these settings and restart it.", {
              networks: missing.map((n) => networkLabel(n.name)).join(", "),
            })}{" "}
            <a href={NETWORK_SETUP_DOCS} target="_blank" rel="noreferrer">{t("How to set up a network")}</a>.
          </p>
          <ul>
            {missing.map((n) => (
              <li key={n.name}>
                {networkLabel(n.name)}: {(OPERATOR_SETTINGS[n.name] ?? []).map((v, i) => <span key={v}>{i > 0 && ", "}<code>{v}</code></span>)}
              </li>
            ))}
          </ul>
        </>
      )}
    </section>
  );
}

const STATE_TEXT: Record<NetworkInfo["state"], string> = {
  allowed: "Allowed",
  not_allowed: "Not allowed",
  not_configured: "Not set up on this server",
};

function NetworkRow({ n, unverified }: { n: NetworkInfo; unverified: boolean }) {
  const { t } = useTranslation();
  const qc = useQueryClient();
  const id = useId();
  const label = networkLabel(n.name);
  const [servers, setServers] = useState((n.config?.allowed_instances ?? []).join("\n"));
  const refresh = () => {
    qc.invalidateQueries({ queryKey: ["networks"] });
    qc.invalidateQueries({ queryKey: ["connections"] });
    qc.invalidateQueries({ queryKey: ["audit"] });
  };
  if (n.state === "not_configured") {
    return (
      <tr>
        <th scope="row">{label}</th>
        <td><span className="state">{t(STATE_TEXT[n.state])}</span></td>
        <td><span className="hint">{t("The server's operator sets it up (see below).")}</span></td>
        <td />
      </tr>
    );
  }
  const allow = useMutation({
    mutationFn: () => {
      const list = servers.split(/[\s,]+/).map((s) => s.trim()).filter(Boolean);
      return call(
        api.PUT("/api/v1/networks/{network}", {
          params: { path: { network: n.name } },
          body: n.federated ? { config: { allowed_instances: list } } : {},
        }),
      );
    },
    onSettled: refresh,
  });
  const disallow = useMutation({
    mutationFn: () => call(api.DELETE("/api/v1/networks/{network}", { params: { path: { network: n.name } } })),
    onSettled: refresh,
  });
  return (
    <tr>
      <th scope="row">{label}</th>
      <td>
        <span className={n.allowed ? "state conn-active" : "state"}>{t(STATE_TEXT[n.state])}</span>
      </td>
      <td>
        {n.federated ? (
          <>
            <label htmlFor={id}>{t("{{network}} servers members may connect (one per line; empty: any)", { network: label })}</label>
            <textarea id={id} rows={2} value={servers} onChange={(e) => setServers(e.target.value)} placeholder="mastodon.social" />
          </>
        ) : (
          <span className="hint">{t("Nothing to set.")}</span>
        )}
      </td>
      <td>
        {(!n.allowed || n.federated) && (
          <button type="button" onClick={() => allow.mutate()} disabled={allow.isPending || unverified} aria-describedby={unverified ? "networks-unverified" : undefined} aria-label={n.allowed ? t("Save {{network}}", { network: label }) : t("Allow {{network}}", { network: label })}>
            {n.allowed ? t("Save") : t("Allow")}
          </button>
        )}{" "}
        {n.allowed && (
          <ConfirmButton
            question={t("Stop allowing {{network}}? Members' queued and scheduled shares to it are cancelled and their {{network}} connections are disabled.", { network: label })}
            confirmLabel={t("Stop allowing {{network}}", { network: label })}
            aria-label={t("Stop allowing {{network}}", { network: label })}
            onConfirm={() => disallow.mutate()}
          >
            {t("Stop allowing")}
          </ConfirmButton>
        )}
        <ErrorMessage error={allow.error ?? disallow.error} />
      </td>
    </tr>
  );
}
