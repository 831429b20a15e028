// The hooks pages share: loading data (keeping what is shown while a newer copy loads, so a live
// update never blanks the page), the live event stream, and the signed-in session.

import { useCallback, useEffect, useRef, useState } from "preact/hooks";
import { ApiError } from "./api/http";
import type { DomainEvent } from "./api/types";
import { currentSession, onSessionChange, type Session } from "./session";

/** How long a page waits before reading again after a 503. */
const AUTO_RETRY_MS = 3000;

export interface Loaded<T> {
  data: T | undefined;
  error: unknown;
  loading: boolean;
  /** Loads again; `hint` reaches the loader (e.g. a version the live stream announced). */
  reload: (hint?: number) => void;
}

/**
 * Runs `load` now and whenever `deps` change or `reload` is called. An older answer never
 * overwrites a newer one: each load aborts the one before.
 */
export function useLoad<T>(load: (signal: AbortSignal, hint: number) => Promise<T>, deps: unknown[]): Loaded<T> {
  const [state, setState] = useState<{ data?: T; error: unknown; loading: boolean }>({
    error: null,
    loading: true,
  });
  const [tick, setTick] = useState({ n: 0, hint: 0 });
  const loadRef = useRef(load);
  loadRef.current = load;

  useEffect(() => {
    const controller = new AbortController();
    setState((s) => ({ ...s, loading: true }));
    loadRef.current(controller.signal, tick.hint).then(
      (data) => !controller.signal.aborted && setState({ data, error: null, loading: false }),
      (error: unknown) => !controller.signal.aborted && setState((s) => ({ ...s, error, loading: false })),
    );
    return () => controller.abort();
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [...deps, tick]);

  const reload = useCallback((hint = 0) => setTick((t) => ({ n: t.n + 1, hint: Math.max(hint, 0) })), []);

  // A 503 heals by itself (a service restarting, a projection catching up): try again shortly,
  // so the page recovers without the user doing anything.
  useEffect(() => {
    if (!(state.error instanceof ApiError) || state.error.status !== 503) return;
    const timer = setTimeout(() => reload(tick.hint), AUTO_RETRY_MS);
    return () => clearTimeout(timer);
  }, [state.error]);

  return { data: state.data, error: state.error, loading: state.loading, reload };
}

export interface LiveFilter {
  aggregateId?: string;
  aggregateType?: "post" | "customer" | "order";
}

/**
 * Calls `onEvent` for every event the gateway publishes that matches `filter`, and with `null`
 * when some were missed (the stream lagged or reconnected): then the page should reload whatever
 * it shows. Several events arriving together are delivered after a short pause, in one batch, so
 * a burst causes one reload.
 */
export function useLiveEvents(
  filter: LiveFilter | null,
  onEvents: (events: DomainEvent[] | null) => void,
): boolean {
  const [connected, setConnected] = useState(false);
  const callback = useRef(onEvents);
  callback.current = onEvents;
  const key = filter ? `${filter.aggregateType ?? ""}/${filter.aggregateId ?? ""}` : "";

  useEffect(() => {
    if (!filter || typeof EventSource === "undefined") return;
    const params = new URLSearchParams();
    if (filter.aggregateId) params.set("aggregate_id", filter.aggregateId);
    if (filter.aggregateType) params.set("aggregate_type", filter.aggregateType);
    const source = new EventSource(`/api/v1/events?${params}`);
    let batch: DomainEvent[] = [];
    let timer: ReturnType<typeof setTimeout> | undefined;
    let everOpened = false;
    const flush = () => {
      timer = undefined;
      const events = batch;
      batch = [];
      callback.current(events);
    };
    source.onopen = () => {
      setConnected(true);
      // After a reconnect, events may have been missed while the stream was down.
      if (everOpened) callback.current(null);
      everOpened = true;
    };
    source.onerror = () => setConnected(false); // EventSource reconnects by itself
    source.onmessage = (message) => {
      try {
        batch.push(JSON.parse(message.data as string) as DomainEvent);
      } catch {
        return;
      }
      timer ??= setTimeout(flush, 150);
    };
    source.addEventListener("lagged", () => callback.current(null));
    return () => {
      clearTimeout(timer);
      source.close();
      setConnected(false);
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [key]);
  return connected;
}

export function useSession(): Session | null {
  const [session, setSession] = useState(currentSession);
  useEffect(() => onSessionChange((s) => setSession(s)), []);
  return session;
}

/** Highest version per aggregate among `events`, for reads that must reflect them. */
export function latestVersions(events: DomainEvent[]): Array<[string, number]> {
  const latest = new Map<string, number>();
  for (const e of events) latest.set(e.aggregate_id, Math.max(e.version, latest.get(e.aggregate_id) ?? 0));
  return [...latest];
}

export interface Action {
  busy: boolean;
  error: unknown;
  /** Runs `work` unless one is running; a failure is kept in `error` for the page to show. */
  run: (work: () => Promise<unknown>) => Promise<boolean>;
  clear: () => void;
}

/** A user action (a button, a form): busy while it runs, its error kept for display. */
export function useAction(): Action {
  const [state, setState] = useState<{ busy: boolean; error: unknown }>({ busy: false, error: null });
  const running = useRef(false);
  const run = useCallback(async (work: () => Promise<unknown>) => {
    if (running.current) return false; // a double click must not send the command twice
    running.current = true;
    setState({ busy: true, error: null });
    try {
      await work();
      setState({ busy: false, error: null });
      return true;
    } catch (error) {
      setState({ busy: false, error });
      return false;
    } finally {
      running.current = false;
    }
  }, []);
  const clear = useCallback(() => setState({ busy: false, error: null }), []);
  return { ...state, run, clear };
}

/**
 * The live-stream handler of a page that shows one aggregate: reload at the newest announced
 * version, unless the page already shows it (the echo of the user's own write).
 */
export function reloadOnNewer(loaded: Loaded<{ version: number }>): (events: DomainEvent[] | null) => void {
  return (events) => {
    if (events === null) return loaded.reload();
    const newest = Math.max(0, ...events.map((e) => e.version));
    if (newest > (loaded.data?.version ?? 0)) loaded.reload(newest);
  };
}
