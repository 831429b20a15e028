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

export function latestRebuild(signal?: AbortSignal) {
  return request<RebuildProgress>("/admin/rebuilds/latest", { signal });
}

export async function startRebuild() {
  const reply = await request<{ progress: RebuildProgress; already_running: boolean }>("/admin/rebuilds", {
    method: "POST",
  });
  return reply;
}
