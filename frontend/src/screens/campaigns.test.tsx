import { afterEach, describe, expect, it, vi } from "vitest";
import { cleanup, fireEvent, render, screen, waitFor, within } from "@testing-library/react";
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { MemoryRouter, Route, Routes } from "react-router";
import type { ReactNode } from "react";
import { api, type Post } from "../api/client";
import { blankCampaign, campaignBody, campaignFormError, fill, type Campaign, type CampaignProgress } from "../lib/campaigns";
import { CampaignPage, Campaigns } from "./Campaigns";
import { Feed } from "./Feed";
import { PostContent, changedBody, fieldsOf } from "./PostContent";

afterEach(() => {
  cleanup();
  vi.restoreAllMocks();
});

function wrap(children: ReactNode, at = "/") {
  const qc = new QueryClient({ defaultOptions: { queries: { retry: false }, mutations: { retry: false } } });
  return render(
    <QueryClientProvider client={qc}>
      <MemoryRouter initialEntries={[at]}>{children}</MemoryRouter>
    </QueryClientProvider>,
  );
}

const spring: Campaign = {
  id: "c1",
  name: "Spring launch",
  description: "Share the launch posts",
  start: "2026-12-01T09:00:00Z",
  end: "2026-12-15T17:00:00Z",
  goal: { metric: "clicks", target: 200 },
  archived: false,
  status: "active",
  created_by: "m1",
  created_at: "2026-11-30T10:00:00Z",
  updated_at: "2026-11-30T10:00:00Z",
};

const progress: CampaignProgress = {
  metric: "clicks",
  target: 200,
  value: 50,
  shares: 7,
  clicks: 50,
  percent: 25,
  elapsed_percent: 40,
  expected: 80,
  on_track: false,
  status: "active",
  posts: 2,
  as_of: "2026-12-07T10:00:00Z",
};

const post: Post = {
  id: "p1",
  state: "published",
  url: "https://www.example.com/launch",
  title: "Our launch",
  commentary: "",
  share_texts: {},
  topics: [],
  publish_at: "2026-12-02T10:00:00Z",
  preview: {},
  shared_to: [],
};

function mockGets(routes: Record<string, unknown>) {
  return vi.spyOn(api, "GET").mockImplementation(((path: string) => {
    if (!(path in routes)) return Promise.resolve({ data: { items: [] }, response: new Response(null, { status: 200 }) });
    return Promise.resolve({ data: routes[path], response: new Response(null, { status: 200 }) });
  }) as never);
}

describe("campaign form rules", () => {
  it("refuses an end before the start and a target that is not a whole number ≥ 1", () => {
    expect(campaignFormError({ ...blankCampaign, start: "2026-12-02T10:00", end: "2026-12-01T10:00" })).toBe("end");
    expect(campaignFormError({ ...blankCampaign, start: "2026-12-02T10:00", end: "2026-12-02T10:00" })).toBe("end");
    expect(campaignFormError({ ...blankCampaign, target: "0" })).toBe("target");
    expect(campaignFormError({ ...blankCampaign, target: "2.5" })).toBe("target");
    expect(campaignFormError({ ...blankCampaign, start: "2026-12-01T10:00", end: "2026-12-02T10:00", target: "10" })).toBe("");
  });
  it("sends trimmed fields, times in UTC and the goal", () => {
    const body = campaignBody(
      { name: " Spring ", description: " Go ", start: "a", end: "b", metric: "clicks", target: "40" },
      (l) => (l === "a" ? "2026-12-01T09:00:00.000Z" : "2026-12-15T17:00:00.000Z"),
    );
    expect(body).toEqual({
      name: "Spring",
      description: "Go",
      start: "2026-12-01T09:00:00.000Z",
      end: "2026-12-15T17:00:00.000Z",
      goal: { metric: "clicks", target: 40 },
    });
  });
  it("fills the bar up to its end however far the goal is passed", () => {
    expect(fill({ percent: 25 })).toBe(25);
    expect(fill({ percent: 180 })).toBe(100);
  });
});

