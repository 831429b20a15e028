//! A rebuild over a store holding events it cannot apply, on the real servers: the events are in
//! the MongoDB-wire event store, served by a real command-service's EventStore.ReadAll:
//! the rebuild finishes, parks the unappliable event (and holds what waits behind it), carries the
//! live dead letters over without duplicating one, and honours a skip made in the live read model.

mod common {
    pub mod events;
}

use std::collections::{HashMap, HashSet};

use command_service::store::{EventStore as _, MongoEventStore, NewCommit};
use common::events::{Stream, created, delivered, liked, raw};
use cqrsplus_domain::{Aggregate, EventEnvelope, post::Post, post::PostEvent};
use query_service::{
    projector::{Outcome, Projector, dead_letters},
    read_model::MIGRATOR,
    rebuild::Rebuild,
};
use sqlx::PgPool;
use uuid::Uuid;

/// The real event store holding `events`, one commit per event appended as a writer appends
/// (rules are not checked there: they guard commands, so old events that break today's rules
/// are in stores), served by a real command-service whose EventStore.ReadAll the rebuild reads.
async fn serve(events: Vec<EventEnvelope>) -> String {
    let database = testkit::unique_name("t");
    let client = mongodb::Client::with_uri_str(testkit::mongo::uri())
        .await
        .expect("mongo client");
    let store = MongoEventStore::open(&client.database(&database), 0)
        .await
        .expect("open the event store");
    let mut positions: HashMap<Uuid, i64> = HashMap::new();
    for event in events {
        let after = positions.get(&event.aggregate_id).copied().unwrap_or(0);
        let appended = store
            .append(NewCommit {
                stream_id: event.aggregate_id,
                aggregate_type: Post::TYPE,
                expected_version: event.version - 1,
                after_position: after,
                // Each commit is its own command; the envelopes of one stream share theirs.
                command_id: Uuid::now_v7(),
                committed_at: event.occurred_at,
                events: vec![event.clone()],
            })
            .await
            .expect("append");
        positions.insert(event.aggregate_id, appended.position);
    }
    let mut config = command_service::config::Config::ephemeral(
        &testkit::mongo::uri(),
        &database,
        &testkit::kafka::brokers(),
    );
    config.kafka_topic_prefix = format!("{}.", testkit::unique_name("t"));
    let app = command_service::startup::Application::build(config)
        .await
        .expect("build command-service");
    let addr = app.local_addr();
    tokio::spawn(app.run_until_stopped(std::future::pending()));
    format!("http://{addr}")
}

async fn count(pool: &PgPool, sql: &'static str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(pool).await.unwrap()
}

#[tokio::test]
async fn a_rebuild_over_an_unappliable_event_finishes_and_keeps_it_parked() {
    let db = testkit::postgres::fresh_database().await;
    MIGRATOR.run(&db.pool).await.expect("migrate");
    let pool = db.pool.clone();
    let live = Projector::new(pool.clone(), Some("test-group".into()));

    // A healthy post.
    let mut fine = Stream::new("post");
    let fine_events = [
        fine.next(0, created("alice", "fine")),
        fine.next(1, liked("bob")),
    ];
    // A post whose creation Postgres text cannot hold (U+0000), and a like waiting behind it.
    let mut poison = Stream::new("post");
    let poison_events = [
        poison.next(0, created("alice", "nul \u{0} inside")),
        poison.next(1, liked("bob")),
    ];
    // A post whose edit an admin skipped in the live read model.
    let mut skipped = Stream::new("post");
    let skipped_events = [
        skipped.next(0, created("carol", "before")),
        skipped.next(
            1,
            PostEvent::PostEdited {
                message: "edit \u{0} with NUL".into(),
            },
        ),
        skipped.next(2, liked("dan")),
    ];

    // The live read model got them all from Kafka, plus bytes that are not an event.
    let mut deliveries: Vec<_> = fine_events
        .iter()
        .chain(&poison_events)
        .chain(&skipped_events)
        .map(delivered)
        .collect();
    deliveries.push(raw(b"{not json".to_vec()));
    let outcomes = live.apply(&deliveries).await.unwrap();
    assert!(matches!(outcomes[2], Outcome::Parked(_)), "{outcomes:?}");
    assert!(matches!(outcomes[5], Outcome::Parked(_)), "{outcomes:?}");
    let (letters, _) = dead_letters::list(&pool, None, 100).await.unwrap();
    let edit_letter = letters
        .iter()
        .find(|l| l.event_id == Some(skipped_events[1].event_id))
        .expect("the NUL edit is parked live")
        .id;
    dead_letters::skip(&live, edit_letter, "admin", "NUL from an old client")
        .await
        .expect("skip");
    let live_letters: HashSet<i64> = dead_letters::list(&pool, None, 100)
        .await
        .unwrap()
        .0
        .iter()
        .map(|l| l.id)
        .collect();
    assert_eq!(live_letters.len(), 2, "the poison creation and the bytes");

    // The rebuild, from the store holding the same events.
    let store: Vec<EventEnvelope> = fine_events
        .iter()
        .chain(&poison_events)
        .chain(&skipped_events)
        .cloned()
        .collect();
    let rebuild = Rebuild {
        database_url: db.url.clone(),
        command_service_url: serve(store).await,
        batch_size: 100,
    };
    let (progress, run) = rebuild.prepare().await.expect("prepare");
    run.await.expect("the rebuild finishes");
    let p = progress.lock().unwrap().clone();
    assert_eq!(p.events_parked, 1, "{p:?}");
    assert!(p.events_held >= 1, "{p:?}");

    // The rebuilt read model: the healthy post, the skipped edit skipped again.
    let posts: Vec<(Uuid, String, i64)> =
        sqlx::query_as("select post_id, message, like_count from posts order by created_at")
            .fetch_all(&pool)
            .await
            .unwrap();
    let ids: HashSet<Uuid> = posts.iter().map(|p| p.0).collect();
    assert!(
        ids.contains(&fine.id()) && ids.contains(&skipped.id()),
        "{posts:?}"
    );
    assert!(!ids.contains(&poison.id()), "{posts:?}");
    let skipped_row = posts.iter().find(|p| p.0 == skipped.id()).unwrap();
    assert_eq!((skipped_row.1.as_str(), skipped_row.2), ("before", 1));

    // Still parked, once, under the live letter's id; the like waits behind it.
    let (letters, total) = dead_letters::list(&pool, None, 100).await.unwrap();
    assert_eq!(total, 2, "{letters:?}");
    let now: HashSet<i64> = letters.iter().map(|l| l.id).collect();
    assert_eq!(now, live_letters, "the live letters, carried over");
    assert!(
        letters
            .iter()
            .any(|l| l.event_id == Some(poison_events[0].event_id))
    );
    assert_eq!(
        count(&pool, "select count(*) from held_events").await,
        1,
        "the poison post's like is held"
    );
    // The skip is still recorded.
    assert_eq!(
        count(
            &pool,
            "select count(*) from dead_letters where resolved_at is not null"
        )
        .await,
        1
    );
}
