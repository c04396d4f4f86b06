import { describe, expect, it } from "vitest";
import { limitFor } from "./networks";

describe("limitFor", () => {
  it("takes a server's own limit, the smallest of those chosen", () => {
    expect(limitFor("mastodon", [])?.max).toBe(500);
    expect(limitFor("mastodon", [{ network: "mastodon", max_chars: 1000 }])?.max).toBe(1000);
    expect(limitFor("mastodon", [{ network: "mastodon", max_chars: 1000 }, { network: "mastodon", max_chars: 800 }])?.max).toBe(800);
    // A connection without its own limit keeps the network's.
    expect(limitFor("mastodon", [{ network: "mastodon" }, { network: "mastodon", max_chars: 5000 }])?.max).toBe(500);
    expect(limitFor("x", [{ network: "mastodon", max_chars: 1000 }])?.max).toBe(280);
    expect(limitFor("myspace", [])).toBeUndefined();
  });
});
