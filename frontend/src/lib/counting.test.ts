import { describe, expect, it } from "vitest";
import { NETWORKS, blueskyLength, mastodonLength, usage, xLength } from "./counting";

const net = (n: string) => NETWORKS.find((l) => l.network === n)!;

describe("xLength", () => {
  it("counts Latin text one per character", () => {
    expect(xLength("hello world")).toBe(11);
  });
  it("counts any URL as 23", () => {
    expect(xLength("see https://example.com/a/very/long/path?with=query&and=more")).toBe(4 + 23);
    expect(xLength("http://a.b")).toBe(23);
  });
  it("counts CJK twice", () => {
    expect(xLength("日本語")).toBe(6);
    expect(xLength("한국")).toBe(4);
  });
  it("counts emoji, even sequences, twice", () => {
    expect(xLength("👍")).toBe(2);
    expect(xLength("👍🏽")).toBe(2);
    expect(xLength("👨‍👩‍👧")).toBe(2);
    expect(xLength("☀️")).toBe(2);
  });
  it("weighs quotes and dashes one, the ellipsis (U+2026) two", () => {
    expect(xLength("“quote” – dash")).toBe(14);
    expect(xLength("…")).toBe(2);
  });
});

describe("mastodonLength", () => {
  it("counts code points, URLs as 23", () => {
    expect(mastodonLength("日本 https://example.com/long/long/long")).toBe(3 + 23);
    expect(mastodonLength("👍")).toBe(1);
  });
});

describe("blueskyLength", () => {
  it("counts graphemes", () => {
    expect(blueskyLength("e\u0301")).toBe(1);
    expect(blueskyLength("👨‍👩‍👧 ok")).toBe(4);
  });
});

describe("usage", () => {
  it("reserves 25 for the link on X and Mastodon: a blank line and 23", () => {
    expect(usage(net("x"), "a".repeat(255))).toMatchObject({ used: 280, over: false, remaining: 0 });
    expect(usage(net("x"), "a".repeat(256))).toMatchObject({ used: 281, over: true });
    expect(usage(net("x"), "日".repeat(127))).toMatchObject({ used: 279, over: false });
    expect(usage(net("x"), "日".repeat(128)).over).toBe(true);
    expect(usage(net("mastodon"), "a".repeat(475)).over).toBe(false);
    expect(usage(net("mastodon"), "a".repeat(476)).over).toBe(true);
    // An empty text is the link alone.
    expect(usage(net("x"), "  ")).toMatchObject({ used: 23 });
  });
  it("keeps Bluesky, LinkedIn and Facebook links outside the text", () => {
    expect(usage(net("bluesky"), "👍".repeat(300)).over).toBe(false);
    expect(usage(net("bluesky"), "👍".repeat(301)).over).toBe(true);
    expect(usage(net("linkedin"), "a".repeat(3000)).over).toBe(false);
    expect(usage(net("linkedin"), "a".repeat(3001)).over).toBe(true);
    expect(usage(net("facebook"), "a".repeat(63206)).over).toBe(false);
    expect(usage(net("facebook"), "a".repeat(63207)).over).toBe(true);
  });
  it("ignores surrounding space, as the server does", () => {
    expect(usage(net("linkedin"), "  hi \n")).toMatchObject({ used: 2 });
  });
});
