// Operations on the read side, for admins: events the projections parked (dead letters), to
// apply again once the cause is fixed, and a rebuild of the read model from the event store
// with its progress. Shown only to users with the admin role; the gateway checks it as well.

import { useEffect, useState } from "preact/hooks";
import * as admin from "../api/admin";
import type { DeadLetter, RebuildProgress, ReplayOutcome } from "../api/types";
import { ErrorNote, Empty, Loading } from "../components/feedback";
import { PagerControls, usePager } from "../components/pager";
import { count, formatTime, label } from "../format";
import { useAction, useLoad, useSession } from "../hooks";
import { isAdmin } from "../session";
import { eventLabel } from "./history";
import { SignInFirst } from "./sign-in";

export function AdminPage() {
  const session = useSession();
  if (!session) return <SignInFirst what="administer the read model" next="/admin" />;
  if (!isAdmin(session)) {
    return (
      <section class="narrow-page">
        <h1>Administrators only</h1>
        <p>This page needs the admin role. Sign in again as an administrator to use it.</p>
      </section>
    );
  }
  return (
    <section>
      <h1>Administration</h1>
      <Rebuild />
      <DeadLetters />
    </section>
  );
}

const ACTIVE = new Set(["running", "switching"]);

function Rebuild() {
  const progress = useLoad((signal) => admin.latestRebuild(signal), []);
  const action = useAction();
  const [started, setStarted] = useState<RebuildProgress | null>(null);
  const current = progress.data ?? started;
  const active = current ? ACTIVE.has(current.state) : false;

  // Poll while a rebuild runs: progress is not on the event stream.
  useEffect(() => {
    if (!active) return;
    const timer = setInterval(() => progress.reload(), 1000);
    return () => clearInterval(timer);
  }, [active]);

  const start = () =>
    action.run(async () => {
      const reply = await admin.startRebuild();
      setStarted(reply.progress);
      progress.reload();
    });

  return (
    <article class="card">
      <h2>Rebuild the read model</h2>
      <p class="muted">
        Replays every event into a fresh schema while readers keep using the current one, then switches them over in one
        step.
      </p>
      <ErrorNote error={progress.error} onRetry={() => progress.reload()} />
      {current && current.state !== "idle" && <RebuildStatus progress={current} />}
      {current?.state === "idle" && <p>No rebuild has run yet.</p>}
      <ErrorNote error={action.error} />
      <div class="actions">
        <button type="button" class="primary" onClick={start} disabled={action.busy || active}>
          {active ? "Rebuilding…" : "Start a rebuild"}
        </button>
      </div>
    </article>
  );
}

function RebuildStatus({ progress }: { progress: RebuildProgress }) {
  const percent = Math.max(0, Math.min(100, progress.percent));
  return (
    <div class="stack" data-testid="rebuild-status">
      <p>
        <strong>{label(progress.state)}</strong>
        {progress.started_at && <> · started {formatTime(progress.started_at)}</>}
        {progress.finished_at && <> · finished {formatTime(progress.finished_at)}</>}
      </p>
      <progress max={100} value={percent} aria-label="Rebuild progress" />
      <p class="muted">
        {progress.events_applied} of {progress.events_total} events ({percent.toFixed(0)}%)
        {progress.target_schema && <> into schema {progress.target_schema}</>}
      </p>
      {progress.state === "failed" && progress.error && (
        <div class="note error" role="alert">
          The rebuild failed: {progress.error}
        </div>
      )}
    </div>
  );
}

function DeadLetters() {
  const pager = usePager();
  const letters = useLoad((signal) => admin.listDeadLetters(pager.token || undefined, signal), [pager.token]);
  const action = useAction();
  const [outcome, setOutcome] = useState<ReplayOutcome | null>(null);
  const [skipped, setSkipped] = useState<admin.Skipped | null>(null);

  const replay = (ids: string[] | "all") =>
    action.run(async () => {
      setOutcome(await admin.replayDeadLetters(ids));
      letters.reload();
    });

  // Skipping is for good, so it asks why; the reason is recorded with the admin's name.
  const skip = (id: string) => {
    const reason = window.prompt("Why is this event skipped for good? The reason is recorded with your name.");
    if (!reason?.trim()) return;
    void action.run(async () => {
      setOutcome(null);
      setSkipped(await admin.skipDeadLetter(id, reason));
      letters.reload();
    });
  };

  return (
    <article class="card">
      <div class="title-row">
        <h2>Dead letters</h2>
        {letters.data && letters.data.total_size > 0 && (
          <button type="button" onClick={() => replay("all")} disabled={action.busy}>
            Replay all
          </button>
        )}
      </div>
      <p class="muted">Events the projections could not apply. Replay them once the cause is fixed, or skip one for good with a reason.</p>
      {outcome && (
        <div class="note ok" role="status">
          {count(outcome.replayed_count, "event")} applied
          {outcome.failed_count > 0 && `; ${count(outcome.failed_count, "event")} failed again and stay parked`}.
        </div>
      )}
      {skipped && (
        <div class="note ok" role="status">
          Skipped by {skipped.resolved_by}: {skipped.reason}
          {skipped.released_count > 0 && ` (${count(skipped.released_count, "waiting event")} applied)`}.
        </div>
      )}
      <ErrorNote error={action.error} />
      <ErrorNote error={letters.error} onRetry={() => letters.reload()} />
      {!letters.data && !letters.error && <Loading />}
      {letters.data &&
        (letters.data.dead_letters.length === 0 ? (
          <Empty>No parked events: every event was applied.</Empty>
        ) : (
          <ul class="plain" data-testid="dead-letters">
            {letters.data.dead_letters.map((d) => (
              <DeadLetterItem
                key={d.dead_letter_id}
                letter={d}
                busy={action.busy}
                onReplay={() => replay([d.dead_letter_id])}
                onSkip={() => skip(d.dead_letter_id)}
              />
            ))}
          </ul>
        ))}
      {letters.data && <PagerControls pager={pager} nextToken={letters.data.next_page_token} />}
    </article>
  );
}

function DeadLetterItem({
  letter,
  busy,
  onReplay,
  onSkip,
}: {
  letter: DeadLetter;
  busy: boolean;
  onReplay: () => void;
  onSkip: () => void;
}) {
  const e = letter.event;
  return (
    <li class="dead-letter">
      <p>
        <strong>{e ? eventLabel(e.event_type) : "Unreadable message"}</strong>
        {e && (
          <>
            {" "}
            · <a href={`/history/${e.aggregate_id}`}>{e.aggregate_type} v{e.version}</a>
          </>
        )}
      </p>
      <p class="muted small">
        {letter.topic} partition {letter.partition} offset {letter.offset} · parked {formatTime(letter.parked_at)} ·{" "}
        {count(letter.attempts, "attempt")}
      </p>
      <p class="error-text">{letter.error}</p>
      <div class="actions">
        <button type="button" onClick={onReplay} disabled={busy}>
          Replay
        </button>
        <button type="button" onClick={onSkip} disabled={busy}>
          Skip with a reason…
        </button>
      </div>
    </li>
  );
}
