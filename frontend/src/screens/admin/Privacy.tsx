import { useTranslation } from "react-i18next";
import { useState } from "react";
import { useForm } from "react-hook-form";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { api, call, type Schemas } from "../../api/client";
import { when } from "../../lib/session";
import { ConfirmButton } from "../../components/ConfirmButton";
import { ErrorMessage } from "../../components/ErrorMessage";
import { FieldError, invalidProps } from "../../components/FieldError";
import { DataTable } from "../../components/Wide";
import { looksLikeEmail } from "./People";

type Export = Schemas["Export"];

/** Data-subject requests: look a person up by email, export, erase. */
export function DataRequests() {
  const { t } = useTranslation();
  const qc = useQueryClient();
  const form = useForm<{ email: string }>({ defaultValues: { email: "" } });
  const emailError = form.formState.errors.email;
  const [deletePosts, setDeletePosts] = useState(false);
  const lookup = useMutation({
    mutationFn: (address: string) => call(api.GET("/api/v1/privacy/subjects", { params: { query: { email: address } } })),
  });
  const erase = useMutation({
    mutationFn: (address: string) =>
      call(api.POST("/api/v1/privacy/subjects/erase", { body: { email: address, delete_published_posts: deletePosts } })),
    onSuccess: () => {
      lookup.reset();
      qc.invalidateQueries({ queryKey: ["members"] });
      qc.invalidateQueries({ queryKey: ["audit"] });
    },
  });
  const found = lookup.data;
  const who = lookup.variables ?? "";
  return (
    <section id="privacy" aria-labelledby="privacy-h" className="panel">
      <h2 id="privacy-h">{t("Data-subject requests")}</h2>
      <p>{t("When someone asks what Chorus stores about them, or to be erased, look them up by email. Each lookup is audited.")}</p>
      <form
        className="inline"
        noValidate
        onSubmit={form.handleSubmit((v) => {
          erase.reset();
          lookup.mutate(v.email.trim());
        })}
      >
        <label htmlFor="dsr-email">{t("Email address")}</label>
        <input
          id="dsr-email"
          type="email"
          required
          {...invalidProps("dsr-email-error", emailError)}
          {...form.register("email", {
            validate: (v) =>
              !v.trim() ? t("Enter the person's email address.") : looksLikeEmail(v.trim()) || t("That is not an email address."),
          })}
        />
        <button type="submit" disabled={lookup.isPending}>
          {t("Look up")}
        </button>
      </form>
      <FieldError id="dsr-email-error" error={emailError} />
      <ErrorMessage error={lookup.error} />
      {found && (
        <div>
          <h3>{t("What Chorus stores about {{email}}", { email: who })}</h3>
          <Summary doc={found} />
          <p>
            <a href={blobURL(found)} download={`chorus-subject-${who}.json`}>
              {t("Download it (JSON)")}
            </a>
          </p>
          <label className="check">
            <input type="checkbox" checked={deletePosts} onChange={(e) => setDeletePosts(e.target.checked)} />
            {t("Also delete their published posts at the social networks")}
          </label>
          <ConfirmButton
            question={
              deletePosts
                ? t("Erase {{email}} from this company? Their account, connections, shares and choices are erased, and their posts deleted at the networks. This cannot be undone.", { email: who })
                : t("Erase {{email}} from this company? Their account, connections, shares and choices are erased. This cannot be undone.", { email: who })
            }
            confirmLabel={t("Erase")}
            aria-label={t("Erase this person: {{email}}", { email: who })}
            onConfirm={() => erase.mutate(who)}
          >
            {t("Erase this person")}
          </ConfirmButton>
        </div>
      )}
      <div role="status" aria-live="polite">
        {erase.isSuccess && <p className="notice">{t("{{email}} is erased.", { email: erase.variables })}</p>}
      </div>
      <ErrorMessage error={erase.error} />
    </section>
  );
}

/** "analytics_rollups" → "analytics rollups". */
function partText(part: string) {
  return part.replace(/_/g, " ");
}

/** How many records each part of the export holds, as the server counted them; parts with records first. */
export function Summary({ doc }: { doc: Export }) {
  const { t } = useTranslation();
  const parts = Object.entries(doc.counts ?? {}).sort(([a, x], [b, y]) => Number(y > 0) - Number(x > 0) || a.localeCompare(b));
  const total = parts.reduce((n, [, c]) => n + c, 0);
  return (
    <>
      <p>{t("{{count}} records in {{parts}} parts; {{searched}} collections searched.", { count: total, parts: parts.filter(([, c]) => c > 0).length, searched: doc.manifest.length })}</p>
      <DataTable label={t("Records per part of the export")} columns={[t("Part"), t("Records")]}>
        {parts.map(([part, n]) => (
          <tr key={part}>
            <th scope="row">{partText(part)}</th>
            <td>{n}</td>
          </tr>
        ))}
      </DataTable>
    </>
  );
}

