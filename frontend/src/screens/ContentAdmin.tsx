import { useEffect, useId, useState, type FormEvent } from "react";
import { Link, useNavigate, useParams, useSearchParams } from "react-router";
import { useInfiniteQuery, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { api, call, type Post } from "../api/client";
import { useTopics, when } from "../lib/session";
import { ConfirmButton } from "../components/ConfirmButton";
import { ErrorMessage } from "../components/ErrorMessage";
import { PostCard } from "../components/PostCard";
import { ContentFields, changedBody, fieldsOf, overLimit, blankContent, type ContentFields as Fields } from "./PostContent";

type State = Post["state"];
const STATES: { state: State; label: string }[] = [
  { state: "published", label: "Published" },
  { state: "scheduled", label: "Scheduled" },
  { state: "draft", label: "Drafts" },
  { state: "expired", label: "Expired" },
  { state: "archived", label: "Archived" },
];

/** The curators' content list by state, with edit and archive. */
export function ContentList() {
  const [params, setParams] = useSearchParams();
  const state = (params.get("state") as State) || "published";
  const topics = useTopics();
  const qc = useQueryClient();
  const stateId = useId();
  const list = useInfiniteQuery({
    queryKey: ["content-admin", state],
    queryFn: ({ pageParam }) =>
      call(api.GET("/api/v1/content", { params: { query: { state, limit: 20, ...(pageParam ? { cursor: pageParam } : {}) } } })),
    initialPageParam: "",
    getNextPageParam: (last) => last.next_cursor ?? undefined,
  });
  const archive = useMutation({
    mutationFn: (id: string) => call(api.DELETE("/api/v1/content/{id}", { params: { path: { id } } })),
    onSettled: () => {
      qc.invalidateQueries({ queryKey: ["content-admin"] });
      qc.invalidateQueries({ queryKey: ["feed"] });
    },
  });
  const items = list.data?.pages.flatMap((p) => p.items) ?? [];
  return (
    <section>
      <h1 tabIndex={-1}>Content</h1>
      <form className="filters" onSubmit={(e) => e.preventDefault()} aria-label="Choose which content to list">
        <div>
          <label htmlFor={stateId}>Show</label>
          <select id={stateId} value={state} onChange={(e) => setParams({ state: e.target.value }, { replace: true })}>
            {STATES.map((s) => (
              <option key={s.state} value={s.state}>
                {s.label}
              </option>
            ))}
          </select>
        </div>
        <Link className="button" to="/post">
          Post content
        </Link>
      </form>
      <ErrorMessage error={list.error} />
      {list.isPending && <p role="status">Loading…</p>}
      {list.isSuccess && items.length === 0 && (
        <p className="empty">Nothing here. <Link to="/post">Post content</Link> for your colleagues to share.</p>
      )}
      <div className="cards">
        {items.map((p) => {
          const label = p.title || p.url;
          return (
            <PostCard key={p.id} post={p} topics={topics.data?.items}>
              {p.expires_at && <p className="meta">Expires {when(p.expires_at)}</p>}
              <p>
                <Link className="button" to={`/content/${encodeURIComponent(p.id)}/edit`} aria-label={`Edit ${label}`}>
                  Edit
                </Link>{" "}
                {p.state !== "archived" && (
                  <ConfirmButton
                    question={`Archive “${label}”? It leaves the feed; shares already posted stay.`}
                    confirmLabel="Archive"
                    aria-label={`Archive ${label}`}
                    onConfirm={() => archive.mutate(p.id)}
                  >
                    Archive
                  </ConfirmButton>
                )}
              </p>
            </PostCard>
          );
        })}
      </div>
      <ErrorMessage error={archive.error} />
      {list.hasNextPage && (
        <button type="button" onClick={() => list.fetchNextPage()} disabled={list.isFetchingNextPage}>
          Load more
        </button>
      )}
    </section>
  );
}

/** Edit one item: fields, schedule, expiry, share texts, with its preview. */
export function EditContent() {
  const { id = "" } = useParams();
  const qc = useQueryClient();
  const navigate = useNavigate();
  const topics = useTopics();
  const post = useQuery({
    queryKey: ["content", id],
    queryFn: () => call(api.GET("/api/v1/content/{id}", { params: { path: { id } } })),
  });
  const [f, setF] = useState<Fields>(blankContent);
  useEffect(() => {
    if (post.data) setF(fieldsOf(post.data));
  }, [post.data]);
  const over = overLimit(f.texts);
  const save = useMutation({
    mutationFn: (publish: boolean) =>
      call(
        api.PATCH("/api/v1/content/{id}", {
          params: { path: { id } },
          body: { ...changedBody(f, fieldsOf(post.data!)), ...(publish ? { state: "published" as const } : {}) },
        }),
      ),
    onSuccess: (p) => {
      qc.setQueryData(["content", id], p);
      qc.invalidateQueries({ queryKey: ["content-admin"] });
      qc.invalidateQueries({ queryKey: ["feed"] });
    },
  });
  const archive = useMutation({
    mutationFn: () => call(api.DELETE("/api/v1/content/{id}", { params: { path: { id } } })),
    onSuccess: () => {
      qc.invalidateQueries({ queryKey: ["content-admin"] });
      qc.invalidateQueries({ queryKey: ["feed"] });
      navigate("/content?state=archived");
    },
  });
  const [publish, setPublish] = useState(false);
  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (over.length === 0) save.mutate(publish);
  };
  return (
    <section className="narrow">
      <h1 tabIndex={-1}>Edit content</h1>
      <ErrorMessage error={post.error} />
      {post.data && (
        <>
          <h2>Preview</h2>
          <PostCard post={post.data} topics={topics.data?.items}>
            <p className="meta">State: {post.data.state}</p>
          </PostCard>
          <form onSubmit={submit}>
            <ContentFields value={f} onChange={setF} idPrefix="edit" />
            {over.length > 0 && (
              <p className="error" role="alert">
                Too long for {over.map((n) => n.label).join(", ")}.
              </p>
            )}
            <button type="submit" disabled={save.isPending || over.length > 0} onClick={() => setPublish(false)}>
              Save changes
            </button>{" "}
            {post.data.state === "draft" && (
              <button type="submit" className="secondary" disabled={save.isPending || over.length > 0} onClick={() => setPublish(true)}>
                Save and publish
              </button>
            )}
          </form>
          <div role="status" aria-live="polite">
            {save.isSuccess && <p className="notice">Saved ({save.data.state}).</p>}
          </div>
          <ErrorMessage error={save.error} />
          {post.data.state !== "archived" && (
            <ConfirmButton
              question="Archive this content? It leaves the feed; shares already posted stay."
              confirmLabel="Archive"
              onConfirm={() => archive.mutate()}
            >
              Archive
            </ConfirmButton>
          )}
          <ErrorMessage error={archive.error} />
        </>
      )}
    </section>
  );
}
