import { afterEach, describe, expect, it, vi } from "vitest";
import { cleanup, fireEvent, render, screen, waitFor, within } from "@testing-library/react";
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { MemoryRouter } from "react-router";
import type { ReactNode } from "react";
import { api, type Post } from "../api/client";
import { byNetwork, defaultText, localToISO, type Connection, type Share } from "../lib/networks";
import { ComposerForm } from "./Composer";
import { ShareState } from "../components/ShareState";

afterEach(() => {
  cleanup();
  vi.restoreAllMocks();
});

function wrap(ui: ReactNode) {
  const qc = new QueryClient({ defaultOptions: { queries: { retry: false } } });
  return render(
    <QueryClientProvider client={qc}>
      <MemoryRouter>{ui}</MemoryRouter>
    </QueryClientProvider>,
  );
}

const ok = (data: unknown) => Promise.resolve({ data, response: new Response(null, { status: 200 }) });

const post: Post = {
  id: "p1",
  state: "published",
  url: "https://example.com/a",
  title: "Launch",
  commentary: "We launched",
  share_texts: { bluesky: "Bluesky text" },
  topics: [],
  publish_at: "2026-11-23T10:00:00Z",
  preview: {},
  shared_to: [],
};

const conns: Connection[] = [
  { id: "c-bsky", network: "bluesky", handle: "carol.test", status: "active", followers: 3 },
  { id: "c-x", network: "x", handle: "@carol", status: "active", followers: 0 },
  { id: "c-masto", network: "mastodon", handle: "@carol@m.example", status: "needs_reconnect", followers: 0 },
  { id: "c-li", network: "linkedin", handle: "Carol", status: "active", followers: 0 },
];

function mockAPI() {
  vi.spyOn(api, "GET").mockImplementation(((path: string) => {
    if (path === "/api/v1/networks")
      return ok({
        items: [
          { name: "bluesky", allowed: true },
          { name: "x", allowed: true },
          { name: "mastodon", allowed: true, federated: true },
          { name: "linkedin", allowed: false },
        ],
      });
    if (path === "/api/v1/connections") return ok({ items: conns });
    throw new Error("unexpected GET " + path);
  }) as never);
  return vi.spyOn(api, "POST").mockImplementation(((_path: string, init: { body: { connections: string[] } }) =>
    ok({
      items: init.body.connections.map((c) => ({
        id: "s-" + c,
        content_id: "p1",
        connection_id: c,
        network: conns.find((x) => x.id === c)!.network,
        state: "queued",
        tracked_url: "http://x/r/1",
        publish_at: "2026-11-23T10:00:00Z",
      })),
    })) as never);
}

describe("composer helpers", () => {
  it("prefills the curators' text per network, else the title, else the page's title: never the commentary", () => {
    expect(defaultText(post, "bluesky")).toBe("Bluesky text");
    expect(defaultText(post, "x")).toBe("Launch");
    expect(defaultText({ ...post, title: "", preview: { title: "Page title" } }, "x")).toBe("Page title");
    expect(defaultText({ ...post, title: "" }, "x")).toBe("");
  });
  it("groups picked connections by network", () => {
    expect([...byNetwork(["c-x", "c-bsky", "nope"], conns)]).toEqual([
      ["x", ["c-x"]],
      ["bluesky", ["c-bsky"]],
    ]);
  });
  it("reads a local time as the member's time zone", () => {
    expect(localToISO("")).toBeUndefined();
    expect(localToISO("2026-12-01T09:30")).toBe(new Date(2026, 11, 1, 9, 30).toISOString());
  });
});

