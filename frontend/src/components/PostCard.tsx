import type { ReactNode } from "react";
import { useTranslation } from "react-i18next";
import type { Post, Topic } from "../api/client";
import { safeHref, when } from "../lib/session";

/** One piece of content: preview image, title, commentary, topics. */
export function PostCard({ post, topics, children }: { post: Post; topics?: Topic[]; children?: ReactNode }) {
  const image = safeHref(post.preview?.image_url || post.image_url);
  const title = post.title || post.preview?.title || post.url;
  const href = safeHref(post.url);
  const { t } = useTranslation();
  const topicName = (id: string) => topics?.find((t) => t.id === id)?.name ?? id;
  return (
    <article className="card" aria-labelledby={`post-${post.id}`}>
      {image && <img src={image} alt="" loading="lazy" referrerPolicy="no-referrer" />}
      <div className="card-body">
        <h2 id={`post-${post.id}`}>
          {href ? (
            <a href={href} target="_blank" rel="noopener noreferrer">
              {title}
            </a>
          ) : (
            title
          )}
        </h2>
        {post.preview?.site_name && <p className="meta">{post.preview.site_name}</p>}
        {post.commentary && (
          <aside className="note">
            <p className="note-label">{t("Note to colleagues (never posted)")}</p>
            <p className="commentary">{post.commentary}</p>
          </aside>
        )}
        {!post.commentary && post.preview?.description && <p className="commentary">{post.preview.description}</p>}
        {post.topics.length > 0 && (
          <ul className="tags" aria-label={t("Topics")}>
            {post.topics.map((t) => (
              <li key={t}>{topicName(t)}</li>
            ))}
          </ul>
        )}
        <p className="meta">
          <time dateTime={post.publish_at}>{when(post.publish_at)}</time>
        </p>
        {children}
      </div>
    </article>
  );
}
