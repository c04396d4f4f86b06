import { useTranslation } from "react-i18next";
import { useState } from "react";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { api, call, type Schemas } from "../../api/client";
import { ConfirmButton } from "../../components/ConfirmButton";
import { ErrorMessage } from "../../components/ErrorMessage";
import { useInstance } from "../../lib/session";

type Group = Schemas["Group"];
type Rule = Schemas["GroupRule"];

/** The instance's groups, for the admin screen and the audience picker. */
export function useGroups(enabled = true) {
  return useQuery({ queryKey: ["groups"], queryFn: () => call(api.GET("/api/v1/groups")), enabled });
}

/** "Sales, Inside sales" → ["Sales", "Inside sales"]. */
export function splitValues(s: string): string[] {
  return s
    .split(",")
    .map((v) => v.trim())
    .filter((v) => v !== "");
}

/** The rules of a form's value fields: one per attribute with values. */
export function rulesOf(values: Record<string, string>): Rule[] {
  const rules: Rule[] = [];
  for (const [attribute, text] of Object.entries(values)) {
    const vs = splitValues(text);
    if (vs.length > 0) rules.push({ attribute: attribute as Rule["attribute"], values: vs });
  }
  return rules;
}

const ATTRIBUTES: Rule["attribute"][] = ["department", "location"];

function valuesOf(g?: Group): Record<string, string> {
  const out: Record<string, string> = {};
  for (const a of ATTRIBUTES) out[a] = g?.rules.find((r) => r.attribute === a)?.values.join(", ") ?? "";
  return out;
}

/** The fields of a group's name and rules. */
function GroupFields({ id, name, setName, values, setValues }: {
  id: string;
  name: string;
  setName: (s: string) => void;
  values: Record<string, string>;
  setValues: (v: Record<string, string>) => void;
}) {
  const { t } = useTranslation();
  return (
    <>
      <label htmlFor={`${id}-name`}>{t("Group name")}</label>
      <input id={`${id}-name`} required maxLength={80} value={name} onChange={(e) => setName(e.target.value)} />
      {ATTRIBUTES.map((a) => (
        <span key={a}>
          <label htmlFor={`${id}-${a}`}>{a === "department" ? t("Departments (comma-separated)") : t("Locations (comma-separated)")}</label>
          <input id={`${id}-${a}`} value={values[a]} onChange={(e) => setValues({ ...values, [a]: e.target.value })} />
        </span>
      ))}
    </>
  );
}

/** One group: its rules, edited in place, its members, and removal. */
function GroupRow({ group }: { group: Group }) {
  const { t } = useTranslation();
  const qc = useQueryClient();
  const [editing, setEditing] = useState(false);
  const [name, setName] = useState(group.name);
  const [values, setValues] = useState(valuesOf(group));
  const [member, setMember] = useState("");
  const path = { params: { path: { id: group.id } } };
  const done = () => {
    for (const key of ["groups", "group-members"]) qc.invalidateQueries({ queryKey: [key] });
  };
  const save = useMutation({
    mutationFn: () => call(api.PATCH("/api/v1/groups/{id}", { ...path, body: { name: name.trim(), rules: rulesOf(values) } })),
    onSuccess: () => {
      setEditing(false);
      done();
    },
  });
  const remove = useMutation({ mutationFn: () => call(api.DELETE("/api/v1/groups/{id}", path)), onSuccess: done });
  const members = useQuery({
    queryKey: ["group-members", group.id],
    queryFn: () => call(api.GET("/api/v1/groups/{id}/members", { params: { path: { id: group.id }, query: { limit: 100 } } })),
  });
  const everyone = useQuery({ queryKey: ["members", "all"], queryFn: () => call(api.GET("/api/v1/members", { params: { query: { limit: 100 } } })) });
  const add = useMutation({
    mutationFn: (m: string) => call(api.PUT("/api/v1/groups/{id}/members/{member}", { params: { path: { id: group.id, member: m } } })),
    onSuccess: () => {
      setMember("");
      done();
    },
  });
  const drop = useMutation({
    mutationFn: (m: string) => call(api.DELETE("/api/v1/groups/{id}/members/{member}", { params: { path: { id: group.id, member: m } } })),
    onSuccess: done,
  });
  const rules = group.rules.map((r) => `${t(r.attribute)}: ${r.values.join(", ")}`).join("; ");
  return (
    <li>
      {editing ? (
        <form onSubmit={(e) => { e.preventDefault(); save.mutate(); }} className="inline" aria-label={t("Edit group {{group}}", { group: group.name })}>
          <GroupFields id={`g-${group.id}`} name={name} setName={setName} values={values} setValues={setValues} />
          <button type="submit" disabled={save.isPending}>{t("Save group")}</button>
          <button type="button" onClick={() => setEditing(false)}>{t("Cancel")}</button>
          <ErrorMessage error={save.error} />
        </form>
      ) : (
        <>
          <strong>{group.name}</strong> — {rules || t("members added by hand only")}{" "}
          <button type="button" onClick={() => setEditing(true)} aria-label={t("Edit group {{group}}", { group: group.name })}>{t("Edit")}</button>{" "}
          <ConfirmButton
            question={t("Remove the group “{{group}}”? Content aimed only at it is then seen by curators and admins only.", { group: group.name })}
            confirmLabel={t("Remove group")}
            aria-label={t("Remove group {{group}}", { group: group.name })}
            onConfirm={() => remove.mutate()}
          >
            {t("Remove")}
          </ConfirmButton>
        </>
      )}
      <ErrorMessage error={remove.error} />
      <details>
        <summary>{t("{{count}} members", { count: members.data?.items.length ?? 0 })}</summary>
        <ul className="rows">
          {members.data?.items.map((m) => (
            <li key={m.id}>
              {m.name} ({m.email}) — {m.by_rules ? t("by rules") : t("by hand")}
              {m.by_hand && (
                <button type="button" onClick={() => drop.mutate(m.id)} aria-label={t("Take {{name}} out of {{group}}", { name: m.name, group: group.name })}>
                  {t("Take out")}
                </button>
              )}
            </li>
          ))}
        </ul>
        <form onSubmit={(e) => { e.preventDefault(); if (member) add.mutate(member); }} className="inline">
          <label htmlFor={`add-${group.id}`}>{t("Add a member by hand")}</label>
          <select id={`add-${group.id}`} value={member} onChange={(e) => setMember(e.target.value)}>
            <option value="">{t("Choose a member")}</option>
            {everyone.data?.items.map((m) => (
              <option key={m.id} value={m.id}>{m.name}</option>
            ))}
          </select>
          <button type="submit" disabled={!member || add.isPending}>{t("Add to group")}</button>
        </form>
        <ErrorMessage error={add.error ?? drop.error} />
      </details>
    </li>
  );
}

