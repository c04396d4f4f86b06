import { useTranslation } from "react-i18next";
import { useId, useState } from "react";
import { useForm } from "react-hook-form";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { api, call, type Schemas } from "../api/client";
import { inviteInBatches, parseEmails, type BatchResult } from "../lib/batches";
import { networkLabel, useNetworks, type NetworkInfo } from "../lib/networks";
import { when } from "../lib/session";
import { ConfirmButton } from "../components/ConfirmButton";
import { ErrorMessage } from "../components/ErrorMessage";
import { FieldError, invalidProps } from "../components/FieldError";
import { DataTable } from "../components/Wide";

/** The networks whitelist with each network's configuration. */
export function Networks() {
  const { t } = useTranslation();
  const networks = useNetworks();
  return (
    <section id="networks" aria-labelledby="networks-h" className="panel">
      <h2 id="networks-h">{t("Social networks")}</h2>
      <p>{t("Members can connect and share only to the networks allowed here. The company's domain must be verified first.")}</p>
      <ErrorMessage error={networks.error} />
      <DataTable label={t("Social networks and whether members may use them")} columns={[t("Network"), t("State"), t("Settings"), t("Action")]}>
        {networks.data?.items?.map((n) => <NetworkRow key={n.name} n={n} />)}
      </DataTable>
    </section>
  );
}

