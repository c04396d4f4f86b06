/// <reference lib="webworker" />
// The service worker, served as /sw.js (scope /). The build (pwa/plugin.ts)
// strips the types and puts the two constants below in front of it.
//
// It keeps two kinds of cache:
//   - the app shell, "chorus-shell-<version>": index.html, the hashed Vite
//     assets, the manifest and the icons, fetched at install; a new build
//     has a new version and the old shell is dropped on activation;
//   - the signed-in member's data, "chorus-data-<member id>": the few API
//     answers the feed needs to show offline (/me, /instance, /topics and
//     the first page of the feed, not the curators' lists), kept only for the member that /me
//     names. At most one such cache exists; it is deleted when /me names
//     someone else or nobody, and on every request under /api/v1/auth/
//     (signing in or out changes the session). The app also deletes it on
//     sign-out (src/lib/pwa.ts), so an answer for one member is never shown
//     to another who signs in on the same browser.
// Everything else (other API calls, tracked links /r/…, ops) goes to the
// network untouched.
//
// Push notifications of new content (docs/notifications.md): a "push"
// carries {post_id, title, body, url}, url being the composer's page for the
// post (/share/<id>); the worker shows it, and a click focuses a window of
// the app already on that page, else navigates one of the app's windows
// there, else opens one.

const sw = self as unknown as ServiceWorkerGlobalScope;
/** The files of the shell, as absolute paths. */
declare const PRECACHE: string[];
/** A digest of the shell's files: a new build gets a new shell cache. */
declare const VERSION: string;

const SHELL = `chorus-shell-${VERSION}`;
const DATA = "chorus-data-";
const INDEX = "/index.html";
/** API answers kept for offline reading, besides the feed's first page. */
const KEPT = new Set(["/api/v1/me", "/api/v1/instance", "/api/v1/topics"]);

/** Incremented whenever the session may have changed: answers of requests
 * that started before are not kept. */
let epoch = 0;
/** The /me request under way, which tells whose data cache to use. */
let meUnderWay: Promise<string | null> | null = null;

sw.addEventListener("install", (event) => {
  event.waitUntil(
    (async () => {
      const cache = await caches.open(SHELL);
      // Bypass the HTTP cache: the files must be those of this build.
      await cache.addAll(PRECACHE.map((p) => new Request(p, { cache: "reload" })));
      await sw.skipWaiting();
    })(),
  );
});

sw.addEventListener("activate", (event) => {
  event.waitUntil(
    (async () => {
      for (const name of await caches.keys()) {
        if (name.startsWith("chorus-shell-") && name !== SHELL) await caches.delete(name);
      }
      await sw.clients.claim();
    })(),
  );
});

sw.addEventListener("message", (event) => {
  // The app says so on sign-out, before it calls the API.
  if (event.data?.type === "signed-out") event.waitUntil(forgetMembers());
});

sw.addEventListener("fetch", (event) => {
  const req = event.request;
  const url = new URL(req.url);
  if (url.origin !== sw.location.origin) return;
  const p = url.pathname;
  if (p.startsWith("/api/v1/auth/")) {
    event.waitUntil(forgetMembers());
    return;
  }
  if (req.method !== "GET") return;
  if (p === "/api/v1/me") {
    event.respondWith(tell(event.clientId, me(req)));
  } else if (KEPT.has(p) || (p === "/api/v1/content" && !url.searchParams.has("cursor") && !url.searchParams.has("state"))) {
    event.respondWith(tell(event.clientId, memberData(req)));
  } else if (req.mode === "navigate" && isAppPage(p)) {
    event.respondWith(page(req));
  } else if (p.startsWith("/assets/")) {
    event.respondWith(asset(req));
  } else if (PRECACHE.includes(p)) {
    event.respondWith(networkFirst(req, () => caches.match(req, { cacheName: SHELL })));
  }
});

/** A push message as the server sends it. */
interface PushMessage {
  post_id?: string;
  title?: string;
  body?: string;
  url?: string;
}

/** Where a notification's click leads: the message's own page of the app,
 * never another origin; the feed when it names none. */
function clickTarget(url: unknown): string {
  if (typeof url === "string") {
    try {
      const u = new URL(url, sw.location.origin);
      if (u.origin === sw.location.origin) return u.pathname + u.search;
    } catch {
      /* not a URL: the feed */
    }
  }
  return "/feed";
}

sw.addEventListener("push", (event) => {
  let msg: PushMessage = {};
  try {
    msg = (event.data?.json() as PushMessage | null) ?? {};
  } catch {
    msg = { title: event.data?.text() };
  }
  const title = typeof msg.title === "string" && msg.title !== "" ? msg.title : "New on Chorus";
  event.waitUntil(
    sw.registration.showNotification(title, {
      body: typeof msg.body === "string" ? msg.body : "",
      icon: "/icons/icon-192.png",
      // One notification per post, however often it arrives.
      tag: typeof msg.post_id === "string" ? `post-${msg.post_id}` : undefined,
      data: { url: clickTarget(msg.url) },
    }),
  );
});

sw.addEventListener("notificationclick", (event) => {
  event.notification.close();
  const target = clickTarget(event.notification.data?.url);
  event.waitUntil(openApp(target));
});

