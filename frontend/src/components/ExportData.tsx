import { useState } from "react";
import { useMutation, useQuery } from "@tanstack/react-query";
import { useTranslation } from "react-i18next";
import { api, call } from "../api/client";
import { when } from "../lib/session";
import { ErrorMessage } from "./ErrorMessage";

/**
 * "Export my data" as a job: request it, watch it being prepared, then
 * download it (once, within its expiry).
 */
export function ExportData() {
  const [jobId, setJobId] = useState<string>();
  const start = useMutation({
    mutationFn: () => call(api.POST("/api/v1/me/exports")),
    onSuccess: (j) => setJobId(j.id),
  });
  const job = useQuery({
    queryKey: ["export", jobId],
    enabled: !!jobId,
    queryFn: () => call(api.GET("/api/v1/me/exports/{id}", { params: { path: { id: jobId! } } })),
    refetchInterval: (q) => (q.state.data?.state === "pending" || !q.state.data ? 1000 : false),
  });
  const state = job.data?.state ?? (jobId ? "pending" : undefined);
  const { t } = useTranslation();
  return (
    <div className="export">
      <button type="button" onClick={() => start.mutate()} disabled={start.isPending || state === "pending"}>
        {t("Export my data")}
      </button>
      <div role="status" aria-live="polite">
        {state === "pending" && (
          <p>
            <progress aria-label={t("Preparing your export")} /> {t("Preparing your export…")}
          </p>
        )}
        {state === "ready" && job.data && (
          <p className="notice">
            {t("Your export is ready.")}{" "}
            <a
              href={`/api/v1/me/exports/${encodeURIComponent(job.data.id)}/download`}
              download="chorus-export.json"
              onClick={() => setTimeout(() => job.refetch(), 1500)}
            >
              {t("Download my data (JSON)")}
            </a>{" "}
            <span className="hint">{t("It downloads once, until {{time}}.", { time: when(job.data.expires_at) })}</span>
          </p>
        )}
        {state === "downloaded" && <p className="notice">{t("Downloaded. Export again for a fresh copy.")}</p>}
      </div>
      {state === "failed" && (
        <p className="error" role="alert">
          {t("The export failed. Try again; if it keeps failing, ask your admins.")}
        </p>
      )}
      <ErrorMessage error={start.error ?? job.error} />
    </div>
  );
}
