import { useTranslation } from "react-i18next";
import { useId, useState } from "react";
import { useNavigate } from "react-router";
import { useInfiniteQuery, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useForm } from "react-hook-form";
import { api, call, type Role, type Schemas } from "../api/client";
import { ROLE_LABELS, useInstance, useMe, useTopics, when } from "../lib/session";
import { ConfirmButton } from "../components/ConfirmButton";
import { ErrorMessage } from "../components/ErrorMessage";
import { DataTable } from "../components/Wide";
import { SSO } from "./AdminSSO";
import { fromMinor, toMinor } from "../lib/analytics";
import { BulkInvite, DataRequests, Networks, PendingIdentities, SupportGrants } from "./AdminMore";

/** The IANA time zones the browser knows, for the time-zone field. */
function zones(): string[] {
  const f = (Intl as unknown as { supportedValuesOf?: (k: string) => string[] }).supportedValuesOf;
  return f ? f("timeZone") : [];
}

const ROLES: Role[] = ["employee", "curator", "analyst", "admin"];

const INVITATION_STATES: Record<string, string> = { pending: "Pending", accepted: "Accepted", revoked: "Revoked" };


export function Admin() {
  const { t } = useTranslation();
  return (
    <section>
      <h1 tabIndex={-1}>{t("Admin")}</h1>
      <nav aria-label={t("Admin sections")} className="subnav">
        <ul>
          <li><a href="#settings">{t("Settings")}</a></li>
          <li><a href="#domains">{t("Domains")}</a></li>
          <li><a href="#networks">{t("Networks")}</a></li>
          <li><a href="#sso">{t("Single sign-on")}</a></li>
          <li><a href="#topics">{t("Topics")}</a></li>
          <li><a href="#invitations">{t("Invitations")}</a></li>
          <li><a href="#members">{t("Members")}</a></li>
          <li><a href="#identities">{t("Sign-ins waiting")}</a></li>
          <li><a href="#privacy">{t("Data requests")}</a></li>
          <li><a href="#support">{t("Support access")}</a></li>
          <li><a href="#audit">{t("Audit log")}</a></li>
        </ul>
      </nav>
      <Settings />
      <Domains />
      <Networks />
      <SSO />
      <Topics />
      <Invitations />
      <Members />
      <PendingIdentities />
      <DataRequests />
      <SupportGrants />
      <Audit />
    </section>
  );
}

type Instance = Schemas["Instance"];

/** The settings form's fields, as typed (numbers as text until sent). */
export interface SettingsFields {
  name: string;
  message: string;
  retention: string;
  joinPolicy: "open" | "invite" | "sso";
  needApproval: boolean;
  zone: string;
  cpc: string;
  currency: string;
  minGroup: string;
  leaderboard: boolean;
  perShare: string;
  perClick: string;
  /** The weekly digest mail of new content to members; off for "off" only. */
  digest: boolean;
}

export function settingsFields(inst: Instance): SettingsFields {
  const s = inst.settings;
  return {
    name: inst.name,
    message: s.invitation_message ?? "",
    // The API answers the effective settings (defaults filled in).
    retention: String(s.retention_days ?? ""),
    joinPolicy: s.join_policy ?? "open",
    needApproval: s.suggestions_need_approval ?? true,
    zone: s.time_zone ?? "",
    cpc: fromMinor(s.cpc),
    currency: s.cpc?.currency ?? "",
    minGroup: String(s.min_group_size ?? ""),
    leaderboard: s.leaderboard_visible ?? false,
    perShare: String(s.points?.per_share ?? ""),
    perClick: String(s.points?.per_unique_click ?? ""),
    digest: s.digest !== "off",
  };
}

/** The PATCH body of the settings form; empty optional fields left as they are. */
export function settingsBody(f: SettingsFields) {
  const currency = f.currency.trim().toUpperCase();
  const cpc = currency && f.cpc.trim() ? toMinor(f.cpc, currency) : undefined;
  return {
    name: f.name.trim(),
    invitation_message: f.message,
    join_policy: f.joinPolicy,
    suggestions_need_approval: f.needApproval,
    leaderboard_visible: f.leaderboard,
    digest: f.digest ? ("weekly" as const) : ("off" as const),
    ...(f.retention ? { retention_days: Number(f.retention) } : {}),
    ...(f.zone.trim() ? { time_zone: f.zone.trim() } : {}),
    ...(cpc !== undefined ? { cpc: { amount: cpc, currency } } : {}),
    ...(f.minGroup ? { min_group_size: Number(f.minGroup) } : {}),
    ...(f.perShare && f.perClick ? { points: { per_share: Number(f.perShare), per_unique_click: Number(f.perClick) } } : {}),
  };
}

