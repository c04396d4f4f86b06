import { useId, useState } from "react";
import { Link, useParams } from "react-router";
import { useTranslation } from "react-i18next";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { api, call } from "../api/client";
import {
  blankCampaign,
  campaignBody,
  campaignFormError,
  type Campaign,
  type CampaignFields,
} from "../lib/campaigns";
import { localToISO, timeZone } from "../lib/networks";
import { useCursorList } from "../lib/cursorList";
import { toLocal } from "./PostContent";
import { CampaignProgress } from "../components/CampaignProgress";
import { ConfirmButton } from "../components/ConfirmButton";
import { ErrorMessage } from "../components/ErrorMessage";
import { MoreOnScroll } from "../components/MoreOnScroll";

/** A campaign's window, in the viewer's time zone. */
function windowOf(c: Campaign): string {
  return `${new Date(c.start).toLocaleString()} – ${new Date(c.end).toLocaleString()}`;
}

function StatusBadge({ status }: { status: Campaign["status"] }) {
  const { t } = useTranslation();
  const label = { scheduled: t("Scheduled"), active: t("Active"), ended: t("Ended"), archived: t("Archived") }[status];
  return <span className={"state state-campaign-" + status}>{label}</span>;
}

/** The campaign form: name, description, window and goal. */
export function CampaignForm({
  initial,
  submitLabel,
  pending,
  onSubmit,
}: {
  initial: CampaignFields;
  submitLabel: string;
  pending: boolean;
  onSubmit: (f: CampaignFields) => void;
}) {
  const { t } = useTranslation();
  const id = useId();
  const [f, setF] = useState<CampaignFields>(initial);
  const set = (k: keyof CampaignFields) => (e: { target: { value: string } }) => setF({ ...f, [k]: e.target.value });
  const problem = campaignFormError(f);
  return (
    <form
      className="panel"
      onSubmit={(e) => {
        e.preventDefault();
        if (!problem) onSubmit(f);
      }}
    >
      <label htmlFor={`${id}-name`}>{t("Name")}</label>
      <input id={`${id}-name`} required maxLength={120} value={f.name} onChange={set("name")} />
      <label htmlFor={`${id}-description`}>{t("What members should do")}</label>
      <textarea id={`${id}-description`} rows={2} maxLength={2000} value={f.description} onChange={set("description")} />
      <fieldset>
        <legend>{t("When ({{zone}})", { zone: timeZone() })}</legend>
        <label htmlFor={`${id}-start`}>{t("Start")}</label>
        <input id={`${id}-start`} type="datetime-local" required value={f.start} onChange={set("start")} />
        <label htmlFor={`${id}-end`}>{t("End")}</label>
        <input id={`${id}-end`} type="datetime-local" required value={f.end} onChange={set("end")} aria-invalid={problem === "end"} />
        {problem === "end" && (
          <p className="error" role="alert">
            {t("The end must be after the start.")}
          </p>
        )}
      </fieldset>
      <fieldset>
        <legend>{t("Goal")}</legend>
        <label htmlFor={`${id}-metric`}>{t("Count")}</label>
        <select id={`${id}-metric`} value={f.metric} onChange={set("metric")}>
          <option value="shares">{t("Shares")}</option>
          <option value="clicks">{t("Clicks")}</option>
        </select>
        <label htmlFor={`${id}-target`}>{t("Target")}</label>
        <input id={`${id}-target`} type="number" min={1} step={1} required value={f.target} onChange={set("target")} aria-invalid={problem === "target"} />
        {problem === "target" && (
          <p className="error" role="alert">
            {t("The target must be a whole number of at least 1.")}
          </p>
        )}
      </fieldset>
      <button type="submit" disabled={pending || problem !== ""}>
        {submitLabel}
      </button>
    </form>
  );
}

/** Curators' campaigns: the live (or archived) ones with their progress, and a form for a new one. */
export function Campaigns() {
  const { t } = useTranslation();
  const qc = useQueryClient();
  const [archived, setArchived] = useState(false);
  const [formKey, setFormKey] = useState(0);
  const list = useCursorList(["campaigns", "list", { archived }], (page) =>
    call(api.GET("/api/v1/campaigns", { params: { query: { limit: 20, ...(archived ? { archived: "1" as const } : {}), ...page } } })),
  );
  const create = useMutation({
    mutationFn: (f: CampaignFields) => call(api.POST("/api/v1/campaigns", { body: campaignBody(f, localToISO) })),
    onSuccess: () => {
      setFormKey((k) => k + 1);
      qc.invalidateQueries({ queryKey: ["campaigns"] });
    },
  });
  return (
    <section>
      <h1 tabIndex={-1}>{t("Campaigns")}</h1>
      <p>{t("A campaign groups posts under a window and a goal: shares or clicks of its posts while it runs.")}</p>
      <label className="check">
        <input type="checkbox" checked={archived} onChange={(e) => setArchived(e.target.checked)} /> {t("Show archived")}
      </label>
      <ErrorMessage error={list.error} />
      {list.isSuccess && list.items.length === 0 && <p>{archived ? t("No archived campaigns.") : t("No campaigns yet.")}</p>}
      <ul className="rows" aria-label={t("Campaigns")}>
        {list.items.map((c) => (
          <li key={c.id} className="campaign">
            <strong>{c.name}</strong> <StatusBadge status={c.status} />
            <div className="muted">{windowOf(c)}</div>
            <CampaignProgress id={c.id} label={c.name} />
            <Link to={`/campaigns/${encodeURIComponent(c.id)}`} aria-label={t("Open {{campaign}}", { campaign: c.name })}>
              {t("Open")}
            </Link>
          </li>
        ))}
      </ul>
      {list.hasNextPage && <MoreOnScroll more={() => list.fetchNextPage()} loading={list.isFetchingNextPage} />}
      <h2>{t("New campaign")}</h2>
      <CampaignForm key={formKey} initial={blankCampaign} submitLabel={t("Create campaign")} pending={create.isPending} onSubmit={(f) => create.mutate(f)} />
      <ErrorMessage error={create.error} />
      {create.isSuccess && (
        <p className="notice" role="status">
          {t("Campaign created: {{campaign}}.", { campaign: create.data.name })}
        </p>
      )}
    </section>
  );
}

