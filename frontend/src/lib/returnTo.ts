/**
 * Where a signed-out member was going — a page shared to Chorus from the
 * phone's Share button or the bookmarklet (/suggest?url=…), a post's link
 * — kept through sign-in so that it opens once they are in.
 *
 * It is kept in this browser's localStorage (shared by its tabs, so the
 * sign-in link opened from the mail in another tab finds it) for 30
 * minutes, and taken only as a path of this app on this origin: never an
 * absolute URL, a scheme-relative //host, a backslash or control
 * character that browsers may read as one, the sign-in pages or the API.
 * The server is not involved; sign-in itself still lands on "/" or /feed,
 * which go on to the kept path.
 */
const KEY = "chorus.return-to";
export const RETURN_TTL_MS = 30 * 60_000;

/** path as a same-origin path of the app, or undefined when it is not one. */
export function safeReturnPath(path: unknown, origin: string = window.location.origin): string | undefined {
  if (typeof path !== "string" || path.length > 4096) return undefined;
  if (!path.startsWith("/") || path.startsWith("//")) return undefined;
  // URL parsers read "\" as "/" and drop tabs and newlines: "/\evil" and
  // "/\t/evil" are //evil.
  // eslint-disable-next-line no-control-regex
  if (/[\\\u0000-\u001f\u007f]/.test(path)) return undefined;
  let u: URL;
  try {
    u = new URL(path, origin);
  } catch {
    return undefined;
  }
  if (u.origin !== origin) return undefined;
  if (u.pathname === "/signin" || u.pathname.startsWith("/signin/") || u.pathname.startsWith("/api/")) return undefined;
  return u.pathname + u.search + u.hash;
}

/** Keeps path (when it is a safe one) for after sign-in. */
export function rememberReturn(path: string, now: number = Date.now()): void {
  const p = safeReturnPath(path);
  if (!p) return;
  try {
    localStorage.setItem(KEY, JSON.stringify({ path: p, at: now }));
  } catch {
    // Storage off (private mode): the member lands on the feed.
  }
}

/** The kept path, if it is recent and safe; it stays until forgetReturn. */
export function keptReturn(now: number = Date.now()): string | undefined {
  let raw: string | null = null;
  try {
    raw = localStorage.getItem(KEY);
  } catch {
    return undefined;
  }
  if (!raw) return undefined;
  try {
    const v: unknown = JSON.parse(raw);
    if (typeof v !== "object" || v === null) return undefined;
    const { path, at } = v as { path?: unknown; at?: unknown };
    if (typeof at !== "number" || now - at > RETURN_TTL_MS || at - now > 60_000) return undefined;
    return safeReturnPath(path);
  } catch {
    return undefined;
  }
}

/** Forgets the kept path: the member arrived, or signed out. */
export function forgetReturn(): void {
  try {
    localStorage.removeItem(KEY);
  } catch {
    // nothing kept
  }
}
