import { describe, expect, it } from "vitest";
import { settingsBody, settingsFields } from "../screens/admin/Settings";
import { csvHref, formatMoney, fromMinor, lastDays, toMinor, todayIn } from "./analytics";

describe("analytics helpers", () => {
  it("prices in minor units per currency", () => {
    expect(formatMoney({ amount: 12345, currency: "EUR" }, "en")).toBe("€123.45");
    expect(formatMoney({ amount: 500, currency: "JPY" }, "en")).toBe("¥500");
    expect(formatMoney({ amount: 0, currency: "" }, "en")).toBe("—");
    expect(toMinor("0.45", "EUR")).toBe(45);
    expect(toMinor("30", "JPY")).toBe(30);
    expect(toMinor("-1", "EUR")).toBeUndefined();
    expect(toMinor("1", "NOPE1")).toBeUndefined();
    expect(fromMinor({ amount: 45, currency: "EUR" })).toBe("0.45");
  });
  it("counts the last n days with today", () => {
    expect(lastDays(30, "2026-03-10")).toEqual({ from: "2026-02-09", to: "2026-03-10" });
    expect(lastDays(1, "2026-01-01")).toEqual({ from: "2026-01-01", to: "2026-01-01" });
    expect(lastDays(7, "2026-03-01")).toEqual({ from: "2026-02-23", to: "2026-03-01" });
  });
  it("knows today in the company's time zone, not the browser's", () => {
    const now = new Date("2026-11-23T15:00:00Z"); // already the 24th in Kiritimati (UTC+14)
    expect(todayIn("Pacific/Kiritimati", now)).toBe("2026-11-24");
    expect(todayIn("America/New_York", now)).toBe("2026-11-23");
    expect(todayIn("UTC", new Date("2026-11-23T23:59:59Z"))).toBe("2026-11-23");
    expect(todayIn("Not/AZone", now)).toMatch(/^\d{4}-\d{2}-\d{2}$/);
  });
  it("builds CSV addresses", () => {
    expect(csvHref("members", "2026-01-01", "2026-01-31")).toBe("/api/v1/analytics/members?from=2026-01-01&to=2026-01-31&format=csv");
    expect(csvHref("timeseries", "2026-01-01", "2026-01-31", "emv")).toContain("metric=emv");
  });
});

describe("settings form", () => {
  it("round-trips the instance's settings and sends the cost per click in minor units", () => {
    const f = settingsFields({
      id: "i",
      name: "Acme",
      domains: [],
      verified: true,
      settings: { cpc: { amount: 45, currency: "EUR" }, points: { per_share: 10, per_unique_click: 1 }, time_zone: "Europe/Helsinki" },
    });
    expect(f.cpc).toBe("0.45");
    const body = settingsBody({ ...f, cpc: "1.2", currency: "usd", retention: "", minGroup: "5" });
    expect(body).toEqual({
      name: "Acme",
      invitation_message: "",
      join_policy: "open",
      suggestions_need_approval: true,
      leaderboard_visible: false,
      digest: "weekly",
      time_zone: "Europe/Helsinki",
      cpc: { amount: 120, currency: "USD" },
      min_group_size: 5,
      points: { per_share: 10, per_unique_click: 1 },
    });
  });
});
