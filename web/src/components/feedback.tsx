// How pages tell the user what is happening: errors in plain words, loading, emptiness, and
// whether live updates are flowing.

import { plainMessage } from "../errors";

/** An error as a sentence (role=alert, so screen readers announce it); nothing when null. */
export function ErrorNote({ error, onRetry }: { error: unknown; onRetry?: () => void }) {
  if (!error) return null;
  const text = plainMessage(error);
  if (!text) return null;
  return (
    <div class="note error" role="alert">
      <span>{text}</span>
      {onRetry && (
        <button type="button" class="link" onClick={onRetry}>
          Try again
        </button>
      )}
    </div>
  );
}

export function Loading({ what = "Loading" }: { what?: string }) {
  return (
    <p class="muted" aria-busy="true">
      {what}…
    </p>
  );
}

export function Empty({ children }: { children: preact.ComponentChildren }) {
  return <p class="empty">{children}</p>;
}

/** A dot that says whether this page receives live updates. */
export function LiveBadge({ connected }: { connected: boolean }) {
  return (
    <span class={connected ? "live on" : "live"} title={connected ? "Updates appear as they happen" : "Reconnecting…"}>
      {connected ? "live" : "offline"}
    </span>
  );
}