/** One campaign: its progress, its posts, a post to add, edit and archive. */
export function CampaignPage() {
  const { t } = useTranslation();
  const qc = useQueryClient();
  const { id = "" } = useParams();
  const pickId = useId();
  const campaign = useQuery({
    queryKey: ["campaigns", "one", id],
    queryFn: () => call(api.GET("/api/v1/campaigns/{id}", { params: { path: { id } } })),
  });
  const posts = useQuery({
    queryKey: ["campaigns", "posts", id],
    queryFn: () => call(api.GET("/api/v1/content", { params: { query: { campaign: id, limit: 100 } } })),
  });
  const recent = useQuery({
    queryKey: ["campaigns", "candidates"],
    queryFn: () => call(api.GET("/api/v1/content", { params: { query: { limit: 50 } } })),
  });
  const [pick, setPick] = useState("");
  const refresh = () => qc.invalidateQueries({ queryKey: ["campaigns"] });
  const setCampaign = useMutation({
    mutationFn: (v: { post: string; campaign: string }) =>
      call(api.PATCH("/api/v1/content/{id}", { params: { path: { id: v.post } }, body: { campaign_id: v.campaign } })),
    onSuccess: () => {
      setPick("");
      refresh();
      qc.invalidateQueries({ queryKey: ["feed"] });
    },
  });
  const edit = useMutation({
    mutationFn: (f: CampaignFields) => call(api.PATCH("/api/v1/campaigns/{id}", { params: { path: { id } }, body: campaignBody(f, localToISO) })),
    onSuccess: refresh,
  });
  const archive = useMutation({
    mutationFn: () => call(api.DELETE("/api/v1/campaigns/{id}", { params: { path: { id } } })),
    onSuccess: refresh,
  });
  const c = campaign.data;
  if (!c) return <ErrorMessage error={campaign.error} />;
  const members = posts.data?.items ?? [];
  const candidates = (recent.data?.items ?? []).filter((p) => !p.campaign_id);
  return (
    <section>
      <p>
        <Link to="/campaigns">{t("All campaigns")}</Link>
      </p>
      <h1 tabIndex={-1}>{c.name}</h1>
      <p>
        <StatusBadge status={c.status} /> <span className="muted">{windowOf(c)}</span>
      </p>
      {c.description && <p>{c.description}</p>}
      <CampaignProgress id={c.id} label={c.name} />
      <h2>{t("Its posts")}</h2>
      <ErrorMessage error={posts.error} />
      {posts.isSuccess && members.length === 0 && <p>{t("No posts in this campaign yet.")}</p>}
      <ul className="rows" aria-label={t("Posts of the campaign")}>
        {members.map((p) => (
          <li key={p.id}>
            <strong>{p.title || p.url}</strong>{" "}
            <span className="muted">{t("In all: shares {{shares}}, clicks {{clicks}}", { shares: p.shares ?? 0, clicks: p.clicks ?? 0 })}</span>{" "}
            <button type="button" className="secondary" onClick={() => setCampaign.mutate({ post: p.id, campaign: "" })} disabled={setCampaign.isPending}>
              {t("Take out")}
            </button>
          </li>
        ))}
      </ul>
      {!c.archived && (
        <form
          className="filters"
          onSubmit={(e) => {
            e.preventDefault();
            if (pick) setCampaign.mutate({ post: pick, campaign: c.id });
          }}
        >
          <label htmlFor={pickId}>{t("Add a post")}</label>
          <select id={pickId} value={pick} onChange={(e) => setPick(e.target.value)}>
            <option value="">{t("Choose a recent post")}</option>
            {candidates.map((p) => (
              <option key={p.id} value={p.id}>
                {p.title || p.url}
              </option>
            ))}
          </select>
          <button type="submit" disabled={!pick || setCampaign.isPending}>
            {t("Add to campaign")}
          </button>
        </form>
      )}
      <ErrorMessage error={setCampaign.error} />
      {!c.archived && (
        <>
          <h2>{t("Edit")}</h2>
          <CampaignForm
            key={c.updated_at}
            initial={{
              name: c.name,
              description: c.description,
              start: toLocal(c.start),
              end: toLocal(c.end),
              metric: c.goal.metric,
              target: String(c.goal.target),
            }}
            submitLabel={t("Save campaign")}
            pending={edit.isPending}
            onSubmit={(f) => edit.mutate(f)}
          />
          <ErrorMessage error={edit.error} />
          <ConfirmButton
            question={t("Archive the campaign “{{campaign}}”? It leaves the feed; its posts stay.", { campaign: c.name })}
            confirmLabel={t("Archive campaign")}
            onConfirm={() => archive.mutate()}
          >
            {t("Archive")}
          </ConfirmButton>
          <ErrorMessage error={archive.error} />
        </>
      )}
    </section>
  );
}
