import { afterEach, describe, expect, it, vi } from "vitest";
import { cleanup, fireEvent, render, screen, waitFor } from "@testing-library/react";
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { MemoryRouter } from "react-router";
import { api } from "../api/client";
import { MyShares } from "./MyShares";

afterEach(() => {
  cleanup();
  vi.restoreAllMocks();
});

const ok = (data: unknown) => Promise.resolve({ data, response: new Response(null, { status: 200 }) });

const share = (id: string, text: string) => ({
  id,
  content_id: "p1",
  content_title: "Launch <b>day</b>",
  connection_id: "c1",
  network: "mastodon",
  text,
  state: "published",
  tracked_url: "http://x/r/" + id,
  publish_at: "2026-11-23T10:00:00Z",
  created_at: "2026-11-23T10:00:00Z",
});

describe("My shares", () => {
  it("loads the next page with the cursor the list handed out", async () => {
    const get = vi.spyOn(api, "GET").mockImplementation(((path: string, init?: { params?: { query?: { cursor?: string } } }) => {
      if (path === "/api/v1/connections") return ok({ items: [] });
      if (path === "/api/v1/shares") {
        return init?.params?.query?.cursor === "next"
          ? ok({ items: [share("s2", "Second page")], next_cursor: null })
          : ok({ items: [share("s1", "First page")], next_cursor: "next" });
      }
      throw new Error("unexpected GET " + path);
    }) as never);
    const qc = new QueryClient({ defaultOptions: { queries: { retry: false } } });
    render(
      <QueryClientProvider client={qc}>
        <MemoryRouter>
          <MyShares />
        </MemoryRouter>
      </QueryClientProvider>,
    );
    expect(await screen.findByText("First page")).toBeTruthy();
    expect(screen.getByText("Shared: Launch <b>day</b>")).toBeTruthy(); // what was shared, as text
    fireEvent.click(screen.getByRole("button", { name: "Load more" }));
    expect(await screen.findByText("Second page")).toBeTruthy();
    await waitFor(() => expect(screen.queryByRole("button", { name: "Load more" })).toBeNull());
    expect(get).toHaveBeenCalledWith("/api/v1/shares", { params: { query: { limit: 50, cursor: "next" } } });
  });
});
