-- 0001 projection bookkeeping: what every projection shares, before any read model exists.
--
-- Names are unqualified on purpose: a rebuild applies these same migrations into a fresh schema
-- (through search_path) while the live one keeps serving.

-- the last event version applied to the read model, per aggregate. the projector advances it in
-- the same transaction as the read-model change it covers, so a redelivered event (version <=
-- checkpoint) is recognised and skipped, and a gap (version > checkpoint + 1) is never applied.
create table projection_checkpoints (
    aggregate_id   uuid        primary key,
    aggregate_type text        not null,
    version        bigint      not null check (version >= 1),
    updated_at     timestamptz not null default now()
);

-- events that retrying cannot apply (malformed payload, unknown type, a violated invariant).
-- the consumer parks them here with the reason and moves on; an admin call replays them.
create table dead_letters (
    id             bigint      generated always as identity primary key,
    -- envelope fields, when the payload parsed far enough to read them
    event_id       uuid,
    event_type     text,
    aggregate_type text,
    aggregate_id   uuid,
    version        bigint,
    -- where the message came from, so the same delivery is parked only once
    topic          text        not null,
    partition      integer     not null,
    "offset"       bigint      not null,
    -- the message exactly as received: it may not even be json
    payload        bytea       not null,
    error          text        not null,
    attempts       integer     not null default 1 check (attempts >= 1),
    parked_at      timestamptz not null default now(),
    replayed_at    timestamptz,
    unique (topic, partition, "offset")
);

-- the admin page lists what still waits for a replay, oldest first.
create index dead_letters_waiting on dead_letters (parked_at) where replayed_at is null;
