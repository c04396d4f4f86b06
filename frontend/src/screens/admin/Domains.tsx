import { useTranslation } from "react-i18next";
import { useState } from "react";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { api, call } from "../../api/client";
import { when } from "../../lib/session";
import { ErrorMessage } from "../../components/ErrorMessage";
import { DataTable } from "../../components/Wide";

/** The company's domains and their DNS verification. */
export function Domains() {
  const { t } = useTranslation();
  const qc = useQueryClient();
  const domains = useQuery({ queryKey: ["domains"], queryFn: () => call(api.GET("/api/v1/instance/domains")) });
  const [added, setAdded] = useState("");
  const verify = useMutation({
    mutationFn: (domain: string) => call(api.POST("/api/v1/instance/domains/{domain}/verify", { params: { path: { domain } } })),
    onSettled: () => {
      // A verified domain unlocks SSO settings and the admin's own powers.
      for (const key of ["domains", "instance", "sso", "me"]) qc.invalidateQueries({ queryKey: [key] });
    },
  });
  const add = useMutation({
    mutationFn: () => call(api.POST("/api/v1/instance/domains", { body: { domain: added.trim() } })),
    onSuccess: () => {
      setAdded("");
      qc.invalidateQueries({ queryKey: ["domains"] });
    },
  });
  return (
    <section id="domains" aria-labelledby="domains-h" className="panel">
      <h2 id="domains-h">{t("Domains")}</h2>
      <p>{t("To verify a domain, publish the TXT record shown at your DNS provider, then press Verify.")}</p>
      <ErrorMessage error={domains.error} />
      <DataTable label={t("Domains and their verification")} columns={[t("Domain"), t("State"), t("TXT record"), t("Action")]}>
        {domains.data?.items.map((d) => (
          <tr key={d.domain}>
            <th scope="row">{d.domain}</th>
            <td>
              {d.verified ? t("Verified {{time}}", { time: when(d.verified_at) }) : t("Not verified")}
              {d.record_missing && <> — {t("the record was missing at the last check")}</>}
            </td>
            <td>
              <code className="break">{d.txt.name}</code> {t("TXT")} <code className="break">{d.txt.value}</code>
            </td>
            <td>
              <button type="button" onClick={() => verify.mutate(d.domain)} disabled={verify.isPending} aria-label={t("Verify {{domain}}", { domain: d.domain })}>
                {t("Verify")}
              </button>
            </td>
          </tr>
        ))}
      </DataTable>
      <div role="status" aria-live="polite">{verify.isSuccess && <p className="notice">{t("{{domain}} is verified.", { domain: verify.data.domain })}</p>}</div>
      <ErrorMessage error={verify.error} />
      <form onSubmit={(e) => { e.preventDefault(); add.mutate(); }} className="inline">
        <label htmlFor="add-domain">{t("Add a domain")}</label>
        <input id="add-domain" required value={added} onChange={(e) => setAdded(e.target.value)} placeholder="example.com" />
        <button type="submit" disabled={add.isPending}>{t("Add domain")}</button>
      </form>
      <ErrorMessage error={add.error} />
    </section>
  );
}
