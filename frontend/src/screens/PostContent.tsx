import { Controller, useForm, useWatch, type UseFormReturn } from "react-hook-form";
import { Link } from "react-router";
import { useTranslation } from "react-i18next";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { api, call, type Post } from "../api/client";
import { NETWORKS, usage, type Network } from "../lib/counting";
import { localToISO, timeZone, useNetworks, type NetworkInfo } from "../lib/networks";
import { useTopics } from "../lib/session";
import { ErrorMessage } from "../components/ErrorMessage";
import { PostCard } from "../components/PostCard";
import { ShareTextField } from "../components/ShareTextField";
import { TopicPicker } from "../components/TopicPicker";
import { AudiencePicker } from "../components/AudiencePicker";
import { useGroups } from "./admin/Groups";
import { useLiveCampaigns } from "../lib/campaigns";

const emptyTexts = { x: "", mastodon: "", bluesky: "", linkedin: "", facebook: "" } satisfies Record<Network, string>;

/** The fields curators edit, as the form holds them. */
export interface ContentFields {
  url: string;
  title: string;
  commentary: string;
  topics: string[];
  publishAt: string; // datetime-local, the curator's time zone
  expiresAt: string;
  texts: Record<Network, string>;
  /** Group IDs the post is aimed at; [] is everyone. */
  audience: string[];
  campaign: string; // a campaign ID, "" for none
}

export const blankContent: ContentFields = {
  url: "",
  title: "",
  commentary: "",
  topics: [],
  publishAt: "",
  expiresAt: "",
  texts: emptyTexts,
  audience: [],
  campaign: "",
};

/** RFC 3339 → a datetime-local value in the browser's time zone. */
export function toLocal(t?: string | null): string {
  if (!t) return "";
  const d = new Date(t);
  if (Number.isNaN(d.getTime())) return "";
  const p = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
}

export function fieldsOf(p: Post, now = Date.now()): ContentFields {
  const texts = { ...emptyTexts };
  for (const n of NETWORKS) texts[n.network] = p.share_texts?.[n.network] ?? "";
  // A draft's publish time is when it was written unless one in the future
  // was set: publishing it then publishes it now.
  const unscheduledDraft = p.state === "draft" && Date.parse(p.publish_at) <= now;
  return {
    url: p.url,
    title: p.title,
    commentary: p.commentary,
    topics: p.topics,
    publishAt: unscheduledDraft ? "" : toLocal(p.publish_at),
    expiresAt: toLocal(p.expires_at),
    texts,
    audience: p.audience ?? [],
    campaign: p.campaign_id ?? "",
  };
}

/** The API body of the form's fields; empty share texts left out. */
export function bodyOf(f: ContentFields) {
  return {
    url: f.url.trim(),
    title: f.title,
    commentary: f.commentary,
    topics: f.topics,
    share_texts: Object.fromEntries(Object.entries(f.texts).filter(([, t]) => t.trim() !== "")),
    ...(f.audience.length > 0 ? { audience: f.audience } : {}),
    ...(localToISO(f.publishAt) ? { publish_at: localToISO(f.publishAt) } : {}),
    ...(localToISO(f.expiresAt) ? { expires_at: localToISO(f.expiresAt) } : {}),
    ...(f.campaign ? { campaign_id: f.campaign } : {}),
  };
}

/**
 * The fields of the form that differ from the item as stored: a PATCH. A
 * cleared expiry is sent as "" (no expiry); a cleared publish time as now,
 * as the field's label promises.
 */
export function changedBody(f: ContentFields, was: ContentFields, at = new Date()) {
  const now = bodyOf(f) as Record<string, unknown>;
  const before = bodyOf(was) as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(now)) {
    if (JSON.stringify(v) !== JSON.stringify(before[k])) out[k] = v;
  }
  if (before.expires_at && !now.expires_at) out.expires_at = "";
  if (before.publish_at && !now.publish_at) out.publish_at = at.toISOString();
  if (before.audience && !now.audience) out.audience = []; // aimed at everyone again
  if (before.campaign_id && !now.campaign_id) out.campaign_id = "";
  return out as Partial<ReturnType<typeof bodyOf>>;
}

/** The limits of the networks the instance allows, in display order. */
export function allowedLimits(networks: Pick<NetworkInfo, "name" | "state">[]) {
  const allowed = new Set(networks.filter((n) => n.state === "allowed").map((n) => n.name));
  return NETWORKS.filter((n) => allowed.has(n.network));
}

/** Networks whose share text is over their limit. */
export function overLimit(texts: Record<Network, string>) {
  return NETWORKS.filter((n) => texts[n.network].trim() !== "" && usage(n, texts[n.network]).over);
}

