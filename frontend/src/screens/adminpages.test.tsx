import { afterEach, describe, expect, it, vi } from "vitest";
import { cleanup, render, screen, within } from "@testing-library/react";
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { MemoryRouter, Route, Routes } from "react-router";
import type { ReactNode } from "react";
import { api } from "../api/client";
import { Admin } from "./Admin";
import { setupSteps } from "./admin/Setup";

afterEach(() => {
  cleanup();
  vi.restoreAllMocks();
});

const t = (s: string, o?: Record<string, unknown>) => s.replace(/\{\{(\w+)\}\}/g, (_, k: string) => String(o?.[k] ?? ""));

/** Answers GETs by path from answers; anything else is an empty list. */
function mockGET(answers: Record<string, unknown>) {
  return vi.spyOn(api, "GET").mockImplementation(((path: string) =>
    Promise.resolve({ data: answers[path] ?? { items: [] }, response: new Response(null, { status: 200 }) })) as never);
}

/** Renders the admin console at path, mounted as the app mounts it. */
function renderAt(path: string, node: ReactNode = <Routes><Route path="/admin/*" element={<Admin />} /></Routes>) {
  render(
    <QueryClientProvider client={new QueryClient({ defaultOptions: { queries: { retry: false } } })}>
      <MemoryRouter initialEntries={[path]}>{node}</MemoryRouter>
    </QueryClientProvider>,
  );
}

const instance = (verified: boolean) => ({ id: "i1", name: "Acme", domains: ["acme.example"], verified, settings: {} });
const networks = {
  items: [
    { name: "mastodon", state: "not_allowed", allowed: false, federated: true },
    { name: "bluesky", state: "allowed", allowed: true },
    { name: "linkedin", state: "not_configured", allowed: false },
    { name: "x", state: "not_configured", allowed: false },
    { name: "facebook", state: "not_configured", allowed: false },
  ],
};

describe("setupSteps", () => {
  it("says what is left to do on a new instance", () => {
    const steps = setupSteps({ verified: false, allowed: [], invitations: 0, members: 1, posts: 0 }, t);
    expect(steps.map((s) => [s.id, s.done])).toEqual([["domain", false], ["networks", false], ["people", false], ["post", false]]);
    expect(steps[1]!.detail).toBe("No network is allowed yet: members can only copy tracked links.");
  });
  it("ticks each step from the instance's data", () => {
    const steps = setupSteps({ verified: true, allowed: ["bluesky"], invitations: 3, members: 1, posts: 1 }, t);
    expect(steps.every((s) => s.done)).toBe(true);
    expect(steps[1]!.detail).toBe("Allowed: bluesky.");
    expect(steps[2]!.detail).toBe("3 invited, 1 members.");
    // Colleagues who joined without an invitation count as invited people too.
    expect(setupSteps({ verified: true, allowed: [], invitations: 0, members: 2, posts: 0 }, t)[2]!.done).toBe(true);
  });
});

describe("Admin pages", () => {
  it("opens on the set-up checklist, computed from the API", async () => {
    mockGET({
      "/api/v1/instance": instance(true),
      "/api/v1/networks": networks,
      "/api/v1/invitations": { items: [] },
      "/api/v1/members": { items: [{ id: "m1" }] },
      "/api/v1/content": { items: [] },
    });
    renderAt("/admin");
    await screen.findByText("2 of 4 done."); // verified, Bluesky allowed
    expect(screen.getByText(/Verify the company's domain/).textContent).toContain("(done)");
    expect(screen.getByText(/Allow social networks/).textContent).toContain("(done)");
    expect(screen.getByText(/Invite colleagues/).textContent).toContain("(to do)");
    expect(screen.getByText(/Post the first content/).textContent).toContain("(to do)");
    expect(screen.getByRole("link", { name: "Invite people" }).getAttribute("href")).toBe("/admin/people");
    // One topic a page: the other sections are not on this one.
    expect(screen.queryByRole("heading", { name: "Audit log" })).toBeNull();
    expect(screen.getByRole("navigation", { name: "Admin sections" })).toBeTruthy();
  });

  it("disables Allow with the reason until the domain is verified, and explains networks not set up", async () => {
    mockGET({ "/api/v1/instance": instance(false), "/api/v1/networks": networks });
    renderAt("/admin/networks");
    const allow = (await screen.findByRole("button", { name: "Allow Mastodon" })) as HTMLButtonElement;
    await screen.findByText(/Allowing a network needs a verified company domain/);
    expect(allow.disabled).toBe(true);
    expect(allow.getAttribute("aria-describedby")).toBe("networks-unverified");
    expect(screen.getByRole("link", { name: "Verify your domain" }).getAttribute("href")).toBe("/admin/domains");
    expect(within(screen.getByRole("row", { name: /^LinkedIn/ })).getByText("Not set up on this server")).toBeTruthy();
    expect(screen.queryByRole("button", { name: "Allow LinkedIn" })).toBeNull();
    expect(screen.getByText(/LinkedIn, X, Facebook need app credentials/)).toBeTruthy();
    expect(screen.getByText("CHORUS_LINKEDIN_CLIENT_ID")).toBeTruthy();
    expect(screen.getByRole("link", { name: "How to set up a network" }).getAttribute("href")).toMatch(/\/docs\/connections\.md#registering-chorus-with-each-network$/);
  });

  it("enables Allow once the domain is verified", async () => {
    mockGET({ "/api/v1/instance": instance(true), "/api/v1/networks": networks });
    renderAt("/admin/networks");
    await screen.findByRole("row", { name: /^Mastodon/ });
    await vi.waitFor(() => expect((screen.getByRole("button", { name: "Allow Mastodon" }) as HTMLButtonElement).disabled).toBe(false));
    expect(screen.queryByText(/needs a verified company domain/)).toBeNull();
  });

  it("names people by address in the audit log", async () => {
    mockGET({
      "/api/v1/audit": {
        items: [
          { id: "a1", seq: 2, at: "2026-12-01T10:00:00Z", actor: { kind: "member", id: "m1", email: "alice@acme.example" }, action: "invitation.sent", target: "inv1", target_email: "dan@acme.example" },
          { id: "a2", seq: 1, at: "2026-12-01T09:00:00Z", actor: { kind: "member", id: "gone" }, action: "member.removed", target: "gone" },
        ],
        next_cursor: null,
      },
    });
    renderAt("/admin/audit");
    const sent = await screen.findByRole("row", { name: /invitation sent/ });
    expect(within(sent).getByText("alice@acme.example")).toBeTruthy();
    expect(within(sent).getByText("dan@acme.example")).toBeTruthy();
    expect(within(screen.getByRole("row", { name: /member removed/ })).getByText("a former member (gone)")).toBeTruthy();
  });
});
