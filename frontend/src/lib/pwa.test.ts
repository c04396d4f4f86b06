import { describe, expect, it, vi } from "vitest";
import { bookmarklet, sharedLink, webURL } from "./pwa";

describe("webURL", () => {
  it.each([
    ["https://example.com/a?b=1", "https://example.com/a?b=1"],
    ["  http://example.org  ", "http://example.org/"],
    ["javascript:alert(1)", undefined],
    ["JavaScript:alert(document.cookie)", undefined],
    ["data:text/html,<script>alert(1)</script>", undefined],
    ["file:///etc/passwd", undefined],
    ["ftp://example.com/x", undefined],
    ["/relative/path", undefined],
    ["example.com", undefined],
    ["", undefined],
    [null, undefined],
  ])("%s → %s", (input, want) => {
    expect(webURL(input)).toBe(want);
  });
});

describe("sharedLink", () => {
  const q = (s: string) => new URLSearchParams(s);
  it("is nothing when nothing was shared", () => {
    expect(sharedLink(q(""))).toBeNull();
    expect(sharedLink(q("?other=1"))).toBeNull();
  });
  it("takes the url and the title", () => {
    expect(sharedLink(q("url=https%3A%2F%2Fexample.com%2Fpost&title=A%20post"))).toEqual({
      url: "https://example.com/post",
      commentary: "A post",
      refused: false,
    });
  });
  it("finds the link in text, as phones share it, and keeps the rest of the text", () => {
    expect(sharedLink(q("title=News&text=" + encodeURIComponent("Worth a read https://example.com/n?x=1")))).toEqual({
      url: "https://example.com/n?x=1",
      commentary: "News\n\nWorth a read",
      refused: false,
    });
  });
  it("does not repeat a text that only repeats the title or the link", () => {
    expect(sharedLink(q("url=https://example.com/&title=T&text=T"))?.commentary).toBe("T");
    expect(sharedLink(q("url=https://example.com/&text=https://example.com/"))?.commentary).toBe("");
  });
  it.each(["javascript:alert(1)", "data:text/html,hi", "vbscript:x", "not a url"])("refuses %s as the link", (bad) => {
    expect(sharedLink(q("title=T&url=" + encodeURIComponent(bad)))).toEqual({ url: "", commentary: "T", refused: true });
  });
  it("does not take a javascript: link out of text", () => {
    expect(sharedLink(q("text=" + encodeURIComponent("javascript:alert(1)")))).toEqual({
      url: "",
      commentary: "javascript:alert(1)",
      refused: false,
    });
  });
});

describe("bookmarklet", () => {
  it("opens the suggestion form with the page's link and title", () => {
    const code = bookmarklet("https://chorus.example");
    expect(code.startsWith("javascript:")).toBe(true);
    const open = vi.fn();
    const page = { location: { href: "https://news.example/a b?c=d&e=f" }, document: { title: "A & B" } };
    new Function("window", "location", "document", decodeURIComponent(code.slice("javascript:".length)))(
      { open },
      page.location,
      page.document,
    );
    expect(open).toHaveBeenCalledTimes(1);
    const opened = new URL(open.mock.calls[0]![0] as string);
    expect(opened.origin + opened.pathname).toBe("https://chorus.example/suggest");
    expect(opened.searchParams.get("url")).toBe(page.location.href);
    expect(opened.searchParams.get("title")).toBe("A & B");
    expect(sharedLink(opened.searchParams)?.url).toBe("https://news.example/a%20b?c=d&e=f");
  });
});