/** The content form of "Post content", "Edit" and "Approve with edits". */
export function ContentFields({
  form,
  idPrefix,
  schedule = true,
}: {
  form: UseFormReturn<ContentFields>;
  idPrefix: string;
  schedule?: boolean;
}) {
  const topics = useTopics();
  const groups = useGroups();
  const networks = useNetworks();
  const { t } = useTranslation();
  const { register, control } = form;
  // Text boxes only for the networks members can share to here.
  const shown = allowedLimits(networks.data?.items ?? []);
  return (
    <>
      <label htmlFor={`${idPrefix}-url`}>{t("Link")}</label>
      <input id={`${idPrefix}-url`} type="url" required placeholder="https://" {...register("url", { required: true })} />
      <label htmlFor={`${idPrefix}-title`}>{t("Title (optional: taken from the page)")}</label>
      <input id={`${idPrefix}-title`} maxLength={300} {...register("title")} />
      <label htmlFor={`${idPrefix}-commentary`}>{t("Note to colleagues (never posted)")}</label>
      <textarea
        id={`${idPrefix}-commentary`}
        rows={4}
        maxLength={5000}
        aria-describedby={`${idPrefix}-commentary-hint`}
        {...register("commentary")}
      />
      <p id={`${idPrefix}-commentary-hint`} className="hint">
        {t("Shown on the card in the feed. Shares start from the text per network below, else the title.")}
      </p>
      <Controller
        control={control}
        name="topics"
        render={({ field }) => (
          <TopicPicker legend={t("Topics")} topics={topics.data?.items ?? []} value={field.value} onChange={field.onChange} />
        )}
      />
      <Controller
        control={control}
        name="audience"
        render={({ field }) => <AudiencePicker groups={groups.data?.items ?? []} value={field.value} onChange={field.onChange} />}
      />
      <CampaignPicker form={form} idPrefix={idPrefix} />
      {schedule && (
        <fieldset>
          <legend>{t("Schedule ({{zone}})", { zone: timeZone() })}</legend>
          <label htmlFor={`${idPrefix}-publish-at`}>{t("Publish at (optional; empty publishes now)")}</label>
          <input id={`${idPrefix}-publish-at`} type="datetime-local" {...register("publishAt")} />
          <label htmlFor={`${idPrefix}-expires-at`}>{t("Expires at (optional; leaves the feed then)")}</label>
          <input id={`${idPrefix}-expires-at`} type="datetime-local" {...register("expiresAt")} />
        </fieldset>
      )}
      <fieldset>
        <legend>{t("Suggested share texts")}</legend>
        <p className="hint">
          {shown.length > 0
            ? t("Optional, per network your admins allow. Empty ones are left out.")
            : networks.isPending
              ? t("Loading the networks…")
              : t("Your admins have not allowed any social network yet: members can still copy a tracked link, or send it by email or WhatsApp.")}
        </p>
        <ErrorMessage error={networks.error} />
        {shown.map((n) => (
          <Controller
            key={n.network}
            control={control}
            name={`texts.${n.network}`}
            rules={{ validate: (v) => v.trim() === "" || !usage(n, v).over || t("Too long for {{networks}}.", { networks: n.label }) }}
            render={({ field }) => <ShareTextField limit={n} value={field.value} onChange={field.onChange} />}
          />
        ))}
      </fieldset>
    </>
  );
}

/** The campaign a post belongs to: a live campaign, or none. */
function CampaignPicker({ form, idPrefix }: { form: UseFormReturn<ContentFields>; idPrefix: string }) {
  const { t } = useTranslation();
  const campaigns = useLiveCampaigns();
  const current = useWatch({ control: form.control, name: "campaign" });
  const live = campaigns.data?.items ?? [];
  return (
    <>
      <label htmlFor={`${idPrefix}-campaign`}>{t("Campaign")}</label>
      <select id={`${idPrefix}-campaign`} {...form.register("campaign")}>
        <option value="">{t("None")}</option>
        {live.map((c) => (
          <option key={c.id} value={c.id}>
            {c.name}
          </option>
        ))}
        {current && !live.some((c) => c.id === current) && <option value={current}>{t("An archived campaign")}</option>}
      </select>
    </>
  );
}

/** The networks whose text is too long, live, for the form's alert and buttons. */
export function useOverLimit(form: UseFormReturn<ContentFields>) {
  const texts = useWatch({ control: form.control, name: "texts" });
  return overLimit(texts);
}

export function PostContent() {
  const qc = useQueryClient();
  const form = useForm<ContentFields>({ defaultValues: blankContent });
  const over = useOverLimit(form);
  const publishAt = useWatch({ control: form.control, name: "publishAt" });
  const { t } = useTranslation();

  const post = useMutation({
    mutationFn: (v: { f: ContentFields; draft: boolean }) =>
      call(api.POST("/api/v1/content", { body: { ...bodyOf(v.f), ...(v.draft ? { draft: true } : {}) } })),
    onSuccess: () => {
      form.reset(blankContent);
      qc.invalidateQueries({ queryKey: ["feed"] });
      qc.invalidateQueries({ queryKey: ["content-admin"] });
    },
  });
  const submit = (draft: boolean) => form.handleSubmit((f) => post.mutate({ f, draft }));
  return (
    <section className="narrow">
      <h1 tabIndex={-1}>{t("Post content")}</h1>
      <form onSubmit={submit(false)}>
        <ContentFields form={form} idPrefix="post" />
        <TooLong over={over} />
        <button type="submit" disabled={post.isPending || over.length > 0}>
          {publishAt ? t("Schedule") : t("Publish")}
        </button>{" "}
        <button type="button" className="secondary" disabled={post.isPending || over.length > 0} onClick={submit(true)}>
          {t("Save as draft")}
        </button>
      </form>
      <div role="status" aria-live="polite">
        {post.isSuccess && (
          <p className="notice">
            {post.data.state === "scheduled" ? t("Scheduled") : post.data.state === "draft" ? t("Draft saved") : t("Published")}:{" "}
            {post.data.title || post.data.url}. <Link to={`/content/${encodeURIComponent(post.data.id)}/edit`}>{t("Edit it")}</Link>
          </p>
        )}
      </div>
      {post.isSuccess && (
        <>
          <h2>{t("Link preview")}</h2>
          <PostCard post={post.data} />
        </>
      )}
      <ErrorMessage error={post.error} />
    </section>
  );
}

export function TooLong({ over }: { over: { label: string }[] }) {
  const { t } = useTranslation();
  if (over.length === 0) return null;
  return (
    <p className="error" role="alert">
      {t("Too long for {{networks}}.", { networks: over.map((n) => n.label).join(", ") })}
    </p>
  );
}
