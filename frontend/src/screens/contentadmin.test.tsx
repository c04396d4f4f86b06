import { afterEach, describe, expect, it, vi } from "vitest";
import { cleanup, fireEvent, render, screen, waitFor } from "@testing-library/react";
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { MemoryRouter } from "react-router";
import { api, type Post } from "../api/client";
import { ContentList, expireNowBody } from "./ContentAdmin";

afterEach(() => {
  cleanup();
  vi.restoreAllMocks();
});

const published: Post = {
  id: "p1",
  state: "published",
  url: "https://example.com/a",
  title: "Launch",
  commentary: "",
  share_texts: {},
  topics: [],
  publish_at: "2026-11-23T10:00:00Z",
  preview: {},
  shared_to: [],
};

function setup(items: Post[]) {
  const get = vi.spyOn(api, "GET").mockImplementation(((path: string) =>
    Promise.resolve({
      data: path === "/api/v1/content" ? { items, next_cursor: null } : { items: [] },
      response: new Response(null, { status: 200 }),
    })) as never);
  const patch = vi.spyOn(api, "PATCH").mockImplementation(((_p: string, init: { body: { expires_at: string } }) =>
    Promise.resolve({
      data: { ...published, state: "expired", expires_at: init.body.expires_at },
      response: new Response(null, { status: 200 }),
    })) as never);
  render(
    <QueryClientProvider client={new QueryClient({ defaultOptions: { queries: { retry: false } } })}>
      <MemoryRouter initialEntries={["/content?state=published"]}>
        <ContentList />
      </MemoryRouter>
    </QueryClientProvider>,
  );
  return { get, patch };
}

describe("ContentList: expire now", () => {
  it("asks first, then sets the expiry to now through PATCH and reloads the list", async () => {
    const { get, patch } = setup([published]);
    const before = Date.now();
    fireEvent.click(await screen.findByRole("button", { name: "Expire now: Launch" }));
    expect(screen.getByRole("dialog").textContent).toContain("Expire “Launch” now?");
    fireEvent.click(screen.getByRole("button", { name: "Cancel" }));
    expect(patch).not.toHaveBeenCalled();

    fireEvent.click(screen.getByRole("button", { name: "Expire now: Launch" }));
    fireEvent.click(screen.getByRole("button", { name: "Expire now" }));
    await screen.findByText("“Launch” expired: it is no longer in the feed.");
    expect(patch).toHaveBeenCalledTimes(1);
    const [path, init] = patch.mock.calls[0] as unknown as [string, { params: { path: { id: string } }; body: { expires_at: string } }];
    expect(path).toBe("/api/v1/content/{id}");
    expect(init.params.path.id).toBe("p1");
    expect(Object.keys(init.body)).toEqual(["expires_at"]);
    const at = Date.parse(init.body.expires_at);
    expect(at).toBeGreaterThanOrEqual(before);
    expect(at).toBeLessThanOrEqual(Date.now());
    await waitFor(() => expect(get.mock.calls.filter((c) => (c as unknown[])[0] === "/api/v1/content").length).toBeGreaterThan(1));
  });

  it("offers it on published content only", async () => {
    setup([{ ...published, id: "p2", title: "Later", state: "scheduled" }]);
    await screen.findByRole("button", { name: "Archive Later" });
    expect(screen.queryByRole("button", { name: /^Expire/ })).toBeNull();
  });
});

describe("expireNowBody", () => {
  it("expires now, or just after publish_at when the browser's clock is behind", () => {
    const now = Date.parse("2026-11-23T12:00:00Z");
    expect(expireNowBody({ publish_at: "2026-11-23T10:00:00Z" }, now)).toEqual({ expires_at: "2026-11-23T12:00:00.000Z" });
    expect(expireNowBody({ publish_at: "2026-11-23T12:00:05Z" }, now)).toEqual({ expires_at: "2026-11-23T12:00:05.001Z" });
  });
});
