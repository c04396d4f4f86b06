import { useMutation } from "@tanstack/react-query";
import { Link } from "react-router";
import { useTranslation } from "react-i18next";
import { api, call } from "../api/client";
import { PASSWORD_NETWORKS, networkLabel, type Connection } from "../lib/networks";
import { safeHref } from "../lib/session";
import { ErrorMessage } from "./ErrorMessage";

/**
 * Reconnects an account: OAuth networks go to the network's consent page
 * again; app-password networks open the form on the profile page.
 */
export function ReconnectButton({ connection }: { connection: Connection }) {
  const { t } = useTranslation();
  const label = t("Reconnect {{network}} {{handle}}", { network: networkLabel(connection.network), handle: connection.handle });
  const start = useMutation({
    mutationFn: () =>
      call(
        api.POST("/api/v1/connections/{network}/start", {
          params: { path: { network: connection.network } },
          body: connection.instance_url ? { instance_url: connection.instance_url } : {},
        }),
      ),
    onSuccess: (r) => {
      const to = safeHref(r.authorize_url);
      if (to) window.location.assign(to);
    },
  });
  if (PASSWORD_NETWORKS.has(connection.network)) {
    return (
      <Link className="button" to={`/profile?reconnect=${encodeURIComponent(connection.id)}#accounts`} aria-label={label}>
        {t("Reconnect")}
      </Link>
    );
  }
  return (
    <>
      <button type="button" onClick={() => start.mutate()} disabled={start.isPending} aria-label={label}>
        {t("Reconnect")}
      </button>
      <ErrorMessage error={start.error} />
    </>
  );
}
