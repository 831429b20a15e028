//! Store order on the real MongoDB-wire server: positions come from the clock, not from a shared
//! counter, yet each stream's commits sort in version order whatever the instances' clocks say,
//! and two commits that draw the same position both land.

use command_service::store::{EventStore, Loaded, MongoEventStore, NewCommit};
use cqrsplus_domain::{EnvelopeMeta, EventEnvelope, post::Post, post::PostEvent};
use time::OffsetDateTime;
use uuid::Uuid;

/// An hour, in the microseconds positions count.
const HOUR_MICROS: i64 = 3_600_000_000;

fn now_micros() -> i64 {
    (OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000) as i64
}

fn post_event(id: Uuid, version: u64) -> EventEnvelope {
    let command_id = Uuid::now_v7();
    let meta = EnvelopeMeta {
        aggregate_type: "post".to_owned(),
        aggregate_id: id,
        command_id,
        correlation_id: command_id,
        actor: "tester".to_owned(),
        occurred_at: OffsetDateTime::now_utc(),
    };
    let event = if version == 1 {
        PostEvent::PostCreated {
            author: "tester".to_owned(),
            message: "hello".to_owned(),
        }
    } else {
        PostEvent::PostLiked {
            user: format!("user-{version}"),
        }
    };
    EventEnvelope::new(Uuid::now_v7(), version, &meta, &event)
}

/// Appends the next event of `id` as decided on `loaded`, placed after `after_position`.
async fn append_after(
    store: &MongoEventStore,
    id: Uuid,
    version: u64,
    after_position: i64,
) -> command_service::store::Appended {
    let event = post_event(id, version + 1);
    store
        .append(NewCommit {
            stream_id: id,
            aggregate_type: "post",
            expected_version: version,
            after_position,
            command_id: event.command_id,
            events: vec![event],
            committed_at: OffsetDateTime::now_utc(),
        })
        .await
        .expect("append")
}

async fn load(store: &MongoEventStore, id: Uuid) -> Loaded<Post> {
    store.load::<Post>(id).await.expect("load")
}

#[tokio::test]
async fn a_stream_sorts_in_version_order_even_after_an_instance_whose_clock_runs_ahead() {
    let db = testkit::mongo::fresh_database().await;
    // Two instances of command-service: each has its own idea of the last position it issued.
    let first = MongoEventStore::open(&db, 0).await.expect("open");
    let second = MongoEventStore::open(&db, 0).await.expect("open");
    let id = Uuid::now_v7();

    let created = append_after(&first, id, 0, 0).await;
    // The second instance's clock is an hour ahead: its commit sits an hour in the future.
    let ahead = append_after(&second, id, 1, now_micros() + HOUR_MICROS).await;
    assert!(ahead.position > created.position + HOUR_MICROS / 2);

    // The first instance, with the right time, decides on what it loads: its commit must still
    // come after the one from the future, or readers in store order would see version 3 first.
    let loaded = load(&first, id).await;
    assert_eq!((loaded.version, loaded.position), (2, ahead.position));
    let third = append_after(&first, id, loaded.version, loaded.position).await;
    assert!(third.position > ahead.position, "{third:?} after {ahead:?}");

    let all = first.read_all(i64::MIN, 100).await.expect("read all");
    let versions: Vec<i64> = all.iter().map(|c| c.first_version).collect();
    assert_eq!(versions, [1, 2, 3]);
}

#[tokio::test]
async fn a_commit_whose_position_was_just_taken_draws_another_and_lands() {
    let db = testkit::mongo::fresh_database().await;
    let first = MongoEventStore::open(&db, 0).await.expect("open");
    let second = MongoEventStore::open(&db, 0).await.expect("open");
    // Both instances are told to place their commit right after the same position in the
    // future, as two writers in the same microsecond would be.
    let after = now_micros() + HOUR_MICROS;
    let one = append_after(&first, Uuid::now_v7(), 0, after).await;
    assert_eq!(one.position, after + 1);

    let other_id = Uuid::now_v7();
    let other = append_after(&second, other_id, 0, after).await;
    assert!(
        other.position > one.position,
        "drawn again after the clash: {other:?}"
    );
    assert_eq!(other.last_version, 1);
    let loaded = load(&second, other_id).await;
    assert_eq!((loaded.version, loaded.position), (1, other.position));
    assert_eq!(first.commit_count().await.expect("count"), 2);
}

#[tokio::test]
async fn positions_one_instance_issues_only_grow() {
    let db = testkit::mongo::fresh_database().await;
    let store = MongoEventStore::open(&db, 0).await.expect("open");
    let mut last = i64::MIN;
    for _ in 0..20 {
        let appended = append_after(&store, Uuid::now_v7(), 0, 0).await;
        assert!(
            appended.position > last,
            "{} after {last}",
            appended.position
        );
        last = appended.position;
    }
    // Positions are microseconds since the epoch: readable as times, and safe in JSON numbers.
    assert!((last - now_micros()).abs() < 60_000_000);
    assert!(last < (1_i64 << 53));
}