/** Focuses a window of the app on target, navigating one there if none
 * is, or opens a new one. */
async function openApp(target: string): Promise<unknown> {
  const wins = await sw.clients.matchAll({ type: "window", includeUncontrolled: true });
  const url = new URL(target, sw.location.origin).href;
  const there = wins.find((w) => w.url === url);
  if (there) return there.focus();
  const any = wins.find((w) => new URL(w.url).origin === sw.location.origin);
  if (any) {
    const moved = await any.navigate(url).catch(() => null);
    if (moved) return moved.focus();
  }
  return sw.clients.openWindow(url);
}

/** Answers that come from the member's cache rather than the network. */
const copies = new WeakSet<Response>();

/** Tells the page whether its answer is a kept copy (the network failed)
 * or fresh, so that it can say it is offline: navigator.onLine does not
 * know when the server cannot be reached. */
async function tell(clientId: string, answer: Promise<Response>): Promise<Response> {
  const res = await answer;
  const client = clientId ? await sw.clients.get(clientId) : undefined;
  client?.postMessage({ type: copies.has(res) ? "offline-copy" : "network" });
  return res;
}

/** Whether a navigation is to one of the app's own pages. */
function isAppPage(p: string): boolean {
  return !["/api", "/ops", "/r", "/metrics", "/healthz", "/readyz"].some((r) => p === r || p.startsWith(r + "/"));
}

/** Deletes every member's cached data but keep's; reports whether the
 * session may have changed (always, without keep). */
async function forgetMembers(keep?: string): Promise<boolean> {
  if (keep === undefined) epoch++;
  const gone = (await caches.keys()).filter((n) => n.startsWith(DATA) && n !== keep);
  if (keep !== undefined && gone.length > 0) epoch++;
  for (const name of gone) await caches.delete(name);
  return keep === undefined || gone.length > 0;
}

/** The data cache in use, if one is. */
async function dataCache(): Promise<string | null> {
  const names = (await caches.keys()).filter((n) => n.startsWith(DATA));
  return names.length === 1 ? names[0]! : null;
}

/** The signed-in member's kept answer, when the network failed with e. */
async function memberCopy(key: Request | string, e: unknown): Promise<Response> {
  const name = await dataCache();
  const hit = name ? await caches.match(key, { cacheName: name }) : undefined;
  if (!hit) throw e;
  copies.add(hit);
  return hit;
}

/** Who /me says is signed in, keeping the answer in that member's cache
 * and dropping any other member's; null when nobody is. */
async function learnMember(res: Response, started: number): Promise<string | null> {
  if (res.status === 401) {
    await forgetMembers();
    return null;
  }
  if (!res.ok) return dataCache();
  let id: unknown;
  try {
    id = (await res.clone().json())?.member?.id;
  } catch {
    return null;
  }
  if (typeof id !== "string" || id === "") return null;
  const name = DATA + encodeURIComponent(id);
  const switched = await forgetMembers(name);
  // Kept unless the session changed while it was under way (a switch to
  // this member is this answer's own doing).
  if (started + (switched ? 1 : 0) === epoch) await (await caches.open(name)).put("/api/v1/me", res.clone());
  return name;
}

async function me(req: Request): Promise<Response> {
  const started = epoch;
  let res: Response;
  try {
    res = await fetch(req);
  } catch (e) {
    return memberCopy("/api/v1/me", e);
  }
  const learnt = learnMember(res, started);
  meUnderWay = learnt;
  try {
    await learnt;
  } finally {
    if (meUnderWay === learnt) meUnderWay = null;
  }
  return res;
}

/** The member whose cache an answer belongs in: the /me under way, the data
 * cache in use, or else /me asked now. */
async function currentMember(): Promise<string | null> {
  if (meUnderWay) return meUnderWay;
  const name = await dataCache();
  if (name) return name;
  const started = epoch;
  try {
    return await learnMember(await fetch("/api/v1/me", { credentials: "same-origin" }), started);
  } catch {
    return null;
  }
}

/** Network first; a successful answer is kept in the member's cache, which
 * answers when the network does not. */
async function memberData(req: Request): Promise<Response> {
  const started = epoch;
  let res: Response;
  try {
    res = await fetch(req);
  } catch (e) {
    return memberCopy(req, e);
  }
  if (res.ok) {
    const copy = res.clone();
    const name = await currentMember();
    if (name && epoch === started) await (await caches.open(name)).put(req, copy);
  }
  return res;
}

/** App pages: the network's index.html, or the shell's when offline. */
async function page(req: Request): Promise<Response> {
  return networkFirst(req, () => caches.match(INDEX, { cacheName: SHELL }));
}

/** Hashed assets never change: the shell's copy, else the network's. */
async function asset(req: Request): Promise<Response> {
  const hit = await caches.match(req, { cacheName: SHELL });
  if (hit) return hit;
  const res = await fetch(req);
  if (res.ok) {
    const copy = res.clone();
    await (await caches.open(SHELL)).put(req, copy);
  }
  return res;
}

async function networkFirst(req: Request, fallback: () => Promise<Response | undefined>): Promise<Response> {
  try {
    return await fetch(req);
  } catch (e) {
    const hit = await fallback();
    if (hit) return hit;
    throw e;
  }
}
