import type { InfiniteData, QueryClient } from "@tanstack/react-query";
import type { Post } from "../api/client";

interface Page {
  items: Post[];
  next_cursor?: string | null;
}

/**
 * Takes a post that just left the feed (expired or archived) out of every
 * cached feed page, then has the feed fetched again. Without the first part
 * the feed would show the cached copy, post included, until the refetch lands.
 */
export function dropFromFeed(qc: QueryClient, id: string) {
  qc.setQueriesData<InfiniteData<Page>>({ queryKey: ["feed"] }, (data) =>
    data ? { ...data, pages: data.pages.map((p) => ({ ...p, items: p.items.filter((x) => x.id !== id) })) } : data,
  );
  return qc.invalidateQueries({ queryKey: ["feed"] });
}
