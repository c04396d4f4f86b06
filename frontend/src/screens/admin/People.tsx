import { useTranslation } from "react-i18next";
import { useId, useState } from "react";
import { useNavigate } from "react-router";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useForm } from "react-hook-form";
import { api, call, type Role } from "../../api/client";
import { inviteInBatches, parseEmails, type BatchResult } from "../../lib/batches";
import { ROLE_LABELS, useMe, when } from "../../lib/session";
import { useCursorList } from "../../lib/cursorList";
import { ConfirmButton } from "../../components/ConfirmButton";
import { ErrorMessage } from "../../components/ErrorMessage";
import { FieldError, invalidProps } from "../../components/FieldError";
import { DataTable } from "../../components/Wide";

const ROLES: Role[] = ["employee", "curator", "analyst", "admin"];

const INVITATION_STATES: Record<string, string> = { pending: "Pending", accepted: "Accepted", revoked: "Revoked" };

/** Invitations: bulk invite, then the list with resend and revoke. */
export function Invitations() {
  const { t } = useTranslation();
  const qc = useQueryClient();
  const list = useQuery({ queryKey: ["invitations"], queryFn: () => call(api.GET("/api/v1/invitations")) });
  const refresh = () => qc.invalidateQueries({ queryKey: ["invitations"] });
  const revoke = useMutation({
    mutationFn: (id: string) => call(api.DELETE("/api/v1/invitations/{id}", { params: { path: { id } } })),
    onSettled: refresh,
  });
  const resend = useMutation({
    mutationFn: (id: string) => call(api.POST("/api/v1/invitations/{id}/resend", { params: { path: { id } } })),
    onSettled: refresh,
  });
  return (
    <section id="invitations" aria-labelledby="inv-h" className="panel">
      <h2 id="inv-h">{t("Invitations")}</h2>
      <BulkInvite onDone={refresh} />
      <ErrorMessage error={list.error} />
      {list.data && list.data.items.length > 0 && (
        <DataTable label={t("Invitations sent")} columns={[t("Email"), t("State"), t("Expires"), t("Actions")]}>
          {list.data.items.map((i) => (
            <tr key={i.id}>
              <th scope="row">{i.email}</th>
              <td>{t(INVITATION_STATES[i.state] ?? i.state)}</td>
              <td>{when(i.expires_at)}</td>
              <td>
                {i.state === "pending" && (
                  <>
                    <button type="button" onClick={() => resend.mutate(i.id)} aria-label={t("Resend the invitation to {{email}}", { email: i.email })}>{t("Resend")}</button>{" "}
                    <ConfirmButton question={t("Revoke the invitation to {{email}}? Its link stops working.", { email: i.email })} confirmLabel={t("Revoke")} aria-label={t("Revoke the invitation to {{email}}", { email: i.email })} onConfirm={() => revoke.mutate(i.id)}>
                      {t("Revoke")}
                    </ConfirmButton>
                  </>
                )}
              </td>
            </tr>
          ))}
        </DataTable>
      )}
      <ErrorMessage error={revoke.error ?? resend.error} />
    </section>
  );
}

/** Members and their roles. */
export function Members() {
  const { t } = useTranslation();
  const qc = useQueryClient();
  const me = useMe();
  const members = useMembers();
  const navigate = useNavigate();
  const setRole = useMutation({
    mutationFn: (v: { id: string; role: Role }) =>
      call(api.PATCH("/api/v1/members/{id}", { params: { path: { id: v.id } }, body: { role: v.role } })),
    onSuccess: (_, v) => {
      // An admin who gave up the role loses this console.
      if (v.id !== me.data?.member.id) return;
      qc.invalidateQueries({ queryKey: ["me"] });
      if (v.role !== "admin") navigate("/feed");
    },
    onSettled: () => {
      qc.invalidateQueries({ queryKey: ["members"] });
      qc.invalidateQueries({ queryKey: ["audit"] });
    },
  });
  const remove = useMutation({
    mutationFn: (id: string) => call(api.DELETE("/api/v1/members/{id}", { params: { path: { id } } })),
    onSettled: () => qc.invalidateQueries({ queryKey: ["members"] }),
  });
  const items = members.items;
  return (
    <section id="members" aria-labelledby="members-h" className="panel">
      <h2 id="members-h">{t("Members and roles")}</h2>
      <ErrorMessage error={members.error} />
      <DataTable label={t("Members")} columns={[t("Name"), t("Email"), t("Role"), t("Actions")]}>
        {items.map((m) => (
          <tr key={m.id}>
            <th scope="row">{m.name}{m.title && <span className="meta"> · {m.title}</span>}</th>
            <td>{m.email}</td>
            <td>
              <RoleSelect name={m.name} role={m.role} onChange={(role) => setRole.mutate({ id: m.id, role })} />
            </td>
            <td>
              <Correct id={m.id} name={m.name} title={m.title} />{" "}
              {m.id !== me.data?.member.id && (
                <ConfirmButton question={t("Remove {{name}}? Their sessions end and their data is erased.", { name: m.name })} confirmLabel={t("Remove member")} aria-label={t("Remove {{name}}", { name: m.name })} onConfirm={() => remove.mutate(m.id)}>
                  {t("Remove")}
                </ConfirmButton>
              )}
            </td>
          </tr>
        ))}
      </DataTable>
      {members.hasNextPage && <button type="button" onClick={() => members.fetchNextPage()}>{t("Load more members")}</button>}
      <ErrorMessage error={setRole.error ?? remove.error} />
    </section>
  );
}

