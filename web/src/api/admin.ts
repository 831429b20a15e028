// The read side's operations, for admins: parked events (dead letters) and rebuilds.

import { request } from "./http";
import type { DeadLetterPage, RebuildProgress, ReplayOutcome } from "./types";

export function listDeadLetters(pageToken?: string, signal?: AbortSignal) {
  return request<DeadLetterPage>("/admin/dead-letters", { signal, query: { page_token: pageToken } });
}

export function replayDeadLetters(ids: string[] | "all") {
  const body = ids === "all" ? { all: true } : { dead_letter_ids: ids };
  return request<ReplayOutcome>("/admin/dead-letters/replay", { method: "POST", body });
}

/** A dead letter resolved for good, without applying it. */
export interface Skipped {
  dead_letter_id: string;
  resolved_at: string;
  resolved_by: string;
  reason: string;
  checkpoint_advanced: boolean;
  released_count: number;
}

export function skipDeadLetter(id: string, reason: string) {
  return request<Skipped>(`/admin/dead-letters/${encodeURIComponent(id)}/skip`, {
    method: "POST",
    body: { reason },
  });
}

export function latestRebuild(signal?: AbortSignal) {
  return request<RebuildProgress>("/admin/rebuilds/latest", { signal });
}

export async function startRebuild() {
  const reply = await request<{ progress: RebuildProgress; already_running: boolean }>("/admin/rebuilds", {
    method: "POST",
  });
  return reply;
}