describe("Campaigns", () => {
  it("lists campaigns with their progress bar and pace", async () => {
    mockGets({ "/api/v1/campaigns": { items: [spring], next_cursor: null }, "/api/v1/campaigns/{id}/progress": progress });
    wrap(<Campaigns />);
    const list = await screen.findByRole("list", { name: "Campaigns" });
    const row = (await within(list).findAllByRole("listitem"))[0]!;
    expect(row.textContent).toContain("Spring launch");
    expect(row.textContent).toContain("Active");
    const bar = await screen.findByLabelText("Progress of Spring launch");
    expect(bar.getAttribute("value")).toBe("25");
    expect(row.textContent).toContain("50 of 200 clicks (25%)");
    expect(row.textContent).toContain("Behind: 80 expected by now");
  });

  it("creates a campaign with a goal, and refuses an end before the start without asking the server", async () => {
    mockGets({ "/api/v1/campaigns": { items: [], next_cursor: null } });
    const post = vi.spyOn(api, "POST").mockResolvedValue({ data: spring, response: new Response(null, { status: 201 }) } as never);
    wrap(<Campaigns />);
    expect(await screen.findByText("No campaigns yet.")).toBeTruthy();
    fireEvent.change(screen.getByLabelText("Name"), { target: { value: "Spring launch" } });
    fireEvent.change(screen.getByLabelText("Start"), { target: { value: "2026-12-10T09:00" } });
    fireEvent.change(screen.getByLabelText("End"), { target: { value: "2026-12-01T09:00" } });
    fireEvent.change(screen.getByLabelText("Count"), { target: { value: "clicks" } });
    fireEvent.change(screen.getByLabelText("Target"), { target: { value: "200" } });
    expect(screen.getByRole("alert").textContent).toBe("The end must be after the start.");
    expect((screen.getByRole("button", { name: "Create campaign" }) as HTMLButtonElement).disabled).toBe(true);
    fireEvent.change(screen.getByLabelText("End"), { target: { value: "2026-12-15T17:00" } });
    fireEvent.click(screen.getByRole("button", { name: "Create campaign" }));
    await waitFor(() => expect(post).toHaveBeenCalledTimes(1));
    const body = (post.mock.calls[0]![1] as { body: Record<string, unknown> }).body;
    expect(body.name).toBe("Spring launch");
    expect(body.goal).toEqual({ metric: "clicks", target: 200 });
    expect(new Date(body.end as string).getTime()).toBeGreaterThan(new Date(body.start as string).getTime());
    expect(await screen.findByText("Campaign created: Spring launch.")).toBeTruthy();
  });

  it("shows a campaign's posts and adds a recent post to it", async () => {
    mockGets({
      "/api/v1/campaigns/{id}": spring,
      "/api/v1/campaigns/{id}/progress": progress,
      "/api/v1/content": { items: [{ ...post, campaign_id: "c1", shares: 3, clicks: 9 }, { ...post, id: "p2", title: "Hiring" }], next_cursor: null },
    });
    const patch = vi.spyOn(api, "PATCH").mockResolvedValue({ data: { ...post, id: "p2" }, response: new Response(null, { status: 200 }) } as never);
    wrap(
      <Routes>
        <Route path="/campaigns/:id" element={<CampaignPage />} />
      </Routes>,
      "/campaigns/c1",
    );
    expect(await screen.findByRole("heading", { name: "Spring launch" })).toBeTruthy();
    await screen.findByLabelText("Progress of Spring launch");
    const picker = await screen.findByLabelText("Add a post");
    await within(picker).findByRole("option", { name: "Hiring" });
    // A post already in a campaign is not offered.
    expect(within(picker).queryByRole("option", { name: "Our launch" })).toBeNull();
    fireEvent.change(picker, { target: { value: "p2" } });
    fireEvent.click(screen.getByRole("button", { name: "Add to campaign" }));
    await waitFor(() =>
      expect(patch).toHaveBeenCalledWith("/api/v1/content/{id}", { params: { path: { id: "p2" } }, body: { campaign_id: "c1" } }),
    );
  });
});

describe("the feed's campaign strip", () => {
  it("shows the running campaigns and filters the feed to one", async () => {
    const get = mockGets({
      "/api/v1/me": {
        member: { id: "m1", email: "e@acme.example", name: "E", role: "employee", title: "", topics: [], onboarding: { dismissed: true } },
        instance: { id: "i1", name: "Acme", domains: ["acme.example"], verified: true },
      },
      "/api/v1/campaigns/active": { items: [spring] },
      "/api/v1/content": { items: [post], next_cursor: null },
    });
    wrap(<Feed />);
    const strip = await screen.findByRole("region", { name: "Running campaigns" });
    expect(await within(strip).findByText("Spring launch")).toBeTruthy();
    expect(strip.textContent).toContain("until ");
    expect(strip.textContent).toContain("Share the launch posts");
    fireEvent.click(within(strip).getByRole("button", { name: "See its posts (Spring launch)" }));
    await waitFor(() =>
      expect(
        (get.mock.calls as unknown as [string, { params?: { query?: { campaign?: string } } }][]).some(
          ([path, init]) => path === "/api/v1/content" && init.params?.query?.campaign === "c1",
        ),
      ).toBe(true),
    );
    expect(screen.getByText("Showing the posts of the campaign Spring launch.")).toBeTruthy();
    fireEvent.click(within(strip).getByRole("button", { name: "Show all posts" }));
    await waitFor(() => expect(screen.queryByText("Showing the posts of the campaign Spring launch.")).toBeNull());
  });
});

describe("the content editor's campaign picker", () => {
  it("puts a new post into a campaign", async () => {
    mockGets({ "/api/v1/campaigns": { items: [spring], next_cursor: null } });
    const create = vi.spyOn(api, "POST").mockResolvedValue({ data: { ...post, campaign_id: "c1" }, response: new Response(null, { status: 201 }) } as never);
    wrap(<PostContent />);
    fireEvent.change(screen.getByLabelText("Link"), { target: { value: "https://www.example.com/launch" } });
    const picker = screen.getByLabelText("Campaign");
    await within(picker).findByRole("option", { name: "Spring launch" });
    fireEvent.change(picker, { target: { value: "c1" } });
    fireEvent.click(screen.getByRole("button", { name: "Publish" }));
    await waitFor(() => expect(create).toHaveBeenCalledTimes(1));
    expect((create.mock.calls[0]![1] as { body: Record<string, unknown> }).body.campaign_id).toBe("c1");
  });
  it("takes a post out of its campaign with an empty campaign_id", () => {
    const was = fieldsOf({ ...post, campaign_id: "c1" });
    expect(was.campaign).toBe("c1");
    expect(changedBody({ ...was, campaign: "" }, was)).toEqual({ campaign_id: "" });
    expect(changedBody({ ...was, campaign: "c2" }, was)).toEqual({ campaign_id: "c2" });
    expect(changedBody(was, was)).toEqual({});
  });
});
