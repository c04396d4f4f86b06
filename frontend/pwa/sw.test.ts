// @vitest-environment node
// The service worker (pwa/sw.ts, as the build writes it) run in a sandbox
// with an in-memory Cache Storage and a network the test controls.
import { beforeEach, describe, expect, it } from "vitest";
import { createContext, runInContext } from "node:vm";
import { workerSource } from "./plugin.ts";

const ORIGIN = "https://chorus.example";
const abs = (u: string) => new URL(u, ORIGIN).href;
type Req = { url: string; method: string; mode: string };
const keyOf = (r: Req | string) => (typeof r === "string" ? abs(r) : r.url);

class FakeCache {
  m = new Map<string, Response>();
  async match(r: Req | string) {
    return this.m.get(keyOf(r))?.clone();
  }
  async put(r: Req | string, res: Response) {
    this.m.set(keyOf(r), res.clone());
  }
  async addAll(rs: Req[]) {
    for (const r of rs) {
      const res = await net(r);
      if (!res.ok) throw new TypeError("addAll: " + res.status);
      await this.put(r, res);
    }
  }
}

let store: Map<string, FakeCache>;
const caches = {
  open: async (n: string) => store.get(n) ?? store.set(n, new FakeCache()).get(n)!,
  keys: async () => [...store.keys()],
  delete: async (n: string) => store.delete(n),
  match: async (r: Req | string, o?: { cacheName?: string }) => (o?.cacheName ? store.get(o.cacheName)?.match(r) : undefined),
};

let online: boolean;
let who: string | null; // the member the session cookie belongs to
let served: string[];
async function net(r: Req | string): Promise<Response> {
  const u = new URL(keyOf(r));
  served.push(u.pathname + u.search);
  if (!online) throw new TypeError("Failed to fetch");
  const json = (v: unknown, status = 200) => new Response(JSON.stringify(v), { status, headers: { "content-type": "application/json" } });
  if (u.pathname === "/api/v1/me") return who ? json({ member: { id: who } }) : json({ code: "unauthorized" }, 401);
  if (u.pathname.startsWith("/api/")) return who ? json({ items: [{ id: `${who}-post` }], path: u.pathname + u.search }) : json({}, 401);
  return new Response(`file ${u.pathname}`, { status: 200 });
}

type Handler = (e: unknown) => void;
let handlers: Record<string, Handler[]>;
const req = (path: string, init: Partial<Req> = {}): Req => ({ url: abs(path), method: "GET", mode: "cors", ...init });

/** Dispatches an event; resolves to the answer given (or "passed" when
 * the worker left the request to the browser) once its work is done. */
async function dispatch(type: string, props: object = {}): Promise<Response | "passed" | Error> {
  let answer: Promise<Response> | undefined;
  const waits: Promise<unknown>[] = [];
  const e = { ...props, respondWith: (p: Promise<Response>) => (answer = p), waitUntil: (p: Promise<unknown>) => waits.push(p) };
  for (const h of handlers[type] ?? []) h(e);
  await Promise.all(waits);
  if (!answer) return "passed";
  return answer.catch((err: Error) => err);
}
const get = (path: string, init?: Partial<Req>) => dispatch("fetch", { request: req(path, init) });
const text = async (r: Response | "passed" | Error) => (r instanceof Response ? r.text() : String(r));
const data = () => [...store.keys()].filter((n) => n.startsWith("chorus-data-")).sort();

/** Notifications shown, app windows open and windows opened. */
let shown: { title: string; options: NotificationOptions }[];
type Win = { url: string; focused: boolean; focus: () => Promise<Win>; navigate: (u: string) => Promise<Win> };
let windows: Win[];
let opened: string[];
const win = (url: string): Win => {
  const w: Win = {
    url: abs(url),
    focused: false,
    focus: async () => ((w.focused = true), w),
    navigate: async (u: string) => ((w.url = u), w),
  };
  return w;
};
const pushData = (v: unknown) => ({
  json: () => (typeof v === "string" ? JSON.parse(v) : v),
  text: () => (typeof v === "string" ? v : JSON.stringify(v)),
});

let precache: string[];
let told: string[];
beforeEach(async () => {
  told = [];
  store = new Map();
  online = true;
  who = "alice";
  served = [];
  handlers = {};
  const files = new Map<string, string>([
    ["index.html", "<!doctype html>"],
    ["assets/index-abc12345.js", "app"],
    ["manifest.webmanifest", "{}"],
    ["sw.js", "the worker itself"],
  ]);
  const src = await workerSource(files);
  precache = JSON.parse(/const PRECACHE = (.*);/.exec(src)![1]!);
  class SandboxRequest extends Request {
    constructor(input: string, init?: RequestInit) {
      super(abs(input), init);
    }
  }
  shown = [];
  windows = [];
  opened = [];
  const self = {
    location: new URL(ORIGIN + "/sw.js"),
    addEventListener: (t: string, h: Handler) => (handlers[t] ??= []).push(h),
    skipWaiting: async () => undefined,
    registration: {
      showNotification: async (title: string, options: NotificationOptions) => void shown.push({ title, options }),
    },
    clients: {
      claim: async () => undefined,
      get: async (id: string) => ({ postMessage: (m: { type: string }) => told.push(`${id} ${m.type}`) }),
      matchAll: async () => windows,
      openWindow: async (url: string) => void opened.push(url),
    },
  };
  runInContext(src, createContext({ self, caches, fetch: net, Request: SandboxRequest, Response, URL, console }));
  store.set("chorus-shell-old", new FakeCache());
  await dispatch("install");
  await dispatch("activate");
  served = [];
});

