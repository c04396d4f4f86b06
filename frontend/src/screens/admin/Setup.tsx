import { useState } from "react";
import { useTranslation } from "react-i18next";
import { Link } from "react-router";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { api, call } from "../../api/client";
import { useNetworks } from "../../lib/networks";
import { useInstance } from "../../lib/session";
import { ErrorMessage } from "../../components/ErrorMessage";

/** One step of the set-up checklist: done or not, and where to do it. */
export interface SetupStep {
  id: string;
  label: string;
  done: boolean;
  /** Says what was found (done) or what to do (not done). */
  detail: string;
  to: string;
  action: string;
}

/** What the checklist is computed from: the instance's own data. */
export interface SetupFacts {
  verified: boolean;
  allowed: string[];
  invitations: number;
  members: number;
  posts: number;
}

/** The set-up checklist of a company: domain, networks, people, first post. */
export function setupSteps(f: SetupFacts, t: (s: string, o?: Record<string, unknown>) => string): SetupStep[] {
  return [
    {
      id: "domain",
      label: t("Verify the company's domain"),
      done: f.verified,
      detail: f.verified ? t("Verified.") : t("Publish the TXT record at your DNS provider, then press Verify. Networks and company-wide analytics wait for it."),
      to: "/admin/domains",
      action: t("Verify a domain"),
    },
    {
      id: "networks",
      label: t("Allow social networks"),
      done: f.allowed.length > 0,
      detail: f.allowed.length > 0 ? t("Allowed: {{networks}}.", { networks: f.allowed.join(", ") }) : t("No network is allowed yet: members can only copy tracked links."),
      to: "/admin/networks",
      action: t("Allow a network"),
    },
    {
      id: "people",
      label: t("Invite colleagues"),
      done: f.invitations > 0 || f.members > 1,
      detail:
        f.invitations > 0 || f.members > 1
          ? t("{{invitations}} invited, {{members}} members.", { invitations: f.invitations, members: f.members })
          : t("Nobody is invited yet."),
      to: "/admin/people",
      action: t("Invite people"),
    },
    {
      id: "post",
      label: t("Post the first content"),
      done: f.posts > 0,
      detail: f.posts > 0 ? t("The feed has content.") : t("The feed is empty: post something worth sharing."),
      to: "/post",
      action: t("Write the first post"),
    },
  ];
}

/**
 * Where the company's data is stored. While the instance is pending its
 * admin picks the region (the data moves at once); afterwards only the
 * operator moves it.
 */
export function DataRegion() {
  const { t } = useTranslation();
  const qc = useQueryClient();
  const inst = useInstance();
  const [picked, setPicked] = useState("");
  const save = useMutation({
    mutationFn: (region: string) => call(api.PATCH("/api/v1/instance/settings", { body: { region } })),
    onSuccess: (data) => {
      qc.setQueryData(["instance"], data);
      setPicked("");
    },
  });
  if (!inst.data) return null;
  const { region, regions, verified } = inst.data;
  const canPick = !verified && (regions ?? []).length > 1;
  return (
    <div id="data-region" role="group" aria-labelledby="data-region-h">
      <h3 id="data-region-h">{t("Where your data is stored")}</h3>
      <p>{t("Your company's data is stored in the region {{region}}.", { region })}</p>
      {canPick ? (
        <form
          onSubmit={(e) => {
            e.preventDefault();
            if (picked && picked !== region) save.mutate(picked);
          }}
        >
          <label htmlFor="data-region-select">{t("Region")}</label>
          <select id="data-region-select" value={picked || region} onChange={(e) => setPicked(e.target.value)}>
            {(regions ?? []).map((r) => (
              <option key={r} value={r}>
                {r}
              </option>
            ))}
          </select>
          <p className="hint">{t("Pick it before verifying your domain: afterwards only the operator can move the data.")}</p>
          <button type="submit" disabled={save.isPending || !picked || picked === region}>
            {save.isPending ? t("Moving the data…") : t("Store the data there")}
          </button>
          <ErrorMessage error={save.error} />
        </form>
      ) : (
        verified && <p className="hint">{t("To move it to another region, ask the operator of this deployment.")}</p>
      )}
    </div>
  );
}

/**
 * The admin console's first page: the set-up checklist. Its own query
 * keys: the feed's and the members' caches hold pages of another shape.
 */
export function Setup() {
  const { t } = useTranslation();
  const inst = useInstance();
  const networks = useNetworks();
  const invitations = useQuery({ queryKey: ["invitations"], queryFn: () => call(api.GET("/api/v1/invitations")) });
  const members = useQuery({ queryKey: ["setup", "members"], queryFn: () => call(api.GET("/api/v1/members", { params: { query: { limit: 2 } } })) });
  const posts = useQuery({ queryKey: ["setup", "first-post"], queryFn: () => call(api.GET("/api/v1/content", { params: { query: { limit: 1 } } })) });
  const error = inst.error ?? networks.error ?? invitations.error ?? members.error ?? posts.error;
  const ready = inst.data && networks.data && invitations.data && members.data && posts.data;
  const steps = ready
    ? setupSteps(
        {
          verified: inst.data!.verified,
          allowed: (networks.data!.items ?? []).filter((n) => n.state === "allowed").map((n) => n.name),
          invitations: invitations.data!.items.length,
          members: members.data!.items.length,
          posts: posts.data!.items.length,
        },
        t,
      )
    : [];
  const done = steps.filter((s) => s.done).length;
  return (
    <section id="setup" aria-labelledby="setup-h" className="panel">
      <h2 id="setup-h">{t("Set-up checklist")}</h2>
      <ErrorMessage error={error} />
      {!ready && !error && <p role="status">{t("Loading…")}</p>}
      {ready && (
        <>
          <p>{done === steps.length ? t("All set: your company is ready to share.") : t("{{done}} of {{total}} done.", { done, total: steps.length })}</p>
          <ol className="checklist">
            {steps.map((s) => (
              <li key={s.id} className={s.done ? "done" : "todo"}>
                <strong>
                  <span aria-hidden="true">{s.done ? "✓ " : "○ "}</span>
                  {s.label}
                  <span className="sr-only">{s.done ? t(" (done)") : t(" (to do)")}</span>
                </strong>
                <br />
                <span className="hint">{s.detail}</span>{" "}
                {!s.done && <Link to={s.to}>{s.action}</Link>}
              </li>
            ))}
          </ol>
        </>
      )}
      <DataRegion />
    </section>
  );
}
