import { afterEach, describe, expect, it } from "vitest";
import { RETURN_TTL_MS, forgetReturn, keptReturn, rememberReturn, safeReturnPath } from "./returnTo";

const origin = window.location.origin;
const shared = "/suggest?url=https%3A%2F%2Fnews.example%2Fa&title=Our+launch";

afterEach(() => localStorage.clear());

describe("safeReturnPath", () => {
  it("takes paths of the app on this origin", () => {
    expect(safeReturnPath(shared)).toBe(shared);
    expect(safeReturnPath("/share/p1#accounts")).toBe("/share/p1#accounts");
    expect(safeReturnPath("/a/../suggest?x=1")).toBe("/suggest?x=1");
  });

  it.each([
    ["an absolute URL elsewhere", "https://evil.example/suggest"],
    ["an absolute URL here", origin + "/suggest"],
    ["a scheme-relative URL", "//evil.example/x"],
    ["a backslash read as a slash", "/\\evil.example/x"],
    ["a backslash later on", "/suggest\\..\\x"],
    ["a tab the parser drops", "/\t/evil.example"],
    ["a newline", "/\n/evil.example"],
    ["javascript:", "javascript:alert(1)"],
    ["a relative path", "suggest?url=x"],
    ["the sign-in page", "/signin"],
    ["the sign-in confirmation", "/signin/confirm#token=x"],
    ["the API", "/api/v1/auth/logout"],
    ["not a string", { path: "/suggest" }],
    ["too long", "/" + "x".repeat(5000)],
  ])("refuses %s", (_, path) => {
    expect(safeReturnPath(path)).toBeUndefined();
  });
});

describe("kept return path", () => {
  it("is kept for 30 minutes, then forgotten", () => {
    const now = Date.now();
    rememberReturn(shared, now);
    expect(keptReturn(now + 1000)).toBe(shared);
    expect(keptReturn(now + RETURN_TTL_MS + 1)).toBeUndefined();
    expect(keptReturn(now)).toBe(shared); // reading does not take it
    forgetReturn();
    expect(keptReturn(now)).toBeUndefined();
  });

  it("keeps no unsafe path, and takes none written to storage by other means", () => {
    rememberReturn("//evil.example/x");
    expect(localStorage.length).toBe(0);
    localStorage.setItem("chorus.return-to", JSON.stringify({ path: "https://evil.example/", at: Date.now() }));
    expect(keptReturn()).toBeUndefined();
    localStorage.setItem("chorus.return-to", "not json");
    expect(keptReturn()).toBeUndefined();
    localStorage.setItem("chorus.return-to", JSON.stringify({ path: shared, at: Date.now() + 3_600_000 }));
    expect(keptReturn()).toBeUndefined(); // from the future
  });
});
