// The audit history of any aggregate, straight from the event store.

import { request } from "./http";
import type { Stream } from "./types";

export type AsOf = { version: number } | { time: string } | null;

export function readStream(id: string, asOf: AsOf = null, signal?: AbortSignal) {
  const query =
    asOf === null ? {} : "version" in asOf ? { to_version: asOf.version } : { as_of: asOf.time };
  return request<Stream>(`/streams/${id}/events`, { signal, query });
}