const urls = new WeakMap<object, string>();
/** An object URL for a JSON document (made once per document). */
function blobURL(doc: object): string {
  let u = urls.get(doc);
  if (!u) {
    u = URL.createObjectURL(new Blob([JSON.stringify(doc, null, 2)], { type: "application/json" }));
    urls.set(doc, u);
  }
  return u;
}

/** Time-limited operator access, granted and revoked by admins. */
export function SupportGrants() {
  const { t } = useTranslation();
  const qc = useQueryClient();
  const grants = useQuery({ queryKey: ["support-grants"], queryFn: () => call(api.GET("/api/v1/instance/support-grants")) });
  const form = useForm<{ hours: string; reason: string }>({ defaultValues: { hours: "4", reason: "" } });
  const { errors } = form.formState;
  const refresh = () => {
    qc.invalidateQueries({ queryKey: ["support-grants"] });
    qc.invalidateQueries({ queryKey: ["audit"] });
  };
  const grant = useMutation({
    mutationFn: (v: { hours: string; reason: string }) =>
      call(api.POST("/api/v1/instance/support-grants", { body: { hours: Number(v.hours), reason: v.reason.trim() } })),
    onSuccess: () => {
      form.resetField("reason");
      refresh();
    },
  });
  const revoke = useMutation({
    mutationFn: (id: string) => call(api.DELETE("/api/v1/instance/support-grants/{id}", { params: { path: { id } } })),
    onSettled: refresh,
  });
  const items = grants.data?.items ?? [];
  const now = Date.now();
  return (
    <section id="support" aria-labelledby="support-h" className="panel">
      <h2 id="support-h">{t("Support access")}</h2>
      <p>{t("Operators see nothing of this company unless you grant them access for a while. Every grant and use is audited.")}</p>
      <form noValidate onSubmit={form.handleSubmit((v) => grant.mutate(v))}>
        <label htmlFor="grant-hours">{t("Hours (1 to 72)")}</label>
        <input
          id="grant-hours"
          type="number"
          min={1}
          max={72}
          required
          {...invalidProps("grant-hours-error", errors.hours)}
          {...form.register("hours", {
            validate: (v) => (/^\d+$/.test(v.trim()) && Number(v) >= 1 && Number(v) <= 72) || t("Give whole hours from 1 to 72."),
          })}
        />
        <FieldError id="grant-hours-error" error={errors.hours} />
        <label htmlFor="grant-reason">{t("Reason")}</label>
        <input
          id="grant-reason"
          required
          maxLength={500}
          {...invalidProps("grant-reason-error", errors.reason)}
          {...form.register("reason", {
            validate: (v) => v.trim() !== "" || t("Say why support needs access: the reason is audited."),
            maxLength: { value: 500, message: t("At most {{n}} characters.", { n: 500 }) },
          })}
        />
        <FieldError id="grant-reason-error" error={errors.reason} />
        <button type="submit" disabled={grant.isPending}>
          {t("Grant access")}
        </button>
      </form>
      <ErrorMessage error={grant.error ?? grants.error} />
      {grants.isSuccess && items.length === 0 && <p className="empty">{t("No grants.")}</p>}
      {items.length > 0 && (
        <DataTable label={t("Support grants, newest first")} columns={[t("Reason"), t("Until"), t("State"), t("Action")]}>
          {items.map((g) => {
            const live = !g.revoked && g.expires_at && new Date(g.expires_at).getTime() > now;
            return (
              <tr key={g.id}>
                <th scope="row">{g.reason}</th>
                <td>{when(g.expires_at)}</td>
                <td>{g.revoked ? t("Revoked") : live ? t("Active") : t("Expired")}</td>
                <td>
                  {live && g.id && (
                    <ConfirmButton
                      question={t("Revoke this support access now?")}
                      confirmLabel={t("Revoke")}
                      aria-label={t("Revoke the support access “{{reason}}”", { reason: g.reason })}
                      onConfirm={() => revoke.mutate(g.id!)}
                    >
                      {t("Revoke")}
                    </ConfirmButton>
                  )}
                </td>
              </tr>
            );
          })}
        </DataTable>
      )}
      <ErrorMessage error={revoke.error} />
    </section>
  );
}
