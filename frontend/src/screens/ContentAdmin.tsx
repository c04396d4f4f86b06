import { useId } from "react";
import { Link, useNavigate, useParams, useSearchParams } from "react-router";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { api, call, type Post } from "../api/client";
import { useTopics, when } from "../lib/session";
import { useCursorList } from "../lib/cursorList";
import { dropFromFeed } from "../lib/feedcache";
import { ConfirmButton } from "../components/ConfirmButton";
import { ErrorMessage } from "../components/ErrorMessage";
import { PostCard } from "../components/PostCard";
import { useForm, type SubmitHandler } from "react-hook-form";
import { useTranslation } from "react-i18next";
import { T } from "../components/T";
import { ContentFields, TooLong, changedBody, fieldsOf, useOverLimit, blankContent, type ContentFields as Fields } from "./PostContent";

type State = Post["state"];
const STATES: { state: State; label: string }[] = [
  { state: "published", label: "Published" },
  { state: "scheduled", label: "Scheduled" },
  { state: "draft", label: "Drafts" },
  { state: "expired", label: "Expired" },
  { state: "archived", label: "Archived" },
];

const STATE_LABELS: Record<string, string> = {
  ...Object.fromEntries(STATES.map((s) => [s.state, s.label])),
  pending: "Waiting for review",
  rejected: "Rejected",
};

/**
 * The PATCH body that expires a post now. The API wants the expiry after
 * publish_at, so a browser clock behind the server's still gets a valid one.
 */
export function expireNowBody(post: Pick<Post, "publish_at">, now = Date.now()) {
  const after = post.publish_at ? Date.parse(post.publish_at) + 1 : 0;
  return { expires_at: new Date(Math.max(now, after)).toISOString() };
}