/** The company settings form (admins). */
export function Settings() {
  const { t } = useTranslation();
  const qc = useQueryClient();
  const inst = useInstance();
  // A cost per click once set can be changed, not removed.
  const hasCPC = Boolean(inst.data?.settings.cpc);
  const form = useForm<SettingsFields>({ values: inst.data ? settingsFields(inst.data) : undefined });
  const { register } = form;
  const save = useMutation({
    mutationFn: (f: SettingsFields) => call(api.PATCH("/api/v1/instance/settings", { body: settingsBody(f) })),
    onSuccess: (data) => {
      qc.setQueryData(["instance"], data);
      qc.invalidateQueries({ queryKey: ["me"] });
    },
  });
  return (
    <section id="settings" aria-labelledby="settings-h" className="panel">
      <h2 id="settings-h">{t("Company settings")}</h2>
      <ErrorMessage error={inst.error} />
      {inst.data && (
        <p>
          {inst.data.verified ? t("The company's domain is verified.") : t("The company's domain is not verified yet: invitations wait for that.")}
        </p>
      )}
      <form onSubmit={form.handleSubmit((f) => save.mutate(f))}>
        <label htmlFor="set-name">{t("Company name")}</label>
        <input id="set-name" required maxLength={100} {...register("name", { required: true })} />
        <label htmlFor="set-message">{t("Invitation message")}</label>
        <textarea id="set-message" rows={3} maxLength={2000} {...register("message")} />
        <label htmlFor="set-retention">{t("Keep data for (days)")}</label>
        <input id="set-retention" type="number" min={30} max={3650} required {...register("retention")} />
        <label htmlFor="set-join">{t("Who may join")}</label>
        <select id="set-join" {...register("joinPolicy")}>
          <option value="open">{t("Anyone with a verified company address")}</option>
          <option value="invite">{t("Only invited people")}</option>
          <option value="sso">{t("Single sign-on")}</option>
        </select>
        <label className="check">
          <input type="checkbox" {...register("needApproval")} />
          {t("Suggestions need a curator's approval")}
        </label>
        <label className="check">
          <input type="checkbox" role="switch" aria-describedby="set-digest-hint" {...register("digest")} />
          {t("Weekly digest mail")}
        </label>
        <p id="set-digest-hint" className="hint">
          {t("Once a week, members get a plain-text mail with the newest content. Each member can still opt out in their profile.")}
        </p>
        <fieldset>
          <legend>{t("Analytics")}</legend>
          <label htmlFor="set-zone">{t("Time zone of the analytics days")}</label>
          <input id="set-zone" list="set-zones" placeholder="Europe/Helsinki" required {...register("zone")} />
          <datalist id="set-zones">
            {zones().map((z) => <option key={z} value={z} />)}
          </datalist>
          <div className="row2">
            <div>
              <label htmlFor="set-cpc">{t("Cost per click (prices the earned media value)")}</label>
              <input id="set-cpc" type="number" min={0} step="0.01" placeholder="0.45" required={hasCPC} {...register("cpc")} />
            </div>
            <div>
              <label htmlFor="set-currency">{t("Currency")}</label>
              <input id="set-currency" maxLength={3} placeholder="EUR" required={hasCPC} {...register("currency")} />
            </div>
          </div>
          <label htmlFor="set-min-group">{t("Smallest group shown member by member")}</label>
          <input id="set-min-group" type="number" min={1} max={1000} required {...register("minGroup")} />
          <label className="check">
            <input type="checkbox" {...register("leaderboard")} />
            {t("Members see their rank on the leaderboard")}
          </label>
          <div className="row2">
            <div>
              <label htmlFor="set-per-share">{t("Points per share")}</label>
              <input id="set-per-share" type="number" min={1} max={1000} required {...register("perShare")} />
            </div>
            <div>
              <label htmlFor="set-per-click">{t("Points per unique click")}</label>
              <input id="set-per-click" type="number" min={1} max={1000} required {...register("perClick")} />
            </div>
          </div>
        </fieldset>
        <button type="submit" disabled={save.isPending}>{t("Save settings")}</button>
        <div role="status" aria-live="polite">{save.isSuccess && <p className="notice">{t("Saved.")}</p>}</div>
        <ErrorMessage error={save.error} />
      </form>
    </section>
  );
}

