import { safeHref, when } from "../lib/session";
import { networkLabel, type Connection, type Share } from "../lib/networks";
import { ReconnectButton } from "./ReconnectButton";

/**
 * A share's state in words: what happened, what it means, and what the
 * member can do about it (open the post, reconnect the account).
 */
export function ShareState({ share, connection }: { share: Share; connection?: Connection }) {
  const net = networkLabel(share.network);
  const post = safeHref(share.post_url);
  const needsReconnect = connection?.status === "needs_reconnect" || connection?.status === "broken";
  switch (share.state) {
    case "scheduled":
      return (
        <p>
          <span className="state state-scheduled">Scheduled</span> for{" "}
          <time dateTime={share.publish_at}>{when(share.publish_at)}</time>.
        </p>
      );
    case "queued":
      return (
        <p>
          <span className="state state-queued">Queued</span>: it goes to {net} in a moment.
        </p>
      );
    case "publishing":
      return (
        <p>
          <span className="state state-queued">Publishing</span> to {net}…
        </p>
      );
    case "published":
      return (
        <p>
          <span className="state state-published">Published</span>
          {share.published_at && (
            <>
              {" "}
              <time dateTime={share.published_at}>{when(share.published_at)}</time>
            </>
          )}
          {post && (
            <>
              {" · "}
              <a href={post} target="_blank" rel="noopener noreferrer">
                View the post on {net}
              </a>
            </>
          )}
        </p>
      );
    case "failed":
      return (
        <div>
          <p>
            <span className="state state-failed">Failed</span>
            {share.error ? `: ${share.error}` : "."}
          </p>
          {needsReconnect && connection && (
            <p>
              Your {net} account needs reconnecting before you share again.{" "}
              <ReconnectButton connection={connection} />
            </p>
          )}
        </div>
      );
    case "unconfirmed":
      return (
        <div>
          <p>
            <span className="state state-unconfirmed">Unconfirmed</span>: {net} did not confirm the post in time.
          </p>
          <p className="hint">
            It may well be online: look at your {net} profile. Chorus does not post it again, so that nobody sees it
            twice.{share.error ? ` (${share.error})` : ""}
          </p>
        </div>
      );
    case "cancelled":
      return (
        <p>
          <span className="state state-cancelled">Cancelled</span>
          {share.error ? `: ${share.error}` : "."}
        </p>
      );
    default:
      return <p className="state">{share.state}</p>;
  }
}
