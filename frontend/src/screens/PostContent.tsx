import { useState, type FormEvent } from "react";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { api, call } from "../api/client";
import { NETWORKS, usage, type Network } from "../lib/counting";
import { useTopics } from "../lib/session";
import { ErrorMessage } from "../components/ErrorMessage";
import { ShareTextField } from "../components/ShareTextField";
import { TopicPicker } from "../components/TopicPicker";

const empty = { x: "", mastodon: "", bluesky: "", linkedin: "", facebook: "" } satisfies Record<Network, string>;

export function PostContent() {
  const topics = useTopics();
  const qc = useQueryClient();
  const [url, setUrl] = useState("");
  const [title, setTitle] = useState("");
  const [commentary, setCommentary] = useState("");
  const [picked, setPicked] = useState<string[]>([]);
  const [publishAt, setPublishAt] = useState("");
  const [texts, setTexts] = useState<Record<Network, string>>(empty);
  const over = NETWORKS.filter((n) => texts[n.network].trim() !== "" && usage(n, texts[n.network]).over);

  const post = useMutation({
    mutationFn: () => {
      const share_texts = Object.fromEntries(Object.entries(texts).filter(([, t]) => t.trim() !== ""));
      return call(
        api.POST("/api/v1/content", {
          body: {
            url: url.trim(),
            title,
            commentary,
            topics: picked,
            share_texts,
            ...(publishAt ? { publish_at: new Date(publishAt).toISOString() } : {}),
          },
        }),
      );
    },
    onSuccess: () => {
      setUrl("");
      setTitle("");
      setCommentary("");
      setPicked([]);
      setPublishAt("");
      setTexts(empty);
      qc.invalidateQueries({ queryKey: ["feed"] });
    },
  });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (over.length === 0) post.mutate();
  };
  return (
    <section className="narrow">
      <h1 tabIndex={-1}>Post content</h1>
      <form onSubmit={submit}>
        <label htmlFor="post-url">Link</label>
        <input id="post-url" type="url" required value={url} onChange={(e) => setUrl(e.target.value)} placeholder="https://" />
        <label htmlFor="post-title">Title (optional: taken from the page)</label>
        <input id="post-title" maxLength={300} value={title} onChange={(e) => setTitle(e.target.value)} />
        <label htmlFor="post-commentary">Commentary for colleagues</label>
        <textarea id="post-commentary" rows={4} maxLength={5000} value={commentary} onChange={(e) => setCommentary(e.target.value)} />
        <TopicPicker legend="Topics" topics={topics.data?.items ?? []} value={picked} onChange={setPicked} />
        <label htmlFor="post-publish-at">Publish at (optional; empty publishes now)</label>
        <input id="post-publish-at" type="datetime-local" value={publishAt} onChange={(e) => setPublishAt(e.target.value)} />
        <fieldset>
          <legend>Suggested share texts</legend>
          <p className="hint">Optional, per network. Empty ones are left out.</p>
          {NETWORKS.map((n) => (
            <ShareTextField
              key={n.network}
              limit={n}
              value={texts[n.network]}
              onChange={(v) => setTexts((t) => ({ ...t, [n.network]: v }))}
            />
          ))}
        </fieldset>
        {over.length > 0 && (
          <p className="error" role="alert">
            Too long for {over.map((n) => n.label).join(", ")}.
          </p>
        )}
        <button type="submit" disabled={post.isPending || over.length > 0}>
          {publishAt ? "Schedule" : "Publish"}
        </button>
      </form>
      <div role="status" aria-live="polite">
        {post.isSuccess && (
          <p className="notice">
            {post.data.state === "scheduled" ? "Scheduled" : "Published"}: {post.data.title || post.data.url}
          </p>
        )}
      </div>
      <ErrorMessage error={post.error} />
    </section>
  );
}
