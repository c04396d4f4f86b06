import { useInfiniteQuery, type QueryKey } from "@tanstack/react-query";

/** A page of a list the API pages with cursors (`{items, next_cursor}`). */
export interface CursorPage<T> {
  items?: T[];
  next_cursor?: string | null;
}

/** The query parameter of a page: `{}` for the first, `{cursor}` after. */
export type PageParam = { cursor?: string };

/**
 * One list the API pages with cursors: `fetchPage` reads the page of its
 * parameter (spread it into the query), `items` are every page's items in
 * order, and `hasNextPage`/`fetchNextPage` follow `next_cursor`.
 * `refetchInterval`, given the pages fetched, says when to read them again
 * (false: not).
 */
export function useCursorList<T>(
  queryKey: QueryKey,
  fetchPage: (page: PageParam) => Promise<CursorPage<T>>,
  options: { refetchInterval?: (pages: CursorPage<T>[]) => number | false } = {},
) {
  const { refetchInterval } = options;
  const query = useInfiniteQuery({
    queryKey,
    queryFn: ({ pageParam }) => fetchPage(pageParam ? { cursor: pageParam } : {}),
    initialPageParam: "",
    getNextPageParam: (last: CursorPage<T>) => last.next_cursor ?? undefined,
    refetchInterval: (q) => (refetchInterval ? refetchInterval(q.state.data?.pages ?? []) : false),
  });
  const items: T[] = query.data?.pages.flatMap((p) => p.items ?? []) ?? [];
  return { ...query, items };
}