/** The curators' content list by state, with edit, expire and archive. */
export function ContentList() {
  const [params, setParams] = useSearchParams();
  const state = (params.get("state") as State) || "published";
  const topics = useTopics();
  const qc = useQueryClient();
  const stateId = useId();
  const list = useCursorList(["content-admin", state], (page) =>
    call(api.GET("/api/v1/content", { params: { query: { state, limit: 20, ...page } } })),
  );
  const archive = useMutation({
    mutationFn: (id: string) => call(api.DELETE("/api/v1/content/{id}", { params: { path: { id } } })),
    onSuccess: (_, id) => dropFromFeed(qc, id),
    onSettled: () => qc.invalidateQueries({ queryKey: ["content-admin"] }),
  });
  const expire = useMutation({
    mutationFn: (p: Post) => call(api.PATCH("/api/v1/content/{id}", { params: { path: { id: p.id } }, body: expireNowBody(p) })),
    onSuccess: (_, p) => dropFromFeed(qc, p.id),
    onSettled: () => qc.invalidateQueries({ queryKey: ["content-admin"] }),
  });
  const items = list.items;
  const { t } = useTranslation();
  return (
    <section>
      <h1 tabIndex={-1}>{t("Content")}</h1>
      <form className="filters" onSubmit={(e) => e.preventDefault()} aria-label={t("Choose which content to list")}>
        <div>
          <label htmlFor={stateId}>{t("Show")}</label>
          <select id={stateId} value={state} onChange={(e) => setParams({ state: e.target.value }, { replace: true })}>
            {STATES.map((s) => (
              <option key={s.state} value={s.state}>
                {t(s.label)}
              </option>
            ))}
          </select>
        </div>
        <Link className="button" to="/post">
          {t("Post content")}
        </Link>
      </form>
      <ErrorMessage error={list.error} />
      {list.isPending && <p role="status">{t("Loading…")}</p>}
      {list.isSuccess && items.length === 0 && (
        <p className="empty">
          <T k="Nothing here. <0>Post content</0> for your colleagues to share." components={[<Link to="/post" />]} />
        </p>
      )}
      <div role="status" aria-live="polite">
        {expire.isSuccess && (
          <p className="notice">{t("“{{title}}” expired: it is no longer in the feed.", { title: expire.data.title || expire.data.url })}</p>
        )}
      </div>
      <ErrorMessage error={archive.error ?? expire.error} />
      <div className="cards">
        {items.map((p) => {
          const label = p.title || p.url;
          return (
            <PostCard key={p.id} post={p} topics={topics.data?.items}>
              {p.expires_at && <p className="meta">{t("Expires {{time}}", { time: when(p.expires_at) })}</p>}
              <p className="figures" aria-label={t("Results of {{title}}", { title: label })}>
                <span>
                  <strong>{p.shares ?? 0}</strong> {t("shares", { count: p.shares ?? 0 })}
                </span>{" "}
                <span>
                  <strong>{p.clicks ?? 0}</strong> {t("clicks", { count: p.clicks ?? 0 })}
                </span>
              </p>
              <div className="card-actions">
                <Link className="button" to={`/content/${encodeURIComponent(p.id)}/edit`} aria-label={t("Edit {{title}}", { title: label })}>
                  {t("Edit")}
                </Link>{" "}
                {p.state === "published" && (
                  <>
                    <ConfirmButton
                      className="secondary"
                      question={t("Expire “{{title}}” now? It leaves the feed and cannot be shared any more; shares already posted stay.", { title: label })}
                      confirmLabel={t("Expire now")}
                      aria-label={t("Expire now: {{title}}", { title: label })}
                      disabled={expire.isPending && expire.variables?.id === p.id}
                      onConfirm={() => expire.mutate(p)}
                    >
                      {t("Expire now")}
                    </ConfirmButton>{" "}
                  </>
                )}
                {p.state !== "archived" && (
                  <ConfirmButton
                    question={t("Archive “{{title}}”? It leaves the feed; shares already posted stay.", { title: label })}
                    confirmLabel={t("Archive")}
                    aria-label={t("Archive {{title}}", { title: label })}
                    onConfirm={() => archive.mutate(p.id)}
                  >
                    {t("Archive")}
                  </ConfirmButton>
                )}
              </div>
            </PostCard>
          );
        })}
      </div>
      {list.hasNextPage && (
        <button type="button" onClick={() => list.fetchNextPage()} disabled={list.isFetchingNextPage}>
          {t("Load more")}
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
  // The form shows the item as stored, and again after each save.
  const form = useForm<Fields>({ defaultValues: blankContent, values: post.data ? fieldsOf(post.data) : undefined });
  const over = useOverLimit(form);
  const save = useMutation({
    mutationFn: (v: { f: Fields; publish: boolean }) =>
      call(
        api.PATCH("/api/v1/content/{id}", {
          params: { path: { id } },
          body: { ...changedBody(v.f, fieldsOf(post.data!)), ...(v.publish ? { state: "published" as const } : {}) },
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
      dropFromFeed(qc, id);
      navigate("/content?state=archived");
    },
  });
  const { t } = useTranslation();
  const submit = (publish: boolean) => form.handleSubmit(((f) => save.mutate({ f, publish })) as SubmitHandler<Fields>);
  return (
    <section className="narrow">
      <h1 tabIndex={-1}>{t("Edit content")}</h1>
      <ErrorMessage error={post.error} />
      {post.data && (
        <>
          <h2>{t("Preview")}</h2>
          <PostCard post={post.data} topics={topics.data?.items}>
            <p className="meta">{t("State: {{state}}", { state: t(STATE_LABELS[post.data.state] ?? post.data.state) })}</p>
          </PostCard>
          <form onSubmit={submit(false)}>
            <ContentFields form={form} idPrefix="edit" />
            <TooLong over={over} />
            <button type="submit" disabled={save.isPending || over.length > 0}>
              {t("Save changes")}
            </button>{" "}
            {post.data.state === "draft" && (
              <button type="button" className="secondary" disabled={save.isPending || over.length > 0} onClick={submit(true)}>
                {t("Save and publish")}
              </button>
            )}
          </form>
          <div role="status" aria-live="polite">
            {save.isSuccess && <p className="notice">{t("Saved ({{state}}).", { state: t(save.data.state) })}</p>}
          </div>
          <ErrorMessage error={save.error} />
          {post.data.state !== "archived" && (
            <ConfirmButton
              question={t("Archive this content? It leaves the feed; shares already posted stay.")}
              confirmLabel={t("Archive")}
              onConfirm={() => archive.mutate()}
            >
              {t("Archive")}
            </ConfirmButton>
          )}
          <ErrorMessage error={archive.error} />
        </>
      )}
    </section>
  );
}
