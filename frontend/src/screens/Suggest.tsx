import { useState, type FormEvent } from "react";
import { Link } from "react-router";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { api, call } from "../api/client";
import { useTopics } from "../lib/session";
import { ErrorMessage } from "../components/ErrorMessage";
import { TopicPicker } from "../components/TopicPicker";

export function Suggest() {
  const topics = useTopics();
  const qc = useQueryClient();
  const [url, setUrl] = useState("");
  const [commentary, setCommentary] = useState("");
  const [picked, setPicked] = useState<string[]>([]);
  const suggest = useMutation({
    mutationFn: () =>
      call(api.POST("/api/v1/suggestions", { body: { url: url.trim(), commentary, topics: picked } })),
    onSuccess: () => {
      setUrl("");
      setCommentary("");
      setPicked([]);
      qc.invalidateQueries({ queryKey: ["suggestions"] });
    },
  });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    suggest.mutate();
  };
  return (
    <section className="narrow">
      <h1 tabIndex={-1}>Suggest content</h1>
      <p>Found something your colleagues should share? Suggest it; a curator reviews it before it reaches the feed.</p>
      <form onSubmit={submit}>
        <label htmlFor="suggest-url">Link</label>
        <input id="suggest-url" type="url" required value={url} onChange={(e) => setUrl(e.target.value)} placeholder="https://" />
        <label htmlFor="suggest-commentary">Why it is worth sharing (optional)</label>
        <textarea id="suggest-commentary" rows={4} value={commentary} onChange={(e) => setCommentary(e.target.value)} />
        <TopicPicker legend="Topics" topics={topics.data?.items ?? []} value={picked} onChange={setPicked} />
        <button type="submit" disabled={suggest.isPending}>
          Suggest
        </button>
      </form>
      <div role="status" aria-live="polite">
        {suggest.isSuccess && (
          <p className="notice">
            Thank you: your suggestion is {suggest.data.state === "pending" ? "waiting for review" : suggest.data.state}.{" "}
            <Link to="/suggestions">See my suggestions</Link>.
          </p>
        )}
      </div>
      <ErrorMessage error={suggest.error} />
    </section>
  );
}
