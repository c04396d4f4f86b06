import { useQuery, useQueryClient } from "@tanstack/react-query";
import { useNavigate } from "react-router";
import { api, call, type Role } from "../api/client";
import { forgetMemberData } from "./pwa";
import { forgetReturn } from "./returnTo";

export function useMe() {
  return useQuery({
    queryKey: ["me"],
    queryFn: () => call(api.GET("/api/v1/me")),
    retry: false,
    staleTime: 60_000,
  });
}

export function useTopics() {
  return useQuery({
    queryKey: ["topics"],
    queryFn: () => call(api.GET("/api/v1/topics")),
    staleTime: 60_000,
  });
}

export const canCurate = (role?: Role) => role === "curator" || role === "admin";
export const canAnalyse = (role?: Role) => role === "analyst" || role === "admin";
export const isAdmin = (role?: Role) => role === "admin";

/** Formats an RFC 3339 time for people, in their locale. */
export function when(t?: string | null): string {
  if (!t) return "";
  const d = new Date(t);
  return Number.isNaN(d.getTime()) ? t : d.toLocaleString();
}

/** A link target from the API, allowed only when it is http(s). */
export function safeHref(u?: string): string | undefined {
  if (!u) return undefined;
  try {
    const p = new URL(u, window.location.origin);
    return p.protocol === "https:" || p.protocol === "http:" ? p.href : undefined;
  } catch {
    return undefined;
  }
}

/** The member's instance: its name, domains and settings (any member). */
export function useInstance() {
  return useQuery({ queryKey: ["instance"], queryFn: () => call(api.GET("/api/v1/instance")), staleTime: 60_000 });
}

/** A role's name for people; t() translates it where it is shown. */
export const ROLE_LABELS: Record<Role, string> = { employee: "Employee", curator: "Curator", analyst: "Analyst", admin: "Admin" };

/** Signs the member out; through their identity provider when it ends its own session too. */
export function useSignOut() {
  const qc = useQueryClient();
  const navigate = useNavigate();
  return async () => {
    const r = await api.POST("/api/v1/auth/logout").catch(() => undefined);
    qc.clear();
    await forgetMemberData(); // the offline copies of this member's feed
    forgetReturn(); // a page kept through sign-in is not the next member's
    // Signed in through an identity provider that ends its own session
    // too: go there; it sends the browser back to the app.
    const endSession = safeHref(r?.data?.end_session_url);
    if (endSession) {
      window.location.assign(endSession);
      return;
    }
    navigate("/signin");
  };
}
