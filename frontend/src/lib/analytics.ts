import type { Schemas } from "../api/client";

export type Money = Schemas["Money"];
export type Summary = Schemas["AnalyticsSummary"];
export type Row = Schemas["AnalyticsRow"];

const pad = (n: number) => String(n).padStart(2, "0");

/** A date as YYYY-MM-DD in the browser's calendar. */
export function isoDay(d: Date): string {
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
}

/**
 * Today as YYYY-MM-DD in zone, the IANA time zone whose calendar days the
 * analytics count in (the browser's calendar without one).
 */
export function todayIn(zone?: string, now = new Date()): string {
  if (!zone) return isoDay(now);
  try {
    const parts = new Intl.DateTimeFormat("en-CA", { timeZone: zone, year: "numeric", month: "2-digit", day: "2-digit" }).formatToParts(now);
    const part = (type: string) => parts.find((p) => p.type === type)?.value;
    return `${part("year")}-${part("month")}-${part("day")}`;
  } catch {
    return isoDay(now);
  }
}

/** The last n days up to and including today (YYYY-MM-DD). */
export function lastDays(n: number, today = isoDay(new Date())): { from: string; to: string } {
  const [y = 1970, m = 1, d = 1] = today.split("-").map(Number);
  const from = new Date(Date.UTC(y, m - 1, d - (n - 1)));
  return { from: from.toISOString().slice(0, 10), to: today };
}

/** Money in minor units as the currency writes it; "—" without a currency. */
export function formatMoney(m?: Money | null, locale?: string): string {
  if (!m || !m.currency) return "—";
  try {
    const f = new Intl.NumberFormat(locale, { style: "currency", currency: m.currency });
    const digits = f.resolvedOptions().maximumFractionDigits ?? 2;
    return f.format(m.amount / 10 ** digits);
  } catch {
    return `${m.amount} ${m.currency}`;
  }
}

/** Minor units of a currency typed in major units ("0.45" EUR → 45). */
export function toMinor(major: string, currency: string): number | undefined {
  const n = Number(major);
  if (!Number.isFinite(n) || n < 0) return undefined;
  let digits = 2;
  try {
    digits = new Intl.NumberFormat("en", { style: "currency", currency }).resolvedOptions().maximumFractionDigits ?? 2;
  } catch {
    return undefined;
  }
  return Math.round(n * 10 ** digits);
}

export function fromMinor(m?: Money | null): string {
  if (!m || !m.currency) return "";
  let digits = 2;
  try {
    digits = new Intl.NumberFormat("en", { style: "currency", currency: m.currency }).resolvedOptions().maximumFractionDigits ?? 2;
  } catch {
    /* keep 2 */
  }
  return (m.amount / 10 ** digits).toFixed(digits);
}

export const count = (n?: number) => (n ?? 0).toLocaleString();

export const METRICS = [
  { metric: "clicks", label: "Clicks" },
  { metric: "unique_clicks", label: "Unique clicks" },
  { metric: "shares", label: "Shares" },
  { metric: "reach", label: "Potential reach" },
  { metric: "engagement", label: "Engagement" },
  { metric: "emv", label: "Earned media value" },
] as const;
export type Metric = (typeof METRICS)[number]["metric"];

/** The CSV download address of a table over a period. */
export function csvHref(list: "content" | "members" | "networks" | "timeseries", from: string, to: string, metric?: Metric): string {
  const q = new URLSearchParams({ from, to, format: "csv" });
  if (metric) q.set("metric", metric);
  return `/api/v1/analytics/${list}?${q}`;
}
