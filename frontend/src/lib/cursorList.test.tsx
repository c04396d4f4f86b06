import { describe, expect, it, vi } from "vitest";
import type { ReactNode } from "react";
import { act, renderHook, waitFor } from "@testing-library/react";
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { useCursorList, type PageParam } from "./cursorList";

function wrapper({ children }: { children: ReactNode }) {
  const qc = new QueryClient({ defaultOptions: { queries: { retry: false } } });
  return <QueryClientProvider client={qc}>{children}</QueryClientProvider>;
}

describe("useCursorList", () => {
  it("reads the first page without a cursor, then follows next_cursor until there is none", async () => {
    const pages: Record<string, { items: string[]; next_cursor: string | null }> = {
      "": { items: ["a", "b"], next_cursor: "c1" },
      c1: { items: ["c"], next_cursor: null },
    };
    const fetchPage = vi.fn(async (page: PageParam) => pages[page.cursor ?? ""]!);
    const { result } = renderHook(() => useCursorList(["letters"], fetchPage), { wrapper });
    await waitFor(() => expect(result.current.isSuccess).toBe(true));
    expect(fetchPage).toHaveBeenLastCalledWith({});
    expect(result.current.items).toEqual(["a", "b"]);
    expect(result.current.hasNextPage).toBe(true);
    await act(() => result.current.fetchNextPage());
    expect(fetchPage).toHaveBeenLastCalledWith({ cursor: "c1" });
    // The hook's result follows the query's state on the next render.
    await waitFor(() => expect(result.current.items).toEqual(["a", "b", "c"]));
    expect(result.current.hasNextPage).toBe(false);
  });

  it("asks refetchInterval with the pages fetched", async () => {
    const refetchInterval = vi.fn(() => false as const);
    const { result } = renderHook(
      () => useCursorList(["moving"], async () => ({ items: [1], next_cursor: null }), { refetchInterval }),
      { wrapper },
    );
    await waitFor(() => expect(result.current.isSuccess).toBe(true));
    await waitFor(() => expect(refetchInterval).toHaveBeenCalledWith([{ items: [1], next_cursor: null }]));
  });
});