describe("ComposerForm", () => {
  it("offers only active accounts of allowed networks, counts live and blocks over-long texts", async () => {
    mockAPI();
    wrap(<ComposerForm post={post} onShared={() => undefined} />);
    const share = await screen.findByRole("button", { name: "Share now" });
    expect(screen.getByLabelText("Bluesky: carol.test")).toBeTruthy();
    expect(screen.getByLabelText("X: @carol")).toBeTruthy();
    expect(screen.queryByLabelText(/LinkedIn/)).toBeNull(); // not whitelisted
    expect(screen.getByText(/not allowed by your admins/)).toBeTruthy();
    expect(screen.getByText(/Needs reconnecting/)).toBeTruthy();

    const bsky = screen.getByLabelText("Bluesky") as HTMLTextAreaElement;
    expect(bsky.value).toBe("Bluesky text");
    // No text for X: the title, not the note to colleagues.
    expect((screen.getByLabelText("X") as HTMLTextAreaElement).value).toBe("Launch");
    expect(screen.getByText("12 / 300 graphemes")).toBeTruthy();
    fireEvent.change(bsky, { target: { value: "é".repeat(301) } });
    expect(screen.getByText(/301 \/ 300 graphemes.*1 too many/)).toBeTruthy();
    expect((share as HTMLButtonElement).disabled).toBe(true);
    expect(screen.getByRole("alert").textContent).toContain("Too long for Bluesky");

    fireEvent.click(screen.getByLabelText("Bluesky: carol.test"));
    expect(screen.queryByLabelText("Bluesky")).toBeNull();
    expect((share as HTMLButtonElement).disabled).toBe(false);
  });

  it("posts one request per network with its text and an idempotency key, then reports the shares", async () => {
    const post$ = mockAPI();
    const shared = vi.fn();
    wrap(<ComposerForm post={post} onShared={shared} />);
    fireEvent.change(await screen.findByLabelText("X"), { target: { value: "  My take  " } });
    fireEvent.click(screen.getByRole("button", { name: "Share now" }));
    await waitFor(() => expect(shared).toHaveBeenCalled());
    expect(post$).toHaveBeenCalledTimes(2);
    const calls = post$.mock.calls as unknown as [string, { body: unknown; params: { header: Record<string, string> } }][];
    expect(calls.map((c) => c[1].body)).toEqual([
      { connections: ["c-bsky"], text: "Bluesky text" },
      { connections: ["c-x"], text: "My take" },
    ]);
    expect(JSON.stringify(calls)).not.toContain(post.commentary);
    const keys = calls.map((c) => c[1].params.header["Idempotency-Key"]);
    expect(new Set(keys).size).toBe(2);
    expect(shared.mock.calls[0]![0]).toHaveLength(2);
  });

  it("says why a network the admins stopped allowing refuses the share, and shows the account as not allowed", async () => {
    mockAPI();
    let bskyAllowed = true;
    vi.spyOn(api, "GET").mockImplementation(((path: string) => {
      if (path === "/api/v1/networks") return ok({ items: [{ name: "bluesky", allowed: bskyAllowed }] });
      if (path === "/api/v1/connections") return ok({ items: [conns[0]] });
      throw new Error("unexpected GET " + path);
    }) as never);
    const message = "your company's admins no longer allow this network (bluesky): reconnecting cannot help, ask them to allow it again";
    vi.spyOn(api, "POST").mockImplementation((() => {
      bskyAllowed = false;
      return Promise.resolve({
        error: { status: 403, code: "network_not_allowed", detail: "connections[0]: " + message, errors: [{ field: "connections[0]", message }] },
        response: new Response(null, { status: 403 }),
      });
    }) as never);
    wrap(<ComposerForm post={post} onShared={() => undefined} />);
    fireEvent.click(await screen.findByRole("button", { name: "Share now" }));
    expect((await screen.findByRole("alert")).textContent).toContain("reconnecting cannot help");
    expect(await screen.findByText(/not allowed by your admins/)).toBeTruthy();
  });

  it("schedules at a time in the member's zone", async () => {
    const post$ = mockAPI();
    wrap(<ComposerForm post={post} onShared={() => undefined} />);
    fireEvent.click(await screen.findByLabelText("At a time"));
    const button = screen.getByRole("button", { name: "Schedule" }) as HTMLButtonElement;
    expect(button.disabled).toBe(true);
    fireEvent.change(screen.getByLabelText(/Date and time/), { target: { value: "2030-01-02T08:15" } });
    fireEvent.click(button);
    await waitFor(() => expect(post$).toHaveBeenCalled());
    const body = (post$.mock.calls[0] as unknown as [string, { body: { publish_at: string } }])[1].body;
    expect(body.publish_at).toBe(new Date(2030, 0, 2, 8, 15).toISOString());
  });
});

describe("ShareState", () => {
  const base: Share = {
    id: "s1",
    content_id: "p1",
    connection_id: "c-masto",
    network: "mastodon",
    state: "queued",
    tracked_url: "http://x/r/1",
    publish_at: "2026-11-23T10:00:00Z",
  };
  it("links a published share to the post", () => {
    wrap(<ShareState share={{ ...base, state: "published", post_url: "https://m.example/@carol/1" }} />);
    const link = screen.getByRole("link", { name: "View the post on Mastodon" });
    expect(link.getAttribute("href")).toBe("https://m.example/@carol/1");
  });
  it("never links a non-http post URL", () => {
    wrap(<ShareState share={{ ...base, state: "published", post_url: "javascript:alert(1)" }} />);
    expect(screen.queryByRole("link")).toBeNull();
  });
  it("shows the failure reason as text and a reconnect button when the account needs it", () => {
    const { container } = wrap(
      <ShareState
        share={{ ...base, state: "failed", error: "<b>token revoked</b>" }}
        connection={conns[2]}
      />,
    );
    expect(container.textContent).toContain("Failed: <b>token revoked</b>");
    expect(container.querySelector("b")).toBeNull();
    expect(screen.getByRole("button", { name: "Reconnect Mastodon @carol@m.example" })).toBeTruthy();
  });
  it("explains unconfirmed", () => {
    wrap(<ShareState share={{ ...base, state: "unconfirmed" }} />);
    expect(screen.getByText(/does not post it again/)).toBeTruthy();
  });
  it("says when a scheduled share goes", () => {
    const { container } = wrap(<ShareState share={{ ...base, state: "scheduled" }} />);
    expect(within(container).getByText("Scheduled")).toBeTruthy();
    expect(container.querySelector("time")?.getAttribute("datetime")).toBe(base.publish_at);
  });
});
