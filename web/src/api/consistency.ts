// Read-your-writes. The read model lags the event store by a moment, so right after a write a
// plain read may still show the old state. Every command reply carries the aggregate's new
// version; this module remembers those versions, and every read of that aggregate (or list of its
// kind) asks the gateway to wait until the projection has reached them (`min_version`,
// `consistent_with`). Kept in sessionStorage so a reload straight after a write is still safe.

export type AggregateKind = "post" | "customer" | "order";

interface Write {
  id: string;
  kind: AggregateKind;
  version: number;
  /** Milliseconds since the epoch; old writes are long projected and stop constraining reads. */
  at: number;
}

const STORAGE_KEY = "cqrsplus.writes";
/** After this long a write is projected (or parked as a dead letter): stop waiting for it. */
export const WRITE_TTL_MS = 2 * 60_000;
/** The gateway checks each token; a long list would only slow reads down. */
export const MAX_LIST_TOKENS = 10;

export class WriteLog {
  private writes: Write[];

  constructor(
    private readonly now: () => number = Date.now,
    private readonly storage: Pick<Storage, "getItem" | "setItem"> | null = safeSessionStorage(),
  ) {
    this.writes = this.restore();
  }

  /** Remembers a write this tab made (or learnt of) so later reads reflect it. */
  record(kind: AggregateKind, id: string, version: number): void {
    this.prune();
    const existing = this.writes.find((w) => w.id === id);
    if (existing) {
      existing.version = Math.max(existing.version, version);
      existing.at = this.now();
      existing.kind = kind;
    } else {
      this.writes.push({ id, kind, version, at: this.now() });
    }
    this.persist();
  }

  /** The version a read of `id` must reflect, if this tab wrote it recently. */
  minVersion(id: string): number | undefined {
    this.prune();
    return this.writes.find((w) => w.id === id)?.version;
  }

  /** `ID:VERSION,...` for a list of `kind`, newest writes first, or undefined if none. */
  listTokens(kind: AggregateKind, extra: Array<[string, number]> = []): string | undefined {
    this.prune();
    const pairs = new Map<string, number>();
    for (const [id, version] of extra) pairs.set(id, Math.max(version, pairs.get(id) ?? 0));
    const recent = this.writes.filter((w) => w.kind === kind).sort((a, b) => b.at - a.at);
    for (const w of recent) pairs.set(w.id, Math.max(w.version, pairs.get(w.id) ?? 0));
    const tokens = [...pairs].slice(0, MAX_LIST_TOKENS).map(([id, v]) => `${id}:${v}`);
    return tokens.length ? tokens.join(",") : undefined;
  }

  /** Forget everything (sign-out). */
  clear(): void {
    this.writes = [];
    this.persist();
  }

  private prune(): void {
    const cutoff = this.now() - WRITE_TTL_MS;
    this.writes = this.writes.filter((w) => w.at >= cutoff);
  }

  private restore(): Write[] {
    try {
      const raw = this.storage?.getItem(STORAGE_KEY);
      const parsed: unknown = raw ? JSON.parse(raw) : [];
      return Array.isArray(parsed) ? (parsed as Write[]) : [];
    } catch {
      return [];
    }
  }

  private persist(): void {
    try {
      this.storage?.setItem(STORAGE_KEY, JSON.stringify(this.writes));
    } catch {
      /* storage full or blocked: memory still works for this page */
    }
  }
}

function safeSessionStorage(): Storage | null {
  try {
    return typeof sessionStorage === "undefined" ? null : sessionStorage;
  } catch {
    return null;
  }
}

/** The tab's one log. */
export const writes = new WriteLog();
