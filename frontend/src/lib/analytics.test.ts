import { describe, expect, it } from "vitest";
import { settingsBody, settingsFields } from "../screens/Admin";
import { csvHref, formatMoney, fromMinor, lastDays, toMinor } from "./analytics";

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
    expect(lastDays(30, new Date(2026, 2, 10))).toEqual({ from: "2026-02-09", to: "2026-03-10" });
    expect(lastDays(1, new Date(2026, 0, 1))).toEqual({ from: "2026-01-01", to: "2026-01-01" });
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
