import { useId, useState } from "react";
import { useInfiniteQuery } from "@tanstack/react-query";
import { Link } from "react-router";
import { networkLabel } from "../lib/networks";
import { api, call } from "../api/client";
import { canCurate, isAdmin, useMe, useTopics } from "../lib/session";
import { ErrorMessage } from "../components/ErrorMessage";
import { PostCard } from "../components/PostCard";
import { MoreOnScroll } from "../components/MoreOnScroll";

export function Feed() {
  const [topic, setTopic] = useState("");
  const [followed, setFollowed] = useState(false);
  const topics = useTopics();
  const me = useMe();
  const role = me.data?.member.role;
  const topicId = useId();
  const feed = useInfiniteQuery({
    queryKey: ["feed", { topic, followed }],
    queryFn: ({ pageParam }) =>
      call(
        api.GET("/api/v1/content", {
          params: {
            query: {
              limit: 20,
              ...(topic ? { topic } : {}),
              ...(followed ? { followed: "1" as const } : {}),
              ...(pageParam ? { cursor: pageParam } : {}),
            },
          },
        }),
      ),
    initialPageParam: "",
    getNextPageParam: (last) => last.next_cursor ?? undefined,
  });
  const items = feed.data?.pages.flatMap((p) => p.items) ?? [];
  return (
    <section>
      <h1 tabIndex={-1}>Feed</h1>
      <form className="filters" onSubmit={(e) => e.preventDefault()} aria-label="Filter the feed">
        <div>
          <label htmlFor={topicId}>Topic</label>
          <select id={topicId} value={topic} onChange={(e) => setTopic(e.target.value)}>
            <option value="">All topics</option>
            {topics.data?.items.map((t) => (
              <option key={t.id} value={t.id}>
                {t.name}
              </option>
            ))}
          </select>
        </div>
        <label className="check">
          <input type="checkbox" checked={followed} onChange={(e) => setFollowed(e.target.checked)} />
          Only topics I follow
        </label>
      </form>
      <ErrorMessage error={feed.error} />
      {feed.isPending && <p role="status">Loading the feed…</p>}
      {feed.isSuccess && items.length === 0 && (
        <div className="empty">
          <p>Nothing to share yet. Curators post content here; you can <Link to="/suggest">suggest some</Link>.</p>
          {isAdmin(role) && !me.data?.instance.verified && (
            <p>
              New here? Start under <Link to="/admin">Admin</Link>: verify your company's domain, allow the social networks
              your colleagues use, and invite them.
            </p>
          )}
          {canCurate(role) && (
            <p>
              <Link to="/post">Post the first content</Link>.
            </p>
          )}
        </div>
      )}
      <div className="cards">
        {items.map((p) => (
          <PostCard key={p.id} post={p} topics={topics.data?.items}>
            {p.shared_to.length > 0 && (
              <p className="meta">You shared this to {p.shared_to.map(networkLabel).join(", ")}.</p>
            )}
            <Link className="button" to={`/share/${encodeURIComponent(p.id)}`} aria-label={`Share ${p.title || p.url}`}>
              Share
            </Link>
          </PostCard>
        ))}
      </div>
      {feed.hasNextPage && <MoreOnScroll more={() => feed.fetchNextPage()} loading={feed.isFetchingNextPage} />}
    </section>
  );
}