/** The CSV import of attributes and memberships, with its per-row errors. */
function ImportCSV() {
  const { t } = useTranslation();
  const qc = useQueryClient();
  const [csv, setCSV] = useState("");
  const run = useMutation({
    mutationFn: () => call(api.POST("/api/v1/groups/import", { body: { csv } })),
    onSuccess: () => {
      setCSV("");
      for (const key of ["groups", "group-members"]) qc.invalidateQueries({ queryKey: [key] });
    },
  });
  return (
    <form onSubmit={(e) => { e.preventDefault(); run.mutate(); }}>
      <h3>{t("Import from CSV")}</h3>
      <p className="hint">{t("A header row with email and one or more of department, location, group. Every row is checked first: nothing is written if any row is wrong.")}</p>
      <label htmlFor="groups-csv-file">{t("CSV file")}</label>
      <input
        id="groups-csv-file"
        type="file"
        accept=".csv,text/csv"
        onChange={(e) => {
          const f = e.target.files?.[0];
          if (f) void f.text().then(setCSV);
        }}
      />
      <label htmlFor="groups-csv">{t("CSV")}</label>
      <textarea id="groups-csv" rows={5} value={csv} onChange={(e) => setCSV(e.target.value)} placeholder="email,department,location,group" />
      <button type="submit" disabled={!csv.trim() || run.isPending}>{t("Import")}</button>
      {run.data && <p role="status">{t("Imported {{rows}} rows; {{members}} members changed.", { rows: run.data.rows, members: run.data.members })}</p>}
      <ErrorMessage error={run.error} />
    </form>
  );
}

