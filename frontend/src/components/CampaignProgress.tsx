import { useTranslation } from "react-i18next";
import { fill, useCampaignProgress, type CampaignProgress as Progress } from "../lib/campaigns";
import { ErrorMessage } from "./ErrorMessage";

/** A campaign's progress bar: the goal metric's count against the target, and the pace. */
export function ProgressBar({ p, label }: { p: Progress; label: string }) {
  const { t } = useTranslation();
  const metric = p.metric === "clicks" ? t("clicks", { count: p.target }) : t("shares", { count: p.target });
  return (
    <div className="campaign-progress">
      <progress max={100} value={fill(p)} aria-label={t("Progress of {{campaign}}", { campaign: label })} />{" "}
      <span className="figure">{t("{{value}} of {{target}} {{metric}} ({{percent}}%)", { value: p.value, target: p.target, metric, percent: p.percent })}</span>{" "}
      {p.status === "scheduled" ? (
        <span className="state">{t("Not started")}</span>
      ) : p.value >= p.target ? (
        <span className="state state-published">{t("Goal reached")}</span>
      ) : p.on_track ? (
        <span className="state state-published">{t("On track")}</span>
      ) : (
        <span className="state state-failed">{t("Behind: {{expected}} expected by now", { expected: p.expected })}</span>
      )}
      <div className="muted">
        {t("In the window: shares {{shares}}, clicks {{clicks}} · {{elapsed}}% of the time passed", {
          shares: p.shares,
          clicks: p.clicks,
          elapsed: p.elapsed_percent,
        })}
      </div>
    </div>
  );
}

/** Reads a campaign's progress and shows its bar. */
export function CampaignProgress({ id, label }: { id: string; label: string }) {
  const progress = useCampaignProgress(id);
  return (
    <>
      <ErrorMessage error={progress.error} />
      {progress.data && <ProgressBar p={progress.data} label={label} />}
    </>
  );
}