/** Rectification: an admin corrects a member's name or title (audited). */
function Correct({ id, name, title }: { id: string; name: string; title: string }) {
  const { t } = useTranslation();
  const qc = useQueryClient();
  const [open, setOpen] = useState(false);
  const uid = useId();
  const form = useForm({ values: { name, title } });
  const save = useMutation({
    mutationFn: (v: { name: string; title: string }) => {
      const body = { ...(v.name.trim() !== name ? { name: v.name.trim() } : {}), ...(v.title.trim() !== title ? { title: v.title.trim() } : {}) };
      return call(api.PATCH("/api/v1/members/{id}", { params: { path: { id } }, body }));
    },
    onSuccess: () => {
      setOpen(false);
      qc.invalidateQueries({ queryKey: ["members"] });
      qc.invalidateQueries({ queryKey: ["audit"] });
    },
  });
  if (!open) {
    return (
      <button type="button" className="secondary" onClick={() => setOpen(true)} aria-label={t("Correct the name or title of {{name}}", { name })}>
        {t("Correct")}
      </button>
    );
  }
  return (
    <form className="correct" onSubmit={form.handleSubmit((v) => save.mutate(v))}>
      <label htmlFor={`${uid}-name`}>{t("Name")}</label>
      <input id={`${uid}-name`} required maxLength={100} {...form.register("name", { required: true })} />
      <label htmlFor={`${uid}-title`}>{t("Job title")}</label>
      <input id={`${uid}-title`} maxLength={100} {...form.register("title")} />
      <button type="submit" disabled={save.isPending}>{t("Save")}</button>{" "}
      <button type="button" className="secondary" onClick={() => setOpen(false)}>{t("Cancel")}</button>
      <ErrorMessage error={save.error} />
    </form>
  );
}

/** A role picker that asks before changing (a demotion takes rights away). */
function RoleSelect({ name, role, onChange }: { name: string; role: Role; onChange: (r: Role) => void }) {
  const { t } = useTranslation();
  const id = useId();
  const [pending, setPending] = useState<Role>();
  return (
    <>
      <label htmlFor={id} className="sr-only">{t("Role of {{name}}", { name })}</label>
      <select id={id} className="role" value={pending ?? role} onChange={(e) => setPending(e.target.value as Role)}>
        {ROLES.map((r) => <option key={r} value={r}>{t(ROLE_LABELS[r])}</option>)}
      </select>
      {pending && pending !== role && (
        <span className="inline-confirm">
          {" "}
          <ConfirmButton className="" question={t("Make {{name}} {{role}}?", { name, role: t(ROLE_LABELS[pending]) })} confirmLabel={t("Change role")} onConfirm={() => { onChange(pending); setPending(undefined); }}>
            {t("Apply")}
          </ConfirmButton>{" "}
          <button type="button" onClick={() => setPending(undefined)}>{t("Undo")}</button>
        </span>
      )}
    </>
  );
}

/** The instance's members, 100 a page (admins). */
function useMembers() {
  return useCursorList(["members"], (page) => call(api.GET("/api/v1/members", { params: { query: { limit: 100, ...page } } })));
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
export function looksLikeEmail(s: string): boolean {
  return /^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(s);
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