/** An admin sets one member's attributes (the rules then place them). */
function MemberAttributes() {
  const { t } = useTranslation();
  const qc = useQueryClient();
  const everyone = useQuery({ queryKey: ["members", "all"], queryFn: () => call(api.GET("/api/v1/members", { params: { query: { limit: 100 } } })) });
  const [member, setMember] = useState("");
  // null until the admin edits: the fields show the member's attributes.
  const [attrs, setAttrs] = useState<Record<string, string> | null>(null);
  const current = useQuery({
    queryKey: ["member-audience", member],
    queryFn: () => call(api.GET("/api/v1/members/{id}/audience", { params: { path: { id: member } } })),
    enabled: member !== "",
  });
  const save = useMutation({
    mutationFn: () => call(api.PUT("/api/v1/members/{id}/attributes", { params: { path: { id: member } }, body: { attributes: shown } })),
    onSuccess: () => {
      setAttrs(null);
      for (const key of ["member-audience", "group-members"]) qc.invalidateQueries({ queryKey: [key] });
    },
  });
  const pick = (id: string) => {
    setMember(id);
    setAttrs(null);
    save.reset();
  };
  const stored = current.data?.attributes ?? {};
  const shown: Record<string, string> = attrs ?? { department: stored.department ?? "", location: stored.location ?? "" };
  return (
    <form onSubmit={(e) => { e.preventDefault(); save.mutate(); }} className="inline">
      <h3>{t("A member's attributes")}</h3>
      <label htmlFor="attrs-member">{t("Member")}</label>
      <select id="attrs-member" value={member} onChange={(e) => pick(e.target.value)}>
        <option value="">{t("Choose a member")}</option>
        {everyone.data?.items.map((m) => (
          <option key={m.id} value={m.id}>{m.name}</option>
        ))}
      </select>
      {ATTRIBUTES.map((a) => (
        <span key={a}>
          <label htmlFor={`attrs-${a}`}>{a === "department" ? t("Department") : t("Location")}</label>
          <input id={`attrs-${a}`} maxLength={100} disabled={!member} value={shown[a] ?? ""} onChange={(e) => setAttrs({ ...shown, [a]: e.target.value })} />
        </span>
      ))}
      <button type="submit" disabled={!member || save.isPending}>{t("Save attributes")}</button>
      {current.data && (
        <p className="hint" role="status">
          {current.data.groups.length === 0
            ? t("In no group.")
            : t("In: {{groups}}", { groups: current.data.groups.map((g) => g.name).join(", ") })}
        </p>
      )}
      <ErrorMessage error={save.error ?? current.error} />
    </form>
  );
}

/** Which ID token claims give the members' attributes at sign-in. */
function ClaimsForm({ current }: { current?: Record<string, string> }) {
  const { t } = useTranslation();
  const qc = useQueryClient();
  const [claims, setClaims] = useState<Record<string, string>>(() => ({ department: current?.department ?? "", location: current?.location ?? "" }));
  const save = useMutation({
    mutationFn: () => call(api.PUT("/api/v1/instance/attribute-claims", { body: { attribute_claims: claims } })),
    onSuccess: () => qc.invalidateQueries({ queryKey: ["instance"] }),
  });
  return (
    <form onSubmit={(e) => { e.preventDefault(); save.mutate(); }} className="inline">
      <h3>{t("Attributes from single sign-on")}</h3>
      {ATTRIBUTES.map((a) => (
        <span key={a}>
          <label htmlFor={`claim-${a}`}>{a === "department" ? t("Claim giving the department") : t("Claim giving the location")}</label>
          <input id={`claim-${a}`} value={claims[a]} onChange={(e) => setClaims({ ...claims, [a]: e.target.value })} maxLength={100} />
        </span>
      ))}
      <button type="submit" disabled={save.isPending}>{t("Save claims")}</button>
      {save.isSuccess && <p role="status">{t("Saved.")}</p>}
      <ErrorMessage error={save.error} />
    </form>
  );
}

/** Admin → Groups: audiences curators aim content at. */
export function Groups() {
  const { t } = useTranslation();
  const qc = useQueryClient();
  const groups = useGroups();
  const instance = useInstance();
  const [name, setName] = useState("");
  const [values, setValues] = useState(valuesOf());
  const add = useMutation({
    mutationFn: () => call(api.POST("/api/v1/groups", { body: { name: name.trim(), rules: rulesOf(values) } })),
    onSuccess: () => {
      setName("");
      setValues(valuesOf());
      qc.invalidateQueries({ queryKey: ["groups"] });
    },
  });
  return (
    <section id="groups" aria-labelledby="groups-h" className="panel">
      <h2 id="groups-h">{t("Groups")}</h2>
      <p className="hint">
        {t("Curators aim content at groups; members see only what is aimed at everyone or at one of their groups. A member is in a group when every rule holds (a value in the list), or when you add them by hand.")}
      </p>
      <ErrorMessage error={groups.error} />
      <ul className="rows">
        {groups.data?.items.map((g) => <GroupRow key={g.id} group={g} />)}
      </ul>
      <form onSubmit={(e) => { e.preventDefault(); add.mutate(); }} className="inline" aria-label={t("New group")}>
        <h3>{t("New group")}</h3>
        <GroupFields id="new-group" name={name} setName={setName} values={values} setValues={setValues} />
        <button type="submit" disabled={add.isPending}>{t("Add group")}</button>
      </form>
      <ErrorMessage error={add.error} />
      <MemberAttributes />
      <ImportCSV />
      {instance.data && <ClaimsForm current={instance.data.settings?.attribute_claims} />}
    </section>
  );
}
