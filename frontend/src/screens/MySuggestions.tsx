import { useTranslation } from "react-i18next";
import { api, call } from "../api/client";
import { useTopics, when } from "../lib/session";
import { useCursorList } from "../lib/cursorList";
import { ErrorMessage } from "../components/ErrorMessage";
import { PostCard } from "../components/PostCard";

const stateText: Record<string, string> = {
  pending: "Waiting for review",
  published: "Published",
  scheduled: "Scheduled",
  rejected: "Rejected",
  archived: "Archived",
  expired: "Expired",
  draft: "Draft",
};

export function MySuggestions() {
  const topics = useTopics();
  const list = useCursorList(["suggestions"], (page) =>
    call(api.GET("/api/v1/suggestions", { params: { query: { limit: 20, ...page } } })),
  );
  const items = list.items;
  const { t } = useTranslation();
  return (
    <section>
      <h1 tabIndex={-1}>{t("My suggestions")}</h1>
      <ErrorMessage error={list.error} />
      {list.isPending && <p role="status">{t("Loading…")}</p>}
      {list.isSuccess && items.length === 0 && <p className="empty">{t("You have not suggested anything yet.")}</p>}
      <div className="cards">
        {items.map((p) => (
          <PostCard key={p.id} post={p} topics={topics.data?.items}>
            <p>
              <span className={`state state-${p.state}`}>{t(stateText[p.state] ?? p.state)}</span>
              {p.updated_at && <span className="meta"> · {when(p.updated_at)}</span>}
            </p>
            {p.state === "rejected" && p.reason && (
              <p>
                <strong>{t("Reason:")}</strong> {p.reason}
              </p>
            )}
          </PostCard>
        ))}
      </div>
      {list.hasNextPage && (
        <button type="button" onClick={() => list.fetchNextPage()} disabled={list.isFetchingNextPage}>
          {t("Load more")}
        </button>
      )}
    </section>
  );
}