function Domains() {
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

function Topics() {
  const { t } = useTranslation();
  const qc = useQueryClient();
  const topics = useTopics();
  const [name, setName] = useState("");
  const add = useMutation({
    mutationFn: () => call(api.POST("/api/v1/topics", { body: { name: name.trim() } })),
    onSuccess: () => {
      setName("");
      qc.invalidateQueries({ queryKey: ["topics"] });
    },
  });
  const remove = useMutation({
    mutationFn: (id: string) => call(api.DELETE("/api/v1/topics/{id}", { params: { path: { id } } })),
    onSuccess: () => {
      // Posts lose the tag and members stop following it.
      for (const key of ["topics", "me", "feed", "content-admin", "content"]) qc.invalidateQueries({ queryKey: [key] });
    },
  });
  return (
    <section id="topics" aria-labelledby="topics-h" className="panel">
      <h2 id="topics-h">{t("Topics")}</h2>
      <ErrorMessage error={topics.error} />
      <ul className="rows">
        {topics.data?.items.map((tp) => (
          <li key={tp.id}>
            {tp.name}{" "}
            <ConfirmButton
              question={t("Remove the topic “{{topic}}”? Posts lose this tag and members stop following it.", { topic: tp.name })}
              confirmLabel={t("Remove topic")}
              aria-label={t("Remove topic {{topic}}", { topic: tp.name })}
              onConfirm={() => remove.mutate(tp.id)}
            >
              {t("Remove")}
            </ConfirmButton>
          </li>
        ))}
      </ul>
      <ErrorMessage error={remove.error} />
      <form onSubmit={(e) => { e.preventDefault(); add.mutate(); }} className="inline">
        <label htmlFor="add-topic">{t("New topic")}</label>
        <input id="add-topic" required maxLength={60} value={name} onChange={(e) => setName(e.target.value)} />
        <button type="submit" disabled={add.isPending}>{t("Add topic")}</button>
      </form>
      <ErrorMessage error={add.error} />
    </section>
  );
}

function Invitations() {
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

function Members() {
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
  const items = members.data?.pages.flatMap((p) => p.items) ?? [];
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
  return useInfiniteQuery({
    queryKey: ["members"],
    queryFn: ({ pageParam }) =>
      call(api.GET("/api/v1/members", { params: { query: { limit: 100, ...(pageParam ? { cursor: pageParam } : {}) } } })),
    initialPageParam: "",
    getNextPageParam: (last) => last.next_cursor ?? undefined,
  });
}

/** "member.role_changed" → "member role changed". */
export function actionText(action: string) {
  return action.replace(/[._]/g, " ");
}

function Audit() {
  const { t } = useTranslation();
  const audit = useInfiniteQuery({
    queryKey: ["audit"],
    queryFn: ({ pageParam }) =>
      call(api.GET("/api/v1/audit", { params: { query: { limit: 50, ...(pageParam ? { cursor: pageParam } : {}) } } })),
    initialPageParam: "",
    getNextPageParam: (last) => last.next_cursor ?? undefined,
  });
  const items = audit.data?.pages.flatMap((p) => p.items) ?? [];
  const members = useMembers();
  const names = new Map(members.data?.pages.flatMap((p) => p.items).map((m) => [m.id, m.name]) ?? []);
  const who = (a: (typeof items)[number]["actor"]) => {
    if (a.kind === "member" && a.id) return names.get(a.id) ?? t("a former member");
    return a.kind === "operator" ? t("an operator") : t("Chorus");
  };
  return (
    <section id="audit" aria-labelledby="audit-h" className="panel">
      <h2 id="audit-h">{t("Audit log")}</h2>
      <ErrorMessage error={audit.error} />
      {audit.isSuccess && items.length === 0 && <p className="empty">{t("Nothing recorded yet.")}</p>}
      {items.length > 0 && (
        <DataTable label={t("Audit log, newest first")} columns={[t("When"), t("Who"), t("Action"), t("Target"), t("Details")]}>
          {items.map((a) => (
            <tr key={a.id}>
              <td><time dateTime={a.at}>{when(a.at)}</time></td>
              <td>{who(a.actor)}</td>
              <td title={a.action}>{actionText(a.action)}</td>
              <td className="break">{a.target}</td>
              <td className="break">
                {a.details && Object.entries(a.details).map(([k, v]) => `${k}: ${v}`).join("; ")}
              </td>
            </tr>
          ))}
        </DataTable>
      )}
      {audit.hasNextPage && <button type="button" onClick={() => audit.fetchNextPage()}>{t("Load older entries")}</button>}
    </section>
  );
}
