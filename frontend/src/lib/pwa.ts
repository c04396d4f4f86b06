// The installable app on the page's side: the service worker's registration
// (pwa/sw.ts), the browser's install prompt, forgetting the member's cached
// answers on sign-out, and the links that other apps share to Chorus.
import { useSyncExternalStore } from "react";

/** Registers /sw.js (scope /) in a production build. */
export function registerServiceWorker() {
  if (!import.meta.env.PROD || !("serviceWorker" in navigator)) return;
  window.addEventListener("load", () => {
    navigator.serviceWorker.register("/sw.js", { scope: "/" }).catch(() => {
      /* the app works without it, only not offline */
    });
  });
}

let offlineCopy = false;
const copyListeners = new Set<() => void>();

/** Listens for the worker saying whether the answers shown are kept copies. */
export function listenForOfflineCopies(container: ServiceWorkerContainer | undefined = navigator.serviceWorker) {
  container?.addEventListener("message", (e: MessageEvent) => {
    const v = e.data?.type === "offline-copy" ? true : e.data?.type === "network" ? false : offlineCopy;
    if (v === offlineCopy) return;
    offlineCopy = v;
    copyListeners.forEach((l) => l());
  });
}

/** Whether the member's data on screen came from the worker's kept copies
 * because the server could not be reached. */
export function useOfflineCopy(): boolean {
  return useSyncExternalStore(
    (l) => {
      copyListeners.add(l);
      return () => copyListeners.delete(l);
    },
    () => offlineCopy,
  );
}

/** Deletes every member's cached API answers (see pwa/sw.ts), and tells the
 * worker, which does the same when it sees the sign-out request. */
export async function forgetMemberData() {
  navigator.serviceWorker?.controller?.postMessage({ type: "signed-out" });
  if (typeof caches === "undefined") return;
  const names = await caches.keys().catch(() => [] as string[]);
  await Promise.all(names.filter((n) => n.startsWith("chorus-data-")).map((n) => caches.delete(n)));
}

/** The event Chromium-based browsers fire when the app can be installed. */
export interface InstallPromptEvent extends Event {
  prompt(): Promise<unknown>;
  userChoice: Promise<{ outcome: "accepted" | "dismissed" }>;
}

let deferred: InstallPromptEvent | null = null;
const listeners = new Set<() => void>();
const changed = () => listeners.forEach((l) => l());

/** Starts listening for the install prompt; call once, early (main.tsx),
 * since the browser may fire it before any screen is shown. */
export function listenForInstallPrompt(target: Window = window) {
  target.addEventListener("beforeinstallprompt", (e) => {
    e.preventDefault(); // the app shows its own hint
    deferred = e as InstallPromptEvent;
    changed();
  });
  target.addEventListener("appinstalled", () => {
    deferred = null;
    changed();
  });
}

/** The pending install prompt, if the browser offered one. */
export function useInstallPrompt(): InstallPromptEvent | null {
  return useSyncExternalStore(
    (l) => {
      listeners.add(l);
      return () => listeners.delete(l);
    },
    () => deferred,
  );
}

/** Shows the browser's install dialog; the prompt can be used only once. */
export async function install(): Promise<boolean> {
  const e = deferred;
  if (!e) return false;
  deferred = null;
  changed();
  await e.prompt();
  return (await e.userChoice).outcome === "accepted";
}

/** An http(s) URL, normalised, or undefined for anything else
 * (javascript:, data:, file:, relative paths, garbage). */
export function webURL(s: string | null | undefined): string | undefined {
  const v = s?.trim();
  if (!v) return undefined;
  try {
    const u = new URL(v);
    return (u.protocol === "https:" || u.protocol === "http:") && u.hostname !== "" ? u.href : undefined;
  } catch {
    return undefined;
  }
}

/** What another app or the bookmarklet shared, as the suggestion form's
 * fields. Phones often put the link in text rather than url. */
export interface Shared {
  url: string;
  commentary: string;
  /** Something was shared as the link, but it is not a web address. */
  refused: boolean;
}

export function sharedLink(q: URLSearchParams): Shared | null {
  const title = q.get("title")?.trim() ?? "";
  const rawURL = q.get("url")?.trim() ?? "";
  let text = q.get("text")?.trim() ?? "";
  if (!title && !rawURL && !text) return null;
  let url = webURL(rawURL);
  if (!url && !rawURL) {
    const found = text.match(/https?:\/\/[^\s<>"]+/i)?.[0];
    url = webURL(found);
    if (url && found) text = text.replace(found, "").trim();
  }
  if (text === title || text === url) text = "";
  return { url: url ?? "", commentary: [title, text].filter(Boolean).join("\n\n"), refused: rawURL !== "" && !url };
}

/** The bookmarklet: opens this app's suggestion form for the page shown. */
export function bookmarklet(origin: string): string {
  const target = JSON.stringify(origin + "/suggest?url=");
  return (
    "javascript:(()=>{window.open(" +
    target +
    "+encodeURIComponent(location.href)+'&title='+encodeURIComponent(document.title),'_blank','noopener')})()"
  );
}
