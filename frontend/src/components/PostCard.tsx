import { useState, type ReactNode } from "react";
import { useTranslation } from "react-i18next";
import type { Post, Topic } from "../api/client";
import { safeHref, when } from "../lib/session";

/** The host a link points at, without "www.": what the reader will open. */
export function domainOf(u: string): string {
  try {
    return new URL(u).hostname.replace(/^www\./, "");
  } catch {
    return "";
  }
}

/** A colour per key (a topic, else the domain): the same key, the same hue. */
export function hueOf(key: string): number {
  let h = 0;
  for (const ch of key) h = (h * 31 + ch.codePointAt(0)!) % 360;
  return h;
}

/**
 * One piece of content: preview image (or, without one or when it fails
 * to load, a placeholder coloured by its topic), title, the source's
 * domain, commentary, topics.
 */
export function PostCard({ post, topics, children }: { post: Post; topics?: Topic[]; children?: ReactNode }) {
  const image = safeHref(post.preview?.image_url || post.image_url);
  const [failed, setFailed] = useState<string>();
  const title = post.title || post.preview?.title || post.url;
  const href = safeHref(post.url);
  const domain = domainOf(post.url);
  const { t } = useTranslation();
  const topicName = (id: string) => topics?.find((t) => t.id === id)?.name ?? id;
  const first = post.topics[0];
  const site = post.preview?.site_name;
  return (
    <article className="card" aria-labelledby={`post-${post.id}`}>
      {image && failed !== image ? (
        <img src={image} alt="" loading="lazy" referrerPolicy="no-referrer" onError={() => setFailed(image)} />
      ) : (
        // The name is drawn by CSS from data-name: a picture, not a second
        // copy of the topic or domain in the card's text.
        <div
          className="placeholder"
          aria-hidden="true"
          data-name={first ? topicName(first) : domain}
          style={{ ["--hue" as string]: String(hueOf(first ?? domain)) }}
        />
      )}
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
        {(domain || site) && (
          <p className="meta source">
            {site && site.toLowerCase() !== domain ? `${site} · ${domain}` : domain || site}
          </p>
        )}
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
