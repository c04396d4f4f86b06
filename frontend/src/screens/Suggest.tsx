import { useState, type FormEvent } from "react";
import { Link } from "react-router";
import { useTranslation } from "react-i18next";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { api, call } from "../api/client";
import { useInstance, useTopics } from "../lib/session";
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
      qc.invalidateQueries({ queryKey: ["review-count"] }); // a curator's own suggestion waits too
      qc.invalidateQueries({ queryKey: ["feed"] }); // published at once where no review is needed
    },
  });
  const { t } = useTranslation();
  const inst = useInstance();
  const submit = (e: FormEvent) => {
    e.preventDefault();
    suggest.mutate();
  };
  return (
    <section className="narrow">
      <h1 tabIndex={-1}>{t("Suggest content")}</h1>
      <p>
        {inst.data?.settings.suggestions_need_approval === false
          ? t("Found something your colleagues should share? Suggest it; it reaches the feed at once.")
          : t("Found something your colleagues should share? Suggest it; a curator reviews it before it reaches the feed.")}{" "}
        <Link to="/suggestions">{t("My suggestions")}</Link>
      </p>
      <form onSubmit={submit}>
        <label htmlFor="suggest-url">{t("Link")}</label>
        <input id="suggest-url" type="url" required value={url} onChange={(e) => setUrl(e.target.value)} placeholder="https://" />
        <label htmlFor="suggest-commentary">{t("Why it is worth sharing (optional)")}</label>
        <textarea id="suggest-commentary" rows={4} value={commentary} onChange={(e) => setCommentary(e.target.value)} />
        <TopicPicker legend={t("Topics")} topics={topics.data?.items ?? []} value={picked} onChange={setPicked} />
        <button type="submit" disabled={suggest.isPending}>
          {t("Suggest")}
        </button>
      </form>
      <div role="status" aria-live="polite">
        {suggest.isSuccess && (
          <p className="notice">
            {suggest.data.state === "pending"
              ? t("Thank you: your suggestion is waiting for review.")
              : t("Thank you: your suggestion is {{state}}.", { state: t(suggest.data.state) })}{" "}
            <Link to="/suggestions">{t("See my suggestions")}</Link>.
          </p>
        )}
      </div>
      <ErrorMessage error={suggest.error} />
    </section>
  );
}
