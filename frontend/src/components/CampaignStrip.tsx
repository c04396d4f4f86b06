import { useTranslation } from "react-i18next";
import { useActiveCampaigns, type Campaign } from "../lib/campaigns";

/**
 * The running campaigns above the feed: name, end date, how to help, and
 * a button that filters the feed to the campaign's posts.
 */
export function CampaignStrip({ selected, onSelect }: { selected: string; onSelect: (c: Campaign | null) => void }) {
  const { t } = useTranslation();
  const active = useActiveCampaigns();
  const items = active.data?.items ?? [];
  if (items.length === 0) return null;
  return (
    <section className="campaign-strip" aria-label={t("Running campaigns")}>
      <ul>
        {items.map((c) => (
          <li key={c.id} className={c.id === selected ? "selected" : undefined}>
            <strong>{c.name}</strong>{" "}
            <span className="muted">{t("until {{date}}", { date: new Date(c.end).toLocaleDateString() })}</span>
            <p>{c.description || (c.goal.metric === "clicks" ? t("Share its posts: every click on your link counts.") : t("Share its posts: every share counts."))}</p>
            {c.id === selected ? (
              <button type="button" className="secondary" onClick={() => onSelect(null)}>
                {t("Show all posts")}
              </button>
            ) : (
              <button type="button" className="secondary" onClick={() => onSelect(c)} aria-label={t("See its posts ({{campaign}})", { campaign: c.name })}>
                {t("See its posts")}
              </button>
            )}
          </li>
        ))}
      </ul>
    </section>
  );
}
