import { useState, type FormEvent } from "react";
import { Link } from "react-router";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { api, call, type Post } from "../api/client";
import { NETWORKS, usage, type Network } from "../lib/counting";
import { localToISO, timeZone } from "../lib/networks";
import { useTopics } from "../lib/session";
import { ErrorMessage } from "../components/ErrorMessage";
import { PostCard } from "../components/PostCard";
import { ShareTextField } from "../components/ShareTextField";
import { TopicPicker } from "../components/TopicPicker";

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
}

export const blankContent: ContentFields = {
  url: "",
  title: "",
  commentary: "",
  topics: [],
  publishAt: "",
  expiresAt: "",
  texts: emptyTexts,
};

/** RFC 3339 → a datetime-local value in the browser's time zone. */
export function toLocal(t?: string | null): string {
  if (!t) return "";
  const d = new Date(t);
  if (Number.isNaN(d.getTime())) return "";
  const p = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
}

export function fieldsOf(p: Post): ContentFields {
  const texts = { ...emptyTexts };
  for (const n of NETWORKS) texts[n.network] = p.share_texts?.[n.network] ?? "";
  return {
    url: p.url,
    title: p.title,
    commentary: p.commentary,
    topics: p.topics,
    publishAt: toLocal(p.publish_at),
    expiresAt: toLocal(p.expires_at),
    texts,
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
    ...(localToISO(f.publishAt) ? { publish_at: localToISO(f.publishAt) } : {}),
    ...(localToISO(f.expiresAt) ? { expires_at: localToISO(f.expiresAt) } : {}),
  };
}

/** The fields of the form that differ from the item as stored: a PATCH. */
export function changedBody(f: ContentFields, was: ContentFields) {
  const now = bodyOf(f) as Record<string, unknown>;
  const before = bodyOf(was) as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(now)) {
    if (JSON.stringify(v) !== JSON.stringify(before[k])) out[k] = v;
  }
  return out as Partial<ReturnType<typeof bodyOf>>;
}

/** Networks whose share text is over their limit. */
export function overLimit(texts: Record<Network, string>) {
  return NETWORKS.filter((n) => texts[n.network].trim() !== "" && usage(n, texts[n.network]).over);
}

/** The content form of "Post content", "Edit" and "Approve with edits". */
export function ContentFields({
  value,
  onChange,
  idPrefix,
  schedule = true,
}: {
  value: ContentFields;
  onChange: (f: ContentFields) => void;
  idPrefix: string;
  schedule?: boolean;
}) {
  const topics = useTopics();
  const set = <K extends keyof ContentFields>(k: K, v: ContentFields[K]) => onChange({ ...value, [k]: v });
  return (
    <>
      <label htmlFor={`${idPrefix}-url`}>Link</label>
      <input id={`${idPrefix}-url`} type="url" required value={value.url} onChange={(e) => set("url", e.target.value)} placeholder="https://" />
      <label htmlFor={`${idPrefix}-title`}>Title (optional: taken from the page)</label>
      <input id={`${idPrefix}-title`} maxLength={300} value={value.title} onChange={(e) => set("title", e.target.value)} />
      <label htmlFor={`${idPrefix}-commentary`}>Commentary for colleagues</label>
      <textarea id={`${idPrefix}-commentary`} rows={4} maxLength={5000} value={value.commentary} onChange={(e) => set("commentary", e.target.value)} />
      <TopicPicker legend="Topics" topics={topics.data?.items ?? []} value={value.topics} onChange={(v) => set("topics", v)} />
      {schedule && (
        <fieldset>
          <legend>Schedule ({timeZone()})</legend>
          <label htmlFor={`${idPrefix}-publish-at`}>Publish at (optional; empty publishes now)</label>
          <input id={`${idPrefix}-publish-at`} type="datetime-local" value={value.publishAt} onChange={(e) => set("publishAt", e.target.value)} />
          <label htmlFor={`${idPrefix}-expires-at`}>Expires at (optional; leaves the feed then)</label>
          <input id={`${idPrefix}-expires-at`} type="datetime-local" value={value.expiresAt} onChange={(e) => set("expiresAt", e.target.value)} />
        </fieldset>
      )}
      <fieldset>
        <legend>Suggested share texts</legend>
        <p className="hint">Optional, per network. Empty ones are left out.</p>
        {NETWORKS.map((n) => (
          <ShareTextField
            key={n.network}
            limit={n}
            value={value.texts[n.network]}
            onChange={(v) => set("texts", { ...value.texts, [n.network]: v })}
          />
        ))}
      </fieldset>
    </>
  );
}

export function PostContent() {
  const qc = useQueryClient();
  const [f, setF] = useState<ContentFields>(blankContent);
  const [draft, setDraft] = useState(false);
  const over = overLimit(f.texts);

  const post = useMutation({
    mutationFn: (asDraft: boolean) => call(api.POST("/api/v1/content", { body: { ...bodyOf(f), ...(asDraft ? { draft: true } : {}) } })),
    onSuccess: () => {
      setF(blankContent);
      qc.invalidateQueries({ queryKey: ["feed"] });
      qc.invalidateQueries({ queryKey: ["content-admin"] });
    },
  });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (over.length === 0) post.mutate(draft);
  };
  return (
    <section className="narrow">
      <h1 tabIndex={-1}>Post content</h1>
      <form onSubmit={submit}>
        <ContentFields value={f} onChange={setF} idPrefix="post" />
        {over.length > 0 && (
          <p className="error" role="alert">
            Too long for {over.map((n) => n.label).join(", ")}.
          </p>
        )}
        <button type="submit" disabled={post.isPending || over.length > 0} onClick={() => setDraft(false)}>
          {f.publishAt ? "Schedule" : "Publish"}
        </button>{" "}
        <button type="submit" className="secondary" disabled={post.isPending || over.length > 0} onClick={() => setDraft(true)}>
          Save as draft
        </button>
      </form>
      <div role="status" aria-live="polite">
        {post.isSuccess && (
          <p className="notice">
            {post.data.state === "scheduled" ? "Scheduled" : post.data.state === "draft" ? "Draft saved" : "Published"}:{" "}
            {post.data.title || post.data.url}. <Link to={`/content/${encodeURIComponent(post.data.id)}/edit`}>Edit it</Link>
          </p>
        )}
      </div>
      {post.isSuccess && (
        <>
          <h2>Link preview</h2>
          <PostCard post={post.data} />
        </>
      )}
      <ErrorMessage error={post.error} />
    </section>
  );
}
