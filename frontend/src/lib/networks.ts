import { useQuery } from "@tanstack/react-query";
import { api, call, type Post, type Schemas } from "../api/client";
import type { paths } from "../api/schema";
import { NETWORKS, type NetworkLimit } from "./counting";

type JSONOf<T> = T extends { content: { "application/json": infer J } } ? J : never;
export type Connection = JSONOf<paths["/api/v1/connections"]["get"]["responses"]["200"]>["items"] extends
  | (infer C)[]
  | undefined
  ? C
  : never;
export type NetworkInfo = JSONOf<paths["/api/v1/networks"]["get"]["responses"]["200"]>["items"] extends
  | (infer N)[]
  | undefined
  ? N
  : never;
export type Share = Schemas["Share"];

/** Networks whose accounts connect with an app password instead of OAuth. */
export const PASSWORD_NETWORKS: ReadonlySet<string> = new Set(["bluesky"]);

export function limitOf(network: string): NetworkLimit | undefined {
  return NETWORKS.find((n) => n.network === network);
}

/**
 * The limit one text for network must fit when it goes to these
 * connections: the network's, or the smallest a connection's server sets
 * (a Mastodon server's max_characters), as the server checks each share.
 */
export function limitFor(network: string, connections: Pick<Connection, "network" | "max_chars">[]): NetworkLimit | undefined {
  const base = limitOf(network);
  if (!base) return undefined;
  // A connection without a limit of its own is checked against the network's.
  const own = connections.filter((c) => c.network === network).map((c) => c.max_chars || base.max);
  return own.length > 0 ? { ...base, max: Math.min(...own) } : base;
}

export function networkLabel(network: string): string {
  if (network === "link") return "Tracked link"; // a share the member passed on themselves
  return limitOf(network)?.label ?? network.charAt(0).toUpperCase() + network.slice(1);
}

/**
 * The text a share gets unless the member changes it, the server's rule:
 * the curators' text for the network, else the title, else the page's
 * title. Never the commentary: that is the note to colleagues.
 */
export function defaultText(post: Pick<Post, "share_texts" | "title" | "preview">, network: string): string {
  return post.share_texts?.[network] || post.title || post.preview?.title || "";
}

/** Connection IDs grouped by network, in the order first picked. */
export function byNetwork(picked: string[], connections: Connection[]): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const id of picked) {
    const c = connections.find((x) => x.id === id);
    if (!c) continue;
    out.set(c.network, [...(out.get(c.network) ?? []), id]);
  }
  return out;
}

export const connectionStatusText: Record<Connection["status"], string> = {
  active: "Connected",
  needs_reconnect: "Needs reconnecting",
  disabled: "Disabled: the network is no longer allowed here",
  broken: "Broken: connect it again",
};

export function useNetworks() {
  return useQuery({ queryKey: ["networks"], queryFn: () => call(api.GET("/api/v1/networks")), staleTime: 30_000 });
}

export function useConnections() {
  return useQuery({ queryKey: ["connections"], queryFn: () => call(api.GET("/api/v1/connections")) });
}

/** The member's time zone as the browser knows it, e.g. "Europe/Berlin". */
export function timeZone(): string {
  return Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
}

/** A datetime-local value in the member's time zone → RFC 3339 UTC. */
export function localToISO(local: string): string | undefined {
  if (!local) return undefined;
  const d = new Date(local);
  return Number.isNaN(d.getTime()) ? undefined : d.toISOString();
}

/** Now as a datetime-local value, for the input's min. */
export function localNow(d = new Date()): string {
  const p = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
}

export const FINAL_SHARE_STATES: ReadonlySet<Share["state"]> = new Set(["published", "failed", "unconfirmed", "cancelled"]);
