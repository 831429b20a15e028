-- 0005 dead letters a rebuild parks, dead letters resolved for good, and the event id applied at
-- each version.
--
-- 1. A rebuild reads the event store, not Kafka: an event it cannot apply is parked like a live
--    one, but has no topic, partition or offset. Such a row is identified by its event id (one row
--    per event), and it always has one. Events a rebuild holds behind it likewise have no source.
-- 2. An admin may resolve a dead letter for good ("skip, with a reason") instead of replaying it:
--    who, when and why are kept; a resolved dead letter leaves the active list.
-- 3. projected_events: which event id was applied (or skipped) at each version, so that replaying
--    a dead letter whose version is already taken can tell the same event (a redelivery) from a
--    different one (a message the store does not hold at that version). Versions applied before
--    this migration have no row.

alter table dead_letters
    alter column topic drop not null,
    alter column partition drop not null,
    alter column "offset" drop not null,
    add column resolved_at timestamptz,
    add column resolved_by text,
    add column resolution  text,
    add constraint dead_letters_source_whole
        check ((topic is null) = (partition is null) and (topic is null) = ("offset" is null)),
    add constraint dead_letters_storeless_has_event_id
        check (topic is not null or event_id is not null),
    add constraint dead_letters_resolution_whole
        check ((resolved_at is null) = (resolved_by is null)
               and (resolved_at is null) = (resolution is null));

-- one row per event parked by a rebuild (a Kafka delivery is unique by its source, as before).
create unique index dead_letters_store_event on dead_letters (event_id) where topic is null;

-- what waits for an admin: neither replayed nor resolved.
drop index dead_letters_waiting;
create index dead_letters_waiting on dead_letters (id)
    where replayed_at is null and resolved_at is null;
create index dead_letters_by_version on dead_letters (aggregate_id, version)
    where replayed_at is null and resolved_at is null;

alter table held_events
    alter column topic drop not null,
    alter column partition drop not null,
    alter column "offset" drop not null;

create table projected_events (
    aggregate_id uuid   not null,
    version      bigint not null check (version >= 1),
    event_id     uuid   not null,
    primary key (aggregate_id, version)
);
