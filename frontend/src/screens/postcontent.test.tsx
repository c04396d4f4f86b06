import { afterEach, describe, expect, it, vi } from "vitest";
import { cleanup, fireEvent, render, screen, waitFor } from "@testing-library/react";
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { MemoryRouter } from "react-router";
import { api, type Post } from "../api/client";
import { PostContent, changedBody, fieldsOf } from "./PostContent";

afterEach(() => {
  cleanup();
  vi.restoreAllMocks();
});

const stored: Post = {
  id: "p1",
  state: "published",
  url: "https://example.com/a",
  title: "Launch",
  commentary: "We launched",
  share_texts: { x: "On X" },
  topics: ["t1"],
  publish_at: "2026-11-23T10:00:00Z",
  preview: {},
  shared_to: [],
};

const networks = [
  { name: "mastodon", state: "allowed", allowed: true },
  { name: "bluesky", state: "not_allowed", allowed: false },
  { name: "linkedin", state: "not_configured", allowed: false },
  { name: "x", state: "allowed", allowed: true },
  { name: "facebook", state: "not_configured", allowed: false },
];

function setup(nets = networks) {
  vi.spyOn(api, "GET").mockImplementation(((path: string) =>
    Promise.resolve({
      data: {
        items: path === "/api/v1/networks" ? nets : path === "/api/v1/groups" ? [{ id: "g1", name: "Sales team", rules: [], attributes: [] }] : [{ id: "t1", name: "Engineering" }],
      },
      response: new Response(null, { status: 200 }),
    })) as never);
  const post = vi.spyOn(api, "POST").mockImplementation(((_p: string, init: { body: Record<string, unknown> }) =>
    Promise.resolve({
      data: { ...stored, ...init.body, state: init.body.draft ? "draft" : "published" },
      response: new Response(null, { status: 201 }),
    })) as never);
  const qc = new QueryClient({ defaultOptions: { queries: { retry: false } } });
  render(
    <QueryClientProvider client={qc}>
      <MemoryRouter>
        <PostContent />
      </MemoryRouter>
    </QueryClientProvider>,
  );
  return post;
}

describe("PostContent", () => {
  it("offers share texts only for the networks the admins allow", async () => {
    setup();
    await screen.findByLabelText("Mastodon");
    expect(screen.getByLabelText("X")).toBeTruthy();
    for (const hidden of ["Bluesky", "LinkedIn", "Facebook"]) expect(screen.queryByLabelText(hidden)).toBeNull();
  });
  it("says members can still pass links on when no network is allowed", async () => {
    setup(networks.map((n) => ({ ...n, state: n.state === "allowed" ? "not_allowed" : n.state, allowed: false })));
    await screen.findByText(/have not allowed any social network yet: members can still copy a tracked link/);
    expect(screen.queryByLabelText("Mastodon")).toBeNull();
  });
  it("sends the fields, non-empty share texts only, and clears the form", async () => {
    const post = setup();
    fireEvent.change(screen.getByLabelText("Link"), { target: { value: " https://example.com/new " } });
    fireEvent.change(screen.getByLabelText(/^Title/), { target: { value: "New" } });
    fireEvent.click(await screen.findByLabelText("Engineering"));
    fireEvent.change(await screen.findByLabelText("Mastodon"), { target: { value: "Toot" } });
    fireEvent.click(screen.getByRole("button", { name: "Publish" }));
    await screen.findByText(/Published:/);
    expect(post).toHaveBeenCalledWith("/api/v1/content", {
      body: { url: "https://example.com/new", title: "New", commentary: "", topics: ["t1"], share_texts: { mastodon: "Toot" } },
    });
    await waitFor(() => expect((screen.getByLabelText("Link") as HTMLInputElement).value).toBe(""));
  });
  it("aims the post at the groups ticked, everyone when none is", async () => {
    const post = setup();
    fireEvent.change(screen.getByLabelText("Link"), { target: { value: "https://example.com/aimed" } });
    expect(screen.getByText(/Everyone sees it/)).toBeTruthy();
    fireEvent.click(await screen.findByLabelText("Sales team"));
    expect(screen.getByText(/Only members of the groups ticked see it/)).toBeTruthy();
    fireEvent.click(screen.getByRole("button", { name: "Publish" }));
    await screen.findByText(/Published:/);
    expect((post.mock.calls[0] as unknown as [string, { body: { audience: string[] } }])[1].body.audience).toEqual(["g1"]);
  });
  it("blocks a text over its network's limit, and saves drafts", async () => {
    const post = setup();
    fireEvent.change(screen.getByLabelText("Link"), { target: { value: "https://example.com/d" } });
    fireEvent.change(await screen.findByLabelText("X"), { target: { value: "a".repeat(257) } });
    expect(screen.getByRole("alert").textContent).toBe("Too long for X.");
    expect((screen.getByRole("button", { name: "Publish" }) as HTMLButtonElement).disabled).toBe(true);
    expect((screen.getByRole("button", { name: "Save as draft" }) as HTMLButtonElement).disabled).toBe(true);
    fireEvent.change(screen.getByLabelText("X"), { target: { value: "a".repeat(255) } }); // 255 + a blank line and the link, 25 = 280
    expect(screen.queryByRole("alert")).toBeNull();
    fireEvent.click(screen.getByRole("button", { name: "Save as draft" }));
    await screen.findByText(/Draft saved:/);
    expect((post.mock.calls[0] as unknown as [string, { body: { draft: boolean } }])[1].body.draft).toBe(true);
  });
});

describe("changedBody", () => {
  it("sends only what the curator changed", () => {
    const was = fieldsOf(stored);
    expect(changedBody(was, was)).toEqual({});
    const now = { ...was, title: "Edited", texts: { ...was.texts, bluesky: "Sky" } };
    expect(changedBody(now, was)).toEqual({ title: "Edited", share_texts: { x: "On X", bluesky: "Sky" } });
  });
  it("sends a new audience, and [] when it is everyone again", () => {
    const was = fieldsOf({ ...stored, audience: ["g1"] });
    expect(was.audience).toEqual(["g1"]);
    expect(changedBody({ ...was, audience: ["g1", "g2"] }, was)).toEqual({ audience: ["g1", "g2"] });
    expect(changedBody({ ...was, audience: [] }, was)).toEqual({ audience: [] });
  });
  it("sends a cleared expiry as none and a cleared publish time as now", () => {
    const was = fieldsOf({ ...stored, publish_at: "2099-01-01T09:00:00Z", expires_at: "2099-02-01T09:00:00Z" });
    const at = new Date("2026-11-23T12:00:00Z");
    expect(changedBody({ ...was, expiresAt: "" }, was, at)).toEqual({ expires_at: "" });
    expect(changedBody({ ...was, publishAt: "" }, was, at)).toEqual({ publish_at: "2026-11-23T12:00:00.000Z" });
  });
  it("leaves a draft's past publish time (when it was written) out of the form", () => {
    const now = Date.parse("2026-11-23T12:00:00Z");
    expect(fieldsOf({ ...stored, state: "draft", publish_at: "2026-11-20T10:00:00Z" }, now).publishAt).toBe("");
    expect(fieldsOf({ ...stored, state: "draft", publish_at: "2026-12-01T10:00:00Z" }, now).publishAt).not.toBe("");
    expect(fieldsOf({ ...stored, publish_at: "2026-11-20T10:00:00Z" }, now).publishAt).not.toBe("");
  });
});
