//! A rebuild over a store holding events it cannot apply, on the real Postgres, with the event
//! store served by a stand-in of command-service's EventStore.ReadAll (the rebuild's only source):
//! the rebuild finishes, parks the unappliable event (and holds what waits behind it), carries the
//! live dead letters over without duplicating one, and honours a skip made in the live read model.

mod common {
    pub mod events;
}

use std::collections::HashSet;

use common::events::{Stream, created, delivered, liked, raw};
use cqrsplus_domain::{EventEnvelope, post::PostEvent};
use cqrsplus_proto::{
    command::v1::{
        self as cmd,
        event_store_server::{EventStore, EventStoreServer},
    },
    convert::envelope_to_pb,
};
use query_service::{
    projector::{Outcome, Projector, dead_letters},
    read_model::MIGRATOR,
    rebuild::Rebuild,
};
use sqlx::PgPool;
use tokio_stream::wrappers::TcpListenerStream;
use uuid::Uuid;

/// The whole store in one page, one commit per event.
struct FixedStore {
    events: Vec<EventEnvelope>,
}

#[tonic::async_trait]
impl EventStore for FixedStore {
    async fn read_stream(
        &self,
        _request: tonic::Request<cmd::ReadStreamRequest>,
    ) -> Result<tonic::Response<cmd::ReadStreamResponse>, tonic::Status> {
        Err(tonic::Status::unimplemented("not used by rebuilds"))
    }

    async fn read_all(
        &self,
        request: tonic::Request<cmd::ReadAllRequest>,
    ) -> Result<tonic::Response<cmd::ReadAllResponse>, tonic::Status> {
        let first_pass = request.get_ref().cursor.is_empty();
        // The final catch-up re-reads a margin; returning everything again checks that what the
        // fresh schema already has is skipped, parked events included.
        let commits = self
            .events
            .iter()
            .map(|e| cmd::Commit {
                commit_id: e.event_id.to_string(),
                aggregate_type: e.aggregate_type.clone(),
                aggregate_id: e.aggregate_id.to_string(),
                first_version: e.version,
                last_version: e.version,
                command_id: e.command_id.to_string(),
                committed_at: None,
                events: vec![envelope_to_pb(e)],
            })
            .collect();
        Ok(tonic::Response::new(cmd::ReadAllResponse {
            commits,
            next_cursor: "end".into(),
            total_commit_count: if first_pass {
                self.events.len() as u64
            } else {
                0
            },
            total_event_count: if first_pass {
                self.events.len() as u64
            } else {
                0
            },
            end_of_store: true,
        }))
    }
}

async fn serve(events: Vec<EventEnvelope>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(EventStoreServer::new(FixedStore { events }))
            .serve_with_incoming(TcpListenerStream::new(listener)),
    );
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
