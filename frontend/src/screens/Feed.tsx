import { useId, useState } from "react";
import { Link } from "react-router";
import { useTranslation } from "react-i18next";
import { T } from "../components/T";
import { networkLabel } from "../lib/networks";
import { api, call } from "../api/client";
import { canCurate, isAdmin, useMe, useTopics } from "../lib/session";
import { useCursorList } from "../lib/cursorList";
import { ErrorMessage } from "../components/ErrorMessage";
import { PostCard } from "../components/PostCard";
import { MoreOnScroll } from "../components/MoreOnScroll";
import { Onboarding } from "../components/Onboarding";
import { InstallHint, OfflineNotice } from "../components/InstallHint";
import { CampaignStrip } from "../components/CampaignStrip";

export function Feed() {
  const [topic, setTopic] = useState("");
  const [followed, setFollowed] = useState(false);
  const [campaign, setCampaign] = useState<{ id: string; name: string } | null>(null);
  const topics = useTopics();
  const me = useMe();
  const role = me.data?.member.role;
  const topicId = useId();
  const { t } = useTranslation();
  const feed = useCursorList(["feed", { topic, followed, campaign: campaign?.id ?? "" }], (page) =>
    call(
      api.GET("/api/v1/content", {
        params: {
          query: {
            limit: 20,
            ...(topic ? { topic } : {}),
            ...(followed ? { followed: "1" as const } : {}),
            ...(campaign ? { campaign: campaign.id } : {}),
            ...page,
          },
        },
      }),
    ),
  );
  const items = feed.items;
  return (
    <section>
      <h1 tabIndex={-1}>{t("Feed")}</h1>
      <OfflineNotice />
      <InstallHint />
      <Onboarding />
      <CampaignStrip selected={campaign?.id ?? ""} onSelect={(c) => setCampaign(c ? { id: c.id, name: c.name } : null)} />
      {campaign && (
        <p className="notice" role="status">
          {t("Showing the posts of the campaign {{campaign}}.", { campaign: campaign.name })}
        </p>
      )}
      <form className="filters" onSubmit={(e) => e.preventDefault()} aria-label={t("Filter the feed")}>
        <div>
          <label htmlFor={topicId}>{t("Topic")}</label>
          <select id={topicId} value={topic} onChange={(e) => setTopic(e.target.value)}>
            <option value="">{t("All topics")}</option>
            {topics.data?.items.map((t) => (
              <option key={t.id} value={t.id}>
                {t.name}
              </option>
            ))}
          </select>
        </div>
        <label className="check">
          <input type="checkbox" checked={followed} onChange={(e) => setFollowed(e.target.checked)} />
          {t("Only topics I follow")}
        </label>
      </form>
      <ErrorMessage error={feed.error} />
      {feed.isPending && <p role="status">{t("Loading the feed…")}</p>}
      {feed.isSuccess && items.length === 0 && (topic || followed || campaign) && (
        <div className="empty">
          <p>
            {campaign
              ? t("Nothing of this campaign to share yet.")
              : followed
                ? t("Nothing in the topics you follow yet.")
                : t("Nothing on this topic yet.")}
          </p>
          <button
            type="button"
            className="secondary"
            onClick={() => {
              setTopic("");
              setFollowed(false);
              setCampaign(null);
            }}
          >
            {t("Show everything")}
          </button>
        </div>
      )}
      {feed.isSuccess && items.length === 0 && !topic && !followed && !campaign && (
        <div className="empty">
          <p>
            <T k="Nothing to share yet. Curators post content here; you can <0>suggest some</0>." components={[<Link to="/suggest" />]} />
          </p>
          {isAdmin(role) && !me.data?.instance.verified && (
            <p>
              <T
                k="New here? Start under <0>Admin</0>: verify your company's domain, allow the social networks your colleagues use, and invite them."
                components={[<Link to="/admin" />]}
              />
            </p>
          )}
          {canCurate(role) && (
            <p>
              <Link to="/post">{t("Post the first content")}</Link>.
            </p>
          )}
        </div>
      )}
      <div className="cards">
        {items.map((p) => (
          <PostCard key={p.id} post={p} topics={topics.data?.items}>
            {(p.colleagues_shared ?? 0) > 0 && (
              <p className="meta social-proof">{t("{{count}} colleagues shared this", { count: p.colleagues_shared })}</p>
            )}
            {p.shared_to.length > 0 && (
              <p className="meta">{t("You shared this to {{networks}}.", { networks: p.shared_to.map(networkLabel).join(", ") })}</p>
            )}
            <Link className="button" to={`/share/${encodeURIComponent(p.id)}`} aria-label={t("Share {{title}}", { title: p.title || p.url })}>
              {t("Share")}
            </Link>
          </PostCard>
        ))}
      </div>
      {feed.hasNextPage && <MoreOnScroll more={() => feed.fetchNextPage()} loading={feed.isFetchingNextPage} />}
    </section>
  );
}
