// The one way the app talks HTTP to the gateway: JSON in and out, the bearer token, an
// Idempotency-Key on every mutation (so a retry after a lost answer is applied once), and errors
// turned into ApiError with the API's {code, message, details}. Reads that the gateway answers
// "not projected yet" (503 + Retry-After) are retried for a bounded time.

import { currentSession, signOut } from "../session";
import type { ErrorBody } from "./types";

export const API_BASE = "/api/v1";

/** An error answered by the API (or the network failing); `code` is the API's stable code. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: unknown = null,
    readonly retryAfterMs?: number,
  ) {
    super(message);
    this.name = "ApiError";
  }
}

/** The code of a request that never got an answer. */
export const NETWORK_ERROR = "network";

export type Query = Record<string, string | number | boolean | undefined | null>;

export interface RequestOptions {
  method?: "GET" | "POST" | "PUT" | "PATCH" | "DELETE";
  query?: Query;
  body?: unknown;
  signal?: AbortSignal;
  /** Send without the session's token (sign-in). */
  anonymous?: boolean;
  /** How long a read may keep retrying "not projected yet" answers. */
  waitMs?: number;
}

/** `path?query` with empty values left out, so an unset filter is not sent as "". */
export function withQuery(path: string, query: Query = {}): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value === undefined || value === null || value === "" || value === false) continue;
    params.set(key, String(value));
  }
  const qs = params.toString();
  return qs ? `${path}?${qs}` : path;
}

/** Milliseconds to wait before retrying a 503: the body's hint, else Retry-After, else 500. */
export function retryDelayMs(headers: Headers, details: unknown): number {
  const hinted = (details as { retry_after_ms?: unknown } | null)?.retry_after_ms;
  if (typeof hinted === "number" && hinted > 0) return Math.min(hinted, 5_000);
  const header = Number(headers.get("retry-after"));
  if (Number.isFinite(header) && header > 0) return Math.min(header * 1000, 5_000);
  return 500;
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener("abort", () => {
      clearTimeout(timer);
      reject(signal.reason);
    });
  });

export async function request<T>(path: string, options: RequestOptions = {}): Promise<T> {
  const method = options.method ?? "GET";
  const url = API_BASE + withQuery(path, options.query);
  const headers: Record<string, string> = { Accept: "application/json" };
  const session = options.anonymous ? null : currentSession();
  if (session) headers.Authorization = `Bearer ${session.token}`;
  if (options.body !== undefined) headers["Content-Type"] = "application/json";
  // One key per logical command, reused by the retry below: the server applies it once.
  if (method !== "GET") headers["Idempotency-Key"] = crypto.randomUUID();
  const init: RequestInit = {
    method,
    headers,
    body: options.body === undefined ? null : JSON.stringify(options.body),
    signal: options.signal ?? null,
  };

  const deadline = Date.now() + (options.waitMs ?? 15_000);
  for (let attempt = 1; ; attempt++) {
    let response: Response;
    try {
      response = await fetch(url, init);
    } catch (e) {
      if (options.signal?.aborted) throw e;
      // A mutation whose answer was lost may have been applied: resending the same key is safe.
      if (attempt === 1) continue;
      throw new ApiError(0, NETWORK_ERROR, "the server could not be reached");
    }
    if (response.ok) {
      const text = await response.text();
      return (text ? JSON.parse(text) : null) as T;
    }
    const error = await toApiError(response);
    if (error.status === 401 && session) {
      signOut("Your session has ended. Please sign in again.");
    }
    // 503 on a read: the projection is behind or a service is restarting. Wait and ask again.
    if (error.status === 503 && method === "GET" && Date.now() + (error.retryAfterMs ?? 0) < deadline) {
      await sleep(error.retryAfterMs ?? 500, options.signal);
      continue;
    }
    throw error;
  }
}

/** The query parameters that ask a read to wait for the projection. */
const CONSISTENCY_PARAMS = ["min_version", "consistent_with"];

/**
 * A read that asks to reflect some writes. If the projection does not get there in time (a write
 * parked as a dead letter, a stalled consumer) the page still shows something: the read is made
 * again without the wait, rather than failing for as long as the write is remembered.
 */
export async function readConsistent<T>(path: string, options: RequestOptions): Promise<T> {
  try {
    return await request<T>(path, options);
  } catch (e) {
    const query = options.query ?? {};
    const constrained = CONSISTENCY_PARAMS.some((k) => query[k] !== undefined && query[k] !== "");
    if (!(e instanceof ApiError) || e.status !== 503 || !constrained) throw e;
    const relaxed = Object.fromEntries(Object.entries(query).filter(([k]) => !CONSISTENCY_PARAMS.includes(k)));
    try {
      return await request<T>(path, { ...options, query: relaxed, waitMs: 0 });
    } catch (fallback) {
      // Not there at all yet (a creation still on its way): "not projected" is the truer answer.
      throw fallback instanceof ApiError && fallback.code === "not_found" ? e : fallback;
    }
  }
}

async function toApiError(response: Response): Promise<ApiError> {
  let body: Partial<ErrorBody> = {};
  try {
    body = (await response.json()) as Partial<ErrorBody>;
  } catch {
    /* not JSON (a proxy, or the 504 of the gateway's request timeout) */
  }
  const code = typeof body.code === "string" ? body.code : codeForStatus(response.status);
  const message = typeof body.message === "string" ? body.message : response.statusText;
  const details = body.details ?? null;
  const retry = response.status === 503 ? retryDelayMs(response.headers, details) : undefined;
  return new ApiError(response.status, code, message, details, retry);
}

/** The API's code for a status when the body did not say. */
export function codeForStatus(status: number): string {
  switch (status) {
    case 400:
      return "invalid_argument";
    case 401:
      return "unauthenticated";
    case 403:
      return "permission_denied";
    case 404:
      return "not_found";
    case 409:
      return "conflict";
    case 422:
      return "failed_precondition";
    case 503:
      return "unavailable";
    case 504:
      return "deadline_exceeded";
    default:
      return "internal";
  }
}
