import { useId, useState } from "react";
import { useInfiniteQuery, useMutation, useQueryClient } from "@tanstack/react-query";
import { api, call, type Post } from "../api/client";
import { useTopics } from "../lib/session";
import { ConfirmButton } from "../components/ConfirmButton";
import { ErrorMessage } from "../components/ErrorMessage";
import { PostCard } from "../components/PostCard";
import { ContentFields, changedBody, fieldsOf, overLimit, type ContentFields as Fields } from "./PostContent";

export function CuratorQueue() {
  const topics = useTopics();
  const queue = useInfiniteQuery({
    queryKey: ["queue"],
    queryFn: ({ pageParam }) =>
      call(
        api.GET("/api/v1/content", {
          params: { query: { state: "pending", limit: 20, ...(pageParam ? { cursor: pageParam } : {}) } },
        }),
      ),
    initialPageParam: "",
    getNextPageParam: (last) => last.next_cursor ?? undefined,
  });
  const items = queue.data?.pages.flatMap((p) => p.items) ?? [];
  return (
    <section>
      <h1 tabIndex={-1}>Review suggestions</h1>
      <ErrorMessage error={queue.error} />
      {queue.isPending && <p role="status">Loading…</p>}
      {queue.isSuccess && items.length === 0 && <p className="empty">No suggestions are waiting for review.</p>}
      <div className="cards">
        {items.map((p) => (
          <PostCard key={p.id} post={p} topics={topics.data?.items}>
            <Review post={p} />
          </PostCard>
        ))}
      </div>
      {queue.hasNextPage && (
        <button type="button" onClick={() => queue.fetchNextPage()} disabled={queue.isFetchingNextPage}>
          Load more
        </button>
      )}
    </section>
  );
}

function Review({ post }: { post: Post }) {
  const qc = useQueryClient();
  const [reason, setReason] = useState("");
  const reasonId = useId();
  const done = () => {
    qc.invalidateQueries({ queryKey: ["queue"] });
    qc.invalidateQueries({ queryKey: ["feed"] });
  };
  const [editing, setEditing] = useState(false);
  const [f, setF] = useState<Fields>(() => fieldsOf(post));
  const over = overLimit(f.texts);
  const approve = useMutation({
    mutationFn: (withEdits: boolean) => {
      const edits = withEdits ? changedBody(f, fieldsOf(post)) : {};
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
      <button type="button" onClick={() => approve.mutate(false)} disabled={approve.isPending} aria-label={`Approve ${label}`}>
        Approve
      </button>{" "}
      <button
        type="button"
        className="secondary"
        aria-expanded={editing}
        onClick={() => setEditing((v) => !v)}
        aria-label={`${editing ? "Close the editor" : "Edit before approving"}: ${label}`}
      >
        {editing ? "Close the editor" : "Edit before approving"}
      </button>
      {editing && (
        <form
          className="approve-edits"
          onSubmit={(e) => {
            e.preventDefault();
            if (over.length === 0) approve.mutate(true);
          }}
        >
          <ContentFields value={f} onChange={setF} idPrefix={`approve-${post.id}`} schedule={false} />
          {over.length > 0 && (
            <p className="error" role="alert">
              Too long for {over.map((n) => n.label).join(", ")}.
            </p>
          )}
          <button type="submit" disabled={approve.isPending || over.length > 0}>
            Approve with edits
          </button>
        </form>
      )}
      <label htmlFor={reasonId}>Reason for rejecting</label>
      <textarea id={reasonId} rows={2} maxLength={1000} value={reason} onChange={(e) => setReason(e.target.value)} />
      <ConfirmButton
        question={`Reject “${label}”? The suggester sees your reason.`}
        confirmLabel="Reject"
        disabled={reason.trim() === "" || reject.isPending}
        aria-label={`Reject ${label}`}
        onConfirm={() => reject.mutate()}
      >
        Reject
      </ConfirmButton>
      <ErrorMessage error={approve.error ?? reject.error} />
    </div>
  );
}
