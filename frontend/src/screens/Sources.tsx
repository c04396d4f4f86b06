import { useTranslation } from "react-i18next";
import { useState } from "react";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { api, call, type Schemas } from "../api/client";
import { useTopics } from "../lib/session";
import { ConfirmButton } from "../components/ConfirmButton";
import { ErrorMessage } from "../components/ErrorMessage";

export type Source = Schemas["Source"];

/** A source's status as the console shows it: failing, waiting for its
 *  first poll, or OK. */
export function sourceStatus(s: Source): "failing" | "new" | "ok" {
  if (s.failing) return "failing";
  if (!s.last_polled_at) return "new";
  return "ok";
}

/** Curators' sources: RSS/Atom feeds and sitemaps whose new items become
 *  drafts, or published content when the source is trusted. */
export function Sources() {
  const { t } = useTranslation();
  const qc = useQueryClient();
  const topics = useTopics();
  const sources = useQuery({ queryKey: ["sources"], queryFn: () => call(api.GET("/api/v1/sources")) });
  const [url, setUrl] = useState("");
  const [kind, setKind] = useState<"feed" | "sitemap">("feed");
  const [title, setTitle] = useState("");
  const [topic, setTopic] = useState("");
  const [trusted, setTrusted] = useState(false);
  const done = () => qc.invalidateQueries({ queryKey: ["sources"] });
  const add = useMutation({
    mutationFn: () =>
      call(api.POST("/api/v1/sources", { body: { url: url.trim(), kind, title: title.trim(), topics: topic ? [topic] : [], trusted } })),
    onSuccess: () => {
      setUrl("");
      setKind("feed");
      setTitle("");
      setTrusted(false);
      done();
    },
  });
  const setTrust = useMutation({
    mutationFn: (s: Source) => call(api.PATCH("/api/v1/sources/{id}", { params: { path: { id: s.id } }, body: { trusted: !s.trusted } })),
    onSuccess: done,
  });
  const remove = useMutation({
    mutationFn: (id: string) => call(api.DELETE("/api/v1/sources/{id}", { params: { path: { id } } })),
    onSuccess: done,
  });
  const topicName = (id: string) => topics.data?.items.find((tp) => tp.id === id)?.name ?? id;
  const items = sources.data?.items ?? [];
  return (
    <section>
      <h1 tabIndex={-1}>{t("Sources")}</h1>
      <p>
        {t(
          "New items of these feeds, and new pages of these sitemaps, become drafts for review, or are published at once when the source is trusted.",
        )}
      </p>
      <ErrorMessage error={sources.error} />
      {sources.data && items.length === 0 && <p>{t("No sources yet.")}</p>}
      <ul className="rows" aria-label={t("Sources")}>
        {items.map((s) => {
          const status = sourceStatus(s);
          return (
            <li key={s.id} className={"source source-" + status}>
              <strong>{s.title || s.url}</strong> <span className="muted">{s.url}</span>{" "}
              <span className={"state state-" + status}>
                {status === "failing" ? t("Failing") : status === "new" ? t("Not polled yet") : t("OK")}
              </span>
              {s.kind === "sitemap" && <span className="badge"> {t("Sitemap")}</span>}
              {s.trusted && <span className="badge"> {t("Trusted")}</span>}
              {s.topics.length > 0 && <span className="muted"> · {s.topics.map(topicName).join(", ")}</span>}
              <div className="muted">
                {t("{{count}} items added", { count: s.items_added })}
                {s.consecutive_failures > 0 &&
                  " · " + t("{{count}} failed polls in a row: {{error}}", { count: s.consecutive_failures, error: s.last_error ?? "" })}
              </div>
              <button type="button" onClick={() => setTrust.mutate(s)} disabled={setTrust.isPending}>
                {s.trusted ? t("Review its items") : t("Trust it")}
              </button>{" "}
              <ConfirmButton
                question={t("Remove the source “{{source}}”? The content it added stays.", { source: s.title || s.url })}
                confirmLabel={t("Remove source")}
                aria-label={t("Remove source {{source}}", { source: s.title || s.url })}
                onConfirm={() => remove.mutate(s.id)}
              >
                {t("Remove")}
              </ConfirmButton>
            </li>
          );
        })}
      </ul>
      <ErrorMessage error={setTrust.error ?? remove.error} />
      <form onSubmit={(e) => { e.preventDefault(); add.mutate(); }} className="panel">
        <h2>{t("Add a source")}</h2>
        <fieldset>
          <legend>{t("Kind")}</legend>
          <label>
            <input type="radio" name="source-kind" checked={kind === "feed"} onChange={() => setKind("feed")} /> {t("Feed (RSS or Atom)")}
          </label>
          <label>
            <input type="radio" name="source-kind" checked={kind === "sitemap"} onChange={() => setKind("sitemap")} />{" "}
            {t("Sitemap (its new pages, with their previews)")}
          </label>
        </fieldset>
        <label htmlFor="source-url">{kind === "sitemap" ? t("Sitemap URL (sitemap.xml or a sitemap index)") : t("Feed URL (RSS or Atom)")}</label>
        <input id="source-url" type="url" required maxLength={2048} value={url} onChange={(e) => setUrl(e.target.value)} />
        <label htmlFor="source-title">{t("Name")}</label>
        <input id="source-title" maxLength={300} value={title} onChange={(e) => setTitle(e.target.value)} />
        <label htmlFor="source-topic">{t("Topic")}</label>
        <select id="source-topic" value={topic} onChange={(e) => setTopic(e.target.value)}>
          <option value="">{t("None")}</option>
          {topics.data?.items.map((tp) => <option key={tp.id} value={tp.id}>{tp.name}</option>)}
        </select>
        <label>
          <input type="checkbox" checked={trusted} onChange={(e) => setTrusted(e.target.checked)} /> {t("Trusted: publish its items without review")}
        </label>
        <button type="submit" disabled={add.isPending}>{t("Add source")}</button>
      </form>
      <ErrorMessage error={add.error} />
    </section>
  );
}
