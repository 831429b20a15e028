// The history of any aggregate (post, customer or order) as a timeline of its events, and its
// state as of any version or any moment, folded by the event store from the first event.

import { ApiError } from "../api/http";
import { readStream, type AsOf } from "../api/history";
import { ErrorNote, LiveBadge, Loading } from "../components/feedback";
import { ValueView } from "../components/value-view";
import { formatTime } from "../format";
import { useLiveEvents, useLoad } from "../hooks";
import { navigate } from "../router";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** `PostLiked` → `Post liked`. */
export function eventLabel(eventType: string): string {
  const words = eventType.replace(/([a-z0-9])([A-Z])/g, "$1 $2").toLowerCase();
  return words.charAt(0).toUpperCase() + words.slice(1);
}

/** Where the aggregate's own page is. */
function pageOf(type: string, id: string): string | null {
  switch (type) {
    case "post":
      return `/posts/${id}`;
    case "customer":
      return `/customers/${id}`;
    case "order":
      return `/orders/${id}`;
    default:
      return null;
  }
}

export function HistoryPage({ id, query }: { id?: string; query: URLSearchParams }) {
  if (!id) return <FindAggregate />;
  const version = Number(query.get("v") ?? "") || undefined;
  const at = query.get("at") ?? undefined;
  return <AggregateHistory id={id} version={version} at={at} />;
}

function FindAggregate() {
  return (
    <section class="narrow-page">
      <h1>History</h1>
      <p>Every post, customer and order keeps all its events. Open the history from an item's page, or enter its id.</p>
      <form
        class="stack card"
        onSubmit={(e) => {
          e.preventDefault();
          const value = String(new FormData(e.currentTarget as HTMLFormElement).get("id") ?? "").trim();
          if (UUID.test(value)) navigate(`/history/${value.toLowerCase()}`);
        }}
      >
        <label>
          Id
          <input name="id" pattern={UUID.source.slice(1, -1)} placeholder="0190a0b0-…" required />
        </label>
        <div class="actions">
          <button type="submit" class="primary">
            Show history
          </button>
        </div>
      </form>
    </section>
  );
}

function AggregateHistory({ id, version, at }: { id: string; version?: number | undefined; at?: string | undefined }) {
  const stream = useLoad((signal) => readStream(id, null, signal), [id]);
  const asOf: AsOf = at ? { time: at } : version ? { version } : null;
  const snapshot = useLoad(
    (signal) => (asOf ? readStream(id, asOf, signal) : Promise.resolve(null)),
    [id, version, at],
  );
  const live = useLiveEvents({ aggregateId: id }, () => stream.reload());

  if (stream.error instanceof ApiError && stream.error.code === "not_found") {
    return (
      <section>
        <h1>No history</h1>
        <p>Nothing was ever recorded under this id.</p>
      </section>
    );
  }
  if (!stream.data) return stream.error ? <ErrorNote error={stream.error} onRetry={() => stream.reload()} /> : <Loading />;

  const s = stream.data;
  // Without a choice, the state shown is the present one (the whole stream's fold).
  const shown = asOf ? snapshot.data : s;
  const selected = shown?.version ?? s.current_version;
  const page = pageOf(s.aggregate_type, id);
  const go = (params: { v?: number; at?: string }) => {
    const qs = new URLSearchParams();
    if (params.v) qs.set("v", String(params.v));
    if (params.at) qs.set("at", params.at);
    navigate(`/history/${id}${qs.size ? `?${qs}` : ""}`, { replace: true });
  };

  return (
    <section class="history">
      <p class="crumbs">
        {page && <a href={page}>← This {s.aggregate_type}</a>} <LiveBadge connected={live} />
      </p>
      <h1>
        History of a {s.aggregate_type} <small class="muted mono">{id}</small>
      </h1>
      <div class="history-grid">
        <div>
          <h2>{s.events.length} events</h2>
          <ol class="timeline" data-testid="timeline">
            {s.events.map((e) => (
              <li key={e.event_id} class={e.version === selected ? "selected" : ""}>
                <button type="button" class="timeline-item" onClick={() => go({ v: e.version })} aria-current={e.version === selected}>
                  <span class="version">v{e.version}</span>
                  <strong>{eventLabel(e.event_type)}</strong>
                  <span class="muted">
                    by {e.actor || "system"} · {formatTime(e.occurred_at)}
                  </span>
                </button>
                <div class="event-data">
                  <ValueView value={e.data} />
                </div>
              </li>
            ))}
          </ol>
        </div>
        <aside class="card state" aria-label="State">
          <h2>
            State {selected === s.current_version ? "now" : `as of version ${selected}`}
            {at && <small class="muted"> (at {formatTime(at)})</small>}
          </h2>
          <label>
            Version {selected} of {s.current_version}
            <input
              type="range"
              min={1}
              max={Math.max(1, s.current_version)}
              value={selected || 1}
              onChange={(e) => go({ v: Number((e.currentTarget as HTMLInputElement).value) })}
            />
          </label>
          <label>
            As of a moment
            <input
              type="datetime-local"
              step="1"
              onChange={(e) => {
                const local = (e.currentTarget as HTMLInputElement).value;
                if (local) go({ at: new Date(local).toISOString() });
              }}
            />
          </label>
          <ErrorNote error={snapshot.error} />
          {asOf && !snapshot.data && !snapshot.error ? (
            <Loading what="Folding the events" />
          ) : shown && shown.version === 0 ? (
            <p class="muted">It did not exist yet.</p>
          ) : (
            <div data-testid="state">
              <ValueView value={shown?.state} />
            </div>
          )}
          {selected !== s.current_version && (
            <button type="button" class="link" onClick={() => go({})}>
              Show the present
            </button>
          )}
        </aside>
      </div>
    </section>
  );
}
