import { useQuery } from "@tanstack/react-query";
import { api, call, type Schemas } from "../api/client";

export type Campaign = Schemas["Campaign"];
export type CampaignProgress = Schemas["CampaignProgress"];
export type CampaignInput = Schemas["CampaignInput"];

/** The fields of the campaign form, as it holds them (times datetime-local). */
export interface CampaignFields {
  name: string;
  description: string;
  start: string;
  end: string;
  metric: "shares" | "clicks";
  target: string;
}

export const blankCampaign: CampaignFields = { name: "", description: "", start: "", end: "", metric: "shares", target: "" };

/** A form problem the browser can tell before asking the server, or "". */
export function campaignFormError(f: CampaignFields): "" | "end" | "target" {
  if (f.start && f.end && new Date(f.end).getTime() <= new Date(f.start).getTime()) return "end";
  const n = Number(f.target);
  if (f.target !== "" && (!Number.isInteger(n) || n < 1)) return "target";
  return "";
}

/** The API body of the form. */
export function campaignBody(f: CampaignFields, toISO: (local: string) => string | undefined): CampaignInput {
  return {
    name: f.name.trim(),
    description: f.description.trim(),
    ...(toISO(f.start) ? { start: toISO(f.start) } : {}),
    ...(toISO(f.end) ? { end: toISO(f.end) } : {}),
    goal: { metric: f.metric, target: Number(f.target) },
  };
}

/** The bar's fill, 0–100 (a goal passed fills it). */
export function fill(p: Pick<CampaignProgress, "percent">): number {
  return Math.max(0, Math.min(100, p.percent));
}

/** The campaigns running now (every member; the feed's strip). */
export function useActiveCampaigns() {
  return useQuery({
    queryKey: ["campaigns", "active"],
    queryFn: () => call(api.GET("/api/v1/campaigns/active")),
    staleTime: 60_000,
  });
}

/** The live campaigns' first page (curators' pickers and the analytics). */
export function useLiveCampaigns(enabled = true) {
  return useQuery({
    queryKey: ["campaigns", "live"],
    queryFn: () => call(api.GET("/api/v1/campaigns", { params: { query: { limit: 100 } } })),
    enabled,
    staleTime: 30_000,
  });
}

/** A campaign's progress now. */
export function useCampaignProgress(id: string) {
  return useQuery({
    queryKey: ["campaigns", "progress", id],
    queryFn: () => call(api.GET("/api/v1/campaigns/{id}/progress", { params: { path: { id } } })),
  });
}