describe("the service worker", () => {
  it("precaches every file of the build but itself, and drops an older shell", () => {
    expect(precache).toEqual(["/assets/index-abc12345.js", "/index.html", "/manifest.webmanifest"]);
    const shell = [...store.keys()].filter((n) => n.startsWith("chorus-shell-"));
    expect(shell).toHaveLength(1);
    expect(shell[0]).not.toBe("chorus-shell-old");
    expect([...store.get(shell[0]!)!.m.keys()].map((u) => new URL(u).pathname)).toEqual(precache);
  });

  it("offline, serves the shell and the member's first feed page as last loaded", async () => {
    await get("/api/v1/me");
    await get("/api/v1/content?limit=20");
    expect(data()).toEqual(["chorus-data-alice"]);
    online = false;
    expect(await text(await get("/feed", { mode: "navigate" }))).toBe("file /index.html");
    expect(await text(await get("/assets/index-abc12345.js"))).toBe("file /assets/index-abc12345.js");
    expect(JSON.parse(await text(await get("/api/v1/me")))).toEqual({ member: { id: "alice" } });
    expect(JSON.parse(await text(await get("/api/v1/content?limit=20"))).items).toEqual([{ id: "alice-post" }]);
    // A later page, or another API, is never kept.
    expect(await get("/api/v1/content?limit=20&cursor=abc")).toBe("passed");
    expect(await get("/api/v1/content?state=draft&limit=20")).toBe("passed");
    expect(await get("/api/v1/shares")).toBe("passed");
    // The page is told when what it shows is a kept copy, and when not.
    await dispatch("fetch", { request: req("/api/v1/content?limit=20"), clientId: "tab1" });
    online = true;
    await dispatch("fetch", { request: req("/api/v1/content?limit=20"), clientId: "tab1" });
    expect(told).toEqual(["tab1 offline-copy", "tab1 network"]);
    expect(await get("/r/abcdef", { mode: "navigate" })).toBe("passed");
  });

  it("keeps a feed page that comes back before /me, for the member /me names", async () => {
    await get("/api/v1/content?limit=20");
    expect(served).toEqual(["/api/v1/content?limit=20", "/api/v1/me"]);
    expect(data()).toEqual(["chorus-data-alice"]);
  });

  it("never shows one member's answers to another who signs in on the same browser", async () => {
    await get("/api/v1/me");
    await get("/api/v1/content?limit=20");
    who = "bob";
    await get("/api/v1/me");
    expect(data()).toEqual(["chorus-data-bob"]);
    online = false;
    expect(await get("/api/v1/content?limit=20")).toBeInstanceOf(Error);
    expect(JSON.parse(await text(await get("/api/v1/me")))).toEqual({ member: { id: "bob" } });
  });

  it.each([
    ["signing out", () => get("/api/v1/auth/logout", { method: "POST" })],
    ["signing in", () => get("/api/v1/auth/email/callback?token=x", { mode: "navigate" })],
    ["the app's message on sign-out", () => dispatch("message", { data: { type: "signed-out" } })],
    [
      "/me answering 401",
      () => {
        who = null;
        return get("/api/v1/me");
      },
    ],
  ])("forgets the member's answers on %s", async (_name, what) => {
    await get("/api/v1/me");
    await get("/api/v1/content?limit=20");
    expect(data()).toEqual(["chorus-data-alice"]);
    await what();
    expect(data()).toEqual([]);
    online = false;
    expect(await get("/api/v1/content?limit=20")).toBeInstanceOf(Error);
    expect(await get("/api/v1/me")).toBeInstanceOf(Error);
  });

  it("leaves requests to other origins and writes to the browser", async () => {
    expect(await dispatch("fetch", { request: { url: "https://cdn.example/x.js", method: "GET", mode: "cors" } })).toBe("passed");
    expect(await get("/api/v1/suggestions", { method: "POST" })).toBe("passed");
    expect(served).toEqual([]);
  });

  it("shows a pushed post and a click opens its composer", async () => {
    await dispatch("push", { data: pushData({ post_id: "p1", title: "New post", body: "Acme", url: "/share/p1" }) });
    expect(shown).toHaveLength(1);
    expect(shown[0]!.title).toBe("New post");
    expect(shown[0]!.options).toMatchObject({ body: "Acme", tag: "post-p1", data: { url: "/share/p1" } });

    // No window of the app: one opens on the composer.
    let closed = 0;
    const click = (data: unknown) => dispatch("notificationclick", { notification: { data, close: () => closed++ } });
    await click(shown[0]!.options.data);
    expect(opened).toEqual([abs("/share/p1")]);
    expect(closed).toBe(1);

    // A window of the app on another page is taken there and focused.
    const feed = win("/feed");
    windows = [feed];
    await click({ url: "/share/p1" });
    expect(feed.url).toBe(abs("/share/p1"));
    expect(feed.focused).toBe(true);
    expect(opened).toHaveLength(1);
  });

  it("never leads a click off the app, and shows a message it cannot read", async () => {
    await dispatch("push", { data: pushData({ title: "x", url: "https://evil.example/phish" }) });
    expect(shown[0]!.options.data).toEqual({ url: "/feed" });
    await dispatch("push", { data: { json: () => { throw new SyntaxError("bad"); }, text: () => "plain words" } });
    expect(shown[1]!.title).toBe("plain words");
    await dispatch("push", {});
    expect(shown[2]!.title).toBe("New on Chorus");
  });
});
