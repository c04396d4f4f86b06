import { useTranslation } from "react-i18next";
import { T } from "./T";
import { safeHref, when } from "../lib/session";
import { networkLabel, type Connection, type Share } from "../lib/networks";
import { ReconnectButton } from "./ReconnectButton";

/**
 * A share's state in words: what happened, what it means, and what the
 * member can do about it (open the post, reconnect the account).
 */
export function ShareState({ share, connection }: { share: Share; connection?: Connection }) {
  const { t } = useTranslation();
  const network = networkLabel(share.network);
  const post = safeHref(share.post_url);
  const needsReconnect = connection?.status === "needs_reconnect" || connection?.status === "broken";
  switch (share.state) {
    case "scheduled":
      return (
        <p>
          <T
            k="<0>Scheduled</0> for <1>{{time}}</1>."
            values={{ time: when(share.publish_at) }}
            components={[<span className="state state-scheduled" />, <time dateTime={share.publish_at} />]}
          />
        </p>
      );
    case "queued":
      return (
        <p>
          <T k="<0>Queued</0>: it goes to {{network}} in a moment." values={{ network }} components={[<span className="state state-queued" />]} />
        </p>
      );
    case "publishing":
      return (
        <p>
          <T k="<0>Publishing</0> to {{network}}…" values={{ network }} components={[<span className="state state-queued" />]} />
        </p>
      );
    case "published":
      return (
        <p>
          <span className="state state-published">{t("Published")}</span>
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
                {t("View the post on {{network}}", { network })}
              </a>
            </>
          )}
        </p>
      );
    case "failed":
      return (
        <div>
          <p>
            <span className="state state-failed">{t("Failed")}</span>
            {share.error ? `: ${share.error.replace(/^needs_reconnect:\s*/, "")}` : "."}
          </p>
          {needsReconnect && connection && (
            <p>
              {t("Your {{network}} account needs reconnecting before you share again.", { network })}{" "}
              <ReconnectButton connection={connection} />
            </p>
          )}
        </div>
      );
    case "unconfirmed":
      return (
        <div>
          <p>
            <T
              k="<0>Unconfirmed</0>: {{network}} did not confirm the post in time."
              values={{ network }}
              components={[<span className="state state-unconfirmed" />]}
            />
          </p>
          <p className="hint">
            {t(
              "It may well be online: look at your {{network}} profile. Chorus does not post it again, so that nobody sees it twice.",
              { network },
            )}
            {share.error ? ` (${share.error})` : ""}
          </p>
        </div>
      );
    case "cancelled":
      return (
        <p>
          <span className="state state-cancelled">{t("Cancelled")}</span>
          {share.error ? `: ${share.error}` : "."}
        </p>
      );
    default:
      return <p className="state">{share.state}</p>;
  }
}
