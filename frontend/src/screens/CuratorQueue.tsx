import { useId, useState } from "react";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { api, call, type Post } from "../api/client";
import { useTopics } from "../lib/session";
import { useCursorList } from "../lib/cursorList";
import { ConfirmButton } from "../components/ConfirmButton";
import { ErrorMessage } from "../components/ErrorMessage";
import { PostCard } from "../components/PostCard";
import { useForm } from "react-hook-form";
import { useTranslation } from "react-i18next";
import { ContentFields, TooLong, changedBody, fieldsOf, useOverLimit, type ContentFields as Fields } from "./PostContent";

export function CuratorQueue() {
  const topics = useTopics();
  const queue = useCursorList(["queue"], (page) =>
    call(api.GET("/api/v1/content", { params: { query: { state: "pending", limit: 20, ...page } } })),
  );
  const items = queue.items;
  const { t } = useTranslation();
  return (
    <section>
      <h1 tabIndex={-1}>{t("Review suggestions")}</h1>
      <ErrorMessage error={queue.error} />
      {queue.isPending && <p role="status">{t("Loading…")}</p>}
      {queue.isSuccess && items.length === 0 && <p className="empty">{t("No suggestions are waiting for review.")}</p>}
      <div className="cards">
        {items.map((p) => (
          <PostCard key={p.id} post={p} topics={topics.data?.items}>
            <p className="meta suggested-by">{t("Suggested by {{name}}", { name: p.author_name || t("a former colleague") })}</p>
            <Review post={p} />
          </PostCard>
        ))}
      </div>
      {queue.hasNextPage && (
        <button type="button" onClick={() => queue.fetchNextPage()} disabled={queue.isFetchingNextPage}>
          {t("Load more")}
        </button>
      )}
    </section>
  );
}

function Review({ post }: { post: Post }) {
  const { t } = useTranslation();
  const qc = useQueryClient();
  const [reason, setReason] = useState("");
  const reasonId = useId();
  const done = () => {
    qc.invalidateQueries({ queryKey: ["queue"] });
    qc.invalidateQueries({ queryKey: ["review-count"] });
    qc.invalidateQueries({ queryKey: ["feed"] });
    qc.invalidateQueries({ queryKey: ["content-admin"] });
    qc.invalidateQueries({ queryKey: ["suggestions"] }); // the curator's own, reviewed
  };
  const [editing, setEditing] = useState(false);
  const form = useForm<Fields>({ defaultValues: fieldsOf(post) });
  const over = useOverLimit(form);
  const approve = useMutation({
    mutationFn: (edited?: Fields) => {
      const edits = edited ? changedBody(edited, fieldsOf(post)) : {};
      return call(
        api.POST("/api/v1/content/{id}/approve", {
          params: { path: { id: post.id } },
          ...(Object.keys(edits).length > 0 ? { body: edits } : {}),
        }),
      );
    },
    onSuccess: done,
  });
  const reject = useMutation({
    mutationFn: () =>
      call(api.POST("/api/v1/content/{id}/reject", { params: { path: { id: post.id } }, body: { reason: reason.trim() } })),
    onSuccess: done,
  });
  const label = post.title || post.url;
  return (
    <div className="review">
      <button type="button" onClick={() => approve.mutate(undefined)} disabled={approve.isPending} aria-label={t("Approve {{title}}", { title: label })}>
        {t("Approve")}
      </button>{" "}
      <button
        type="button"
        className="secondary"
        aria-expanded={editing}
        onClick={() => setEditing((v) => !v)}
        aria-label={editing ? t("Close the editor: {{title}}", { title: label }) : t("Edit before approving: {{title}}", { title: label })}
      >
        {editing ? t("Close the editor") : t("Edit before approving")}
      </button>
      {editing && (
        <form className="approve-edits" onSubmit={form.handleSubmit((f) => approve.mutate(f))}>
          <ContentFields form={form} idPrefix={`approve-${post.id}`} schedule={false} />
          <TooLong over={over} />
          <button type="submit" disabled={approve.isPending || over.length > 0}>
            {t("Approve with edits")}
          </button>
        </form>
      )}
      <label htmlFor={reasonId}>{t("Reason for rejecting")}</label>
      <textarea id={reasonId} rows={2} maxLength={1000} value={reason} onChange={(e) => setReason(e.target.value)} />
      <ConfirmButton
        question={t("Reject “{{title}}”? The suggester sees your reason.", { title: label })}
        confirmLabel={t("Reject")}
        disabled={reason.trim() === "" || reject.isPending}
        aria-label={t("Reject {{title}}", { title: label })}
        onConfirm={() => reject.mutate()}
      >
        {t("Reject")}
      </ConfirmButton>
      <ErrorMessage error={approve.error ?? reject.error} />
    </div>
  );
}
