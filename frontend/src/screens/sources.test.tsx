import { afterEach, describe, expect, it, vi } from "vitest";
import { cleanup, fireEvent, render, screen, waitFor, within } from "@testing-library/react";
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { MemoryRouter } from "react-router";
import { api } from "../api/client";
import { Sources, sourceStatus, type Source } from "./Sources";

afterEach(() => {
  cleanup();
  vi.restoreAllMocks();
});

const base: Source = {
  id: "s1",
  url: "https://blog.acme.example/feed.xml",
  kind: "feed",
  title: "Acme blog",
  topics: ["news"],
  trusted: false,
  created_by: "m1",
  created_at: "2026-11-23T10:00:00Z",
  updated_at: "2026-11-23T10:00:00Z",
  next_poll_at: "2026-11-23T10:30:00Z",
  last_polled_at: "2026-11-23T10:00:00Z",
  consecutive_failures: 0,
  failing: false,
  items_added: 12,
};
const failing: Source = {
  ...base,
  id: "s2",
  url: "https://press.acme.example/rss",
  title: "Press",
  trusted: true,
  consecutive_failures: 4,
  last_error: "fetch feed: the server answered 500 Internal Server Error",
  failing: true,
  items_added: 0,
};

function renderIt() {
  render(
    <QueryClientProvider client={new QueryClient({ defaultOptions: { queries: { retry: false } } })}>
      <MemoryRouter>
        <Sources />
      </MemoryRouter>
    </QueryClientProvider>,
  );
}

function mockGET(sources: Source[]) {
  return vi.spyOn(api, "GET").mockImplementation(((path: string) =>
    Promise.resolve({
      data: path === "/api/v1/sources" ? { items: sources } : { items: [{ id: "news", name: "News", created_at: "2026-11-23T10:00:00Z" }] },
      response: new Response(null, { status: 200 }),
    })) as never);
}

describe("sourceStatus", () => {
  it("tells failing, not yet polled and healthy sources apart", () => {
    expect(sourceStatus(failing)).toBe("failing");
    expect(sourceStatus({ ...base, last_polled_at: undefined })).toBe("new");
    expect(sourceStatus(base)).toBe("ok");
  });
});

describe("Sources", () => {
  it("lists sources with their status, failures and last error", async () => {
    mockGET([failing, base]);
    renderIt();
    const list = await screen.findByRole("list", { name: "Sources" });
    const rows = await within(list).findAllByRole("listitem");
    expect(rows).toHaveLength(2);
    expect(rows[0]!.textContent).toContain("Press");
    expect(rows[0]!.textContent).toContain("Failing");
    expect(rows[0]!.textContent).toContain("4 failed polls in a row: fetch feed: the server answered 500");
    expect(rows[0]!.textContent).toContain("Trusted");
    expect(rows[1]!.textContent).toContain("OK");
    expect(rows[1]!.textContent).toContain("12 items added");
    await waitFor(() => expect(rows[1]!.textContent).toContain("News"));
  });

  it("adds a feed with its topic and trust, and shows the server's problem", async () => {
    mockGET([]);
    const post = vi.spyOn(api, "POST").mockResolvedValueOnce({
      error: { status: 409, title: "Conflict", detail: "a source with this URL exists", code: "source_exists" },
      response: new Response(null, { status: 409 }),
    } as never);
    renderIt();
    expect(await screen.findByText("No sources yet.")).toBeTruthy();
    fireEvent.change(screen.getByLabelText("Feed URL (RSS or Atom)"), { target: { value: " https://blog.acme.example/feed.xml " } });
    fireEvent.change(screen.getByLabelText("Name"), { target: { value: "Acme blog" } });
    await screen.findByRole("option", { name: "News" });
    fireEvent.change(screen.getByLabelText("Topic"), { target: { value: "news" } });
    fireEvent.click(screen.getByLabelText("Trusted: publish its items without review"));
    fireEvent.click(screen.getByRole("button", { name: "Add source" }));
    await waitFor(() => expect(post).toHaveBeenCalledTimes(1));
    expect(post.mock.calls[0]![1]).toEqual({
      body: { url: "https://blog.acme.example/feed.xml", kind: "feed", title: "Acme blog", topics: ["news"], trusted: true },
    });
    expect(await screen.findByText(/a source with this URL exists/)).toBeTruthy();
  });

  it("adds a sitemap, and marks sitemaps in the list", async () => {
    mockGET([{ ...base, id: "s2", kind: "sitemap", title: "Site pages" }]);
    const post = vi.spyOn(api, "POST").mockResolvedValueOnce({ data: base, response: new Response(null, { status: 201 }) } as never);
    renderIt();
    const row = await screen.findByRole("listitem");
    expect(row.textContent).toContain("Site pages");
    expect(row.textContent).toContain("Sitemap");
    fireEvent.click(screen.getByLabelText("Sitemap (its new pages, with their previews)"));
    fireEvent.change(screen.getByLabelText("Sitemap URL (sitemap.xml or a sitemap index)"), {
      target: { value: "https://www.acme.example/sitemap.xml" },
    });
    fireEvent.click(screen.getByRole("button", { name: "Add source" }));
    await waitFor(() => expect(post).toHaveBeenCalledTimes(1));
    expect(post.mock.calls[0]![1]).toEqual({
      body: { url: "https://www.acme.example/sitemap.xml", kind: "sitemap", title: "", topics: [], trusted: false },
    });
    // The form is reset to a feed.
    await waitFor(() => expect(screen.getByLabelText("Feed URL (RSS or Atom)")).toBeTruthy());
  });

  it("trusts a source or takes the trust back", async () => {
    mockGET([base]);
    const patch = vi.spyOn(api, "PATCH").mockResolvedValue({ data: { ...base, trusted: true }, response: new Response(null, { status: 200 }) } as never);
    renderIt();
    fireEvent.click(await screen.findByRole("button", { name: "Trust it" }));
    await waitFor(() => expect(patch).toHaveBeenCalledWith("/api/v1/sources/{id}", { params: { path: { id: "s1" } }, body: { trusted: true } }));
  });
});
