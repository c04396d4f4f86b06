import { useId, useState } from "react";
import { useInfiniteQuery, useMutation, useQueryClient } from "@tanstack/react-query";
import { api, call, type Post } from "../api/client";
import { useTopics } from "../lib/session";
import { ConfirmButton } from "../components/ConfirmButton";
import { ErrorMessage } from "../components/ErrorMessage";
import { PostCard } from "../components/PostCard";

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
  const approve = useMutation({
    mutationFn: () => call(api.POST("/api/v1/content/{id}/approve", { params: { path: { id: post.id } } })),
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
      <button type="button" onClick={() => approve.mutate()} disabled={approve.isPending} aria-label={`Approve ${label}`}>
        Approve
      </button>
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
