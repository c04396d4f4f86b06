import { describe, expect, it } from "vitest";
import { QueryClient, type InfiniteData } from "@tanstack/react-query";
import type { Post } from "../api/client";
import { dropFromFeed } from "./feedcache";

const post = (id: string) => ({ id, title: id }) as Post;

describe("dropFromFeed", () => {
  it("removes the post from every cached feed page and filter, keeping the others", async () => {
    const qc = new QueryClient();
    const key1 = ["feed", { topic: "", followed: false }];
    const key2 = ["feed", { topic: "t1", followed: false }];
    qc.setQueryData(key1, { pages: [{ items: [post("a"), post("b")], next_cursor: "c" }, { items: [post("c")] }], pageParams: ["", "c"] });
    qc.setQueryData(key2, { pages: [{ items: [post("b")] }], pageParams: [""] });
    qc.setQueryData(["content-admin", "published"], { pages: [{ items: [post("b")] }], pageParams: [""] });
    await dropFromFeed(qc, "b");
    type D = InfiniteData<{ items: Post[]; next_cursor?: string }>;
    expect(qc.getQueryData<D>(key1)?.pages.map((p) => p.items.map((x) => x.id))).toEqual([["a"], ["c"]]);
    expect(qc.getQueryData<D>(key1)?.pages[0]?.next_cursor).toBe("c");
    expect(qc.getQueryData<D>(key2)?.pages[0]?.items).toEqual([]);
    expect(qc.getQueryState(key1)?.isInvalidated).toBe(true);
    // Only the feed: the curators' lists are left to their own invalidation.
    expect(qc.getQueryData<D>(["content-admin", "published"])?.pages[0]?.items).toHaveLength(1);
  });
});