function NetworkRow({ n }: { n: NetworkInfo }) {
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
        <span className={n.allowed ? "state conn-active" : "state"}>{n.allowed ? t("Allowed") : t("Not allowed")}</span>
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
          <button type="button" onClick={() => allow.mutate()} disabled={allow.isPending} aria-label={n.allowed ? t("Save {{network}}", { network: label }) : t("Allow {{network}}", { network: label })}>
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

/** Bulk invitations with progress; the list with resend and revoke is in Admin. */
export function BulkInvite({ onDone }: { onDone: () => void }) {
  const { t } = useTranslation();
  const form = useForm<{ emails: string; message: string }>({ defaultValues: { emails: "", message: "" } });
  const { errors } = form.formState;
  const [progress, setProgress] = useState<{ done: number; total: number }>();
  const invite = useMutation({
    mutationFn: ({ list, message }: { list: string[]; message: string }) =>
      inviteInBatches(
        list,
        (batch) => call(api.POST("/api/v1/invitations", { body: { emails: batch, ...(message.trim() ? { message } : {}) } })),
        (done, total) => setProgress({ done, total }),
      ),
    onSuccess: (r: BatchResult) => {
      form.setValue("emails", r.refused.map((x) => x.email).join("\n"));
      onDone();
    },
    onSettled: onDone,
  });
  const count = parseEmails(form.watch("emails")).length;
  return (
    <form noValidate onSubmit={form.handleSubmit((v) => invite.mutate({ list: parseEmails(v.emails), message: v.message }))}>
      <label htmlFor="inv-emails">{t("Email addresses (one per line or comma-separated; paste a whole list)")}</label>
      <textarea
        id="inv-emails"
        rows={4}
        required
        {...invalidProps("inv-emails-error", errors.emails)}
        {...form.register("emails", {
          validate: (v) => {
            const bad = parseEmails(v).filter((e) => !looksLikeEmail(e));
            return bad.length === 0 || t("Not email addresses: {{list}}.", { list: bad.join(", ") });
          },
        })}
      />
      <FieldError id="inv-emails-error" error={errors.emails} />
      <p className="hint">{t("{{count}} addresses", { count })}</p>
      <label htmlFor="inv-message">{t("Message (optional; instead of the company's invitation message)")}</label>
      <textarea
        id="inv-message"
        rows={2}
        maxLength={2000}
        {...invalidProps("inv-message-error", errors.message)}
        {...form.register("message", { maxLength: { value: 2000, message: t("At most {{n}} characters.", { n: 2000 }) } })}
      />
      <FieldError id="inv-message-error" error={errors.message} />
      <button type="submit" disabled={invite.isPending || count === 0}>
        {t("Invite")}
      </button>
      <div role="status" aria-live="polite">
        {invite.isPending && progress && (
          <p>
            <progress value={progress.done} max={progress.total} aria-label={t("Invitations sent")} />{" "}
            {t("{{done}} of {{total}}", progress)}
          </p>
        )}
        {invite.isSuccess && (
          <p className="notice">
            {t("Invited {{invited}} of {{total}}.", {
              invited: invite.data.invited.length,
              total: invite.data.invited.length + invite.data.refused.length,
            })}
          </p>
        )}
      </div>
      {invite.isSuccess && invite.data.refused.length > 0 && (
        <div className="error" role="alert">
          <p>{t("These addresses were not invited (left in the box to correct):")}</p>
          <ul>
            {invite.data.refused.map((r) => (
              <li key={r.email}>
                {r.email}: {r.reason}
              </li>
            ))}
          </ul>
        </div>
      )}
      <ErrorMessage error={invite.error} />
    </form>
  );
}

/** A plausible email address; the server has the last word. */
function looksLikeEmail(s: string): boolean {
  return /^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(s);
}

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

function Summary({ doc }: { doc: Export }) {
  const { t } = useTranslation();
  const entries = Object.entries(doc.data ?? {});
  return (
    <DataTable label={t("Records per collection")} columns={[t("Collection"), t("Records")]}>
      {doc.manifest.map((m) => {
        const v = entries.find(([k]) => k === m)?.[1];
        const n = Array.isArray(v) ? v.length : v && typeof v === "object" ? 1 : 0;
        return (
          <tr key={m}>
            <th scope="row">{m}</th>
            <td>{n}</td>
          </tr>
        );
      })}
    </DataTable>
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

/** Sign-in identities that wait for an admin: a new SSO subject for a known address. */
export function PendingIdentities() {
  const { t } = useTranslation();
  const qc = useQueryClient();
  const pending = useQuery({ queryKey: ["identities"], queryFn: () => call(api.GET("/api/v1/identities/pending")) });
  const decide = useMutation({
    mutationFn: (v: { member: string; issuer: string; subject: string; approve: boolean }) =>
      call(
        api.POST("/api/v1/members/{id}/identities", {
          params: { path: { id: v.member } },
          body: { issuer: v.issuer, subject: v.subject, approve: v.approve },
        }),
      ),
    onSettled: () => {
      qc.invalidateQueries({ queryKey: ["identities"] });
      qc.invalidateQueries({ queryKey: ["audit"] });
    },
  });
  const items = pending.data?.items ?? [];
  return (
    <section id="identities" aria-labelledby="identities-h" className="panel">
      <h2 id="identities-h">{t("Sign-ins waiting for approval")}</h2>
      <p>
        {t("When someone signs in through single sign-on with the address of a member who signs in otherwise, you decide whether that identity may sign in as the member.")}
      </p>
      <ErrorMessage error={pending.error} />
      {pending.isSuccess && items.length === 0 && <p className="empty">{t("Nobody is waiting.")}</p>}
      {items.length > 0 && (
        <DataTable label={t("Sign-in identities waiting")} columns={[t("Email"), t("Identity provider"), t("Seen"), t("Decision")]}>
            {items.map((i) => {
              const v = { member: i.member_id ?? "", issuer: i.issuer ?? "", subject: i.subject ?? "" };
              return (
                <tr key={`${i.issuer}|${i.subject}`}>
                  <th scope="row">{i.email}</th>
                  <td className="break">
                    {i.issuer} <span className="meta">({i.subject})</span>
                  </td>
                  <td>{when(i.seen_at)}</td>
                  <td>
                    <button type="button" onClick={() => decide.mutate({ ...v, approve: true })} aria-label={t("Approve the sign-in of {{email}}", { email: i.email })}>
                      {t("Approve")}
                    </button>{" "}
                    <ConfirmButton
                      question={t("Refuse this identity for {{email}}? It cannot sign in as them.", { email: i.email })}
                      confirmLabel={t("Refuse")}
                      aria-label={t("Refuse the sign-in of {{email}}", { email: i.email })}
                      onConfirm={() => decide.mutate({ ...v, approve: false })}
                    >
                      {t("Refuse")}
                    </ConfirmButton>
                  </td>
                </tr>
              );
            })}
        </DataTable>
      )}
      <ErrorMessage error={decide.error} />
    </section>
  );
}
