import { afterEach, describe, expect, it, vi } from "vitest";
import { cleanup, render, screen } from "@testing-library/react";
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { MemoryRouter } from "react-router";
import { api, type Role } from "../api/client";
import type { Summary } from "../lib/analytics";
import { Tiles, percentOf } from "./Analytics";

afterEach(() => {
  cleanup();
  vi.restoreAllMocks();
});

const base: Summary = {
  from: "2026-11-01",
  to: "2026-11-30",
  shares: 12,
  clicks: 40,
  unique_clicks: 30,
  potential_reach: 5000,
  engagement: 0,
  earned_media_value: { amount: 0, currency: "" },
};

function renderTiles(s: Summary, role: Role) {
  vi.spyOn(api, "GET").mockResolvedValue({
    data: { member: { id: "m1", email: "a@acme.example", name: "A", role, topics: [] }, instance: { id: "i1", name: "Acme", domains: [], verified: true } },
    response: new Response(null, { status: 200 }),
  } as never);
  render(
    <QueryClientProvider client={new QueryClient()}>
      <MemoryRouter>
        <Tiles s={s} />
      </MemoryRouter>
    </QueryClientProvider>,
  );
}

describe("Tiles", () => {
  it("shows adoption first: members who shared, of all, and those connected", async () => {
    renderTiles({ ...base, members: 8, members_connected: 5, members_sharing: 2 }, "analyst");
    const terms = screen.getAllByRole("term").map((d) => d.textContent);
    expect(terms[0]).toBe("Adoption");
    expect(screen.getByText("25%")).toBeTruthy();
    expect(screen.getByText("2 of 8 members shared · 5 connected an account")).toBeTruthy();
  });

  it("has no adoption tile for a member's own figures", () => {
    renderTiles(base, "employee");
    expect(screen.getAllByRole("term")[0]!.textContent).toBe("Shares");
  });

  it("links admins to setting the cost per click", async () => {
    renderTiles(base, "admin");
    const link = await screen.findByRole("link", { name: "Set a cost per click to price clicks" });
    expect(link.getAttribute("href")).toBe("/admin/settings#set-cpc");
  });

  it("percentOf rounds, and has no figure without members", () => {
    expect(percentOf(1, 3)).toBe("33%");
    expect(percentOf(0, 0)).toBe("–");
  });
});
