// The typed API client: paths, parameters and bodies come from
// src/api/schema.d.ts, generated from cmd/chorus/openapi.yaml by
// `npm run gen` (part of every build), so a contract change breaks the build.
import createClient from "openapi-fetch";
import type { components, paths } from "./schema";
import i18n from "../i18n";

export type Schemas = components["schemas"];
export type Post = Schemas["Post"];
export type Member = Schemas["Member"];
export type Topic = Schemas["Topic"];
export type Role = Schemas["Role"];
export type Problem = Schemas["Problem"];

export const api = createClient<paths>({ baseUrl: "", credentials: "same-origin" });

/** An API error: the RFC 9457 problem document, when the server sent one. */
export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly problem?: Partial<Problem>;
  constructor(status: number, problem?: Partial<Problem>) {
    super(problem?.detail || problem?.title || i18n.t("The server answered {{status}}.", { status }));
    this.name = "ApiError";
    this.status = status;
    this.code = problem?.code ?? "";
    this.problem = problem;
  }
}

type Result<T> = { data?: T; error?: unknown; response: Response };

/** Returns the data of a successful call, or throws an ApiError. */
export async function call<T>(p: Promise<Result<T>>): Promise<T> {
  let r: Result<T>;
  try {
    r = await p;
  } catch {
    throw new ApiError(0, { detail: i18n.t("The server cannot be reached. Check your connection and try again.") });
  }
  if (!r.response.ok) {
    const e = r.error;
    throw new ApiError(r.response.status, e && typeof e === "object" ? (e as Partial<Problem>) : undefined);
  }
  return r.data as T;
}

export function isApiError(e: unknown, status?: number): e is ApiError {
  return e instanceof ApiError && (status === undefined || e.status === status);
}
