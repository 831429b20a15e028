//! Resolving dead letters on the real Postgres: "skip, with a reason" records who, when and why,
//! takes the letter off the active list and lets the events held behind it apply; replay compares
//! event ids, so a letter whose version the read model holds from another event is not taken for
//! a duplicate.

mod common {
    pub mod events;
}

use common::events::{Stream, created, delivered, liked};
use cqrsplus_domain::post::PostEvent;
use query_service::{
    projector::{
        Outcome, Projector,
        dead_letters::{self, SkipError},
    },
    read_model::MIGRATOR,
};
use sqlx::PgPool;
use time::OffsetDateTime;
use uuid::Uuid;

async fn projector() -> (Projector, PgPool) {
    let db = testkit::postgres::fresh_database().await;
    MIGRATOR.run(&db.pool).await.expect("migrate");
    (
        Projector::new(db.pool.clone(), Some("test-group".into())),
        db.pool,
    )
}

async fn post_counts(pool: &PgPool, id: Uuid) -> (i64, i64) {
    sqlx::query_as("select like_count, version from posts where post_id = $1")
        .bind(id)
        .fetch_one(pool)
        .await
        .expect("post row")
}

/// The id of the active dead letter of `event_id`.
async fn letter_of(pool: &PgPool, event_id: Uuid) -> i64 {
    let (letters, _) = dead_letters::list(pool, None, 100).await.unwrap();
    letters
        .iter()
        .find(|l| l.event_id == Some(event_id))
        .map(|l| l.id)
        .unwrap_or_else(|| panic!("event {event_id} is not parked: {letters:?}"))
}

/// A like whose data does not fit the event type: parked when it arrives.
fn broken_like(post: &mut Stream, minutes: i64) -> cqrsplus_domain::EventEnvelope {
    let mut event = post.next(minutes, liked("bob"));
    event.data = serde_json::json!({"user": 42});
    event
}

#[tokio::test]
async fn skipping_a_dead_letter_records_why_and_releases_what_waited_behind_it() {
    let (projector, pool) = projector().await;
    let mut post = Stream::new("post");
    let v1 = post.next(0, created("alice", "hello"));
    let v2 = broken_like(&mut post, 1);
    let v3 = post.next(2, liked("carol"));
    let outcomes = projector
        .apply(&[delivered(&v1), delivered(&v2), delivered(&v3)])
        .await
        .unwrap();
    assert!(matches!(outcomes[1], Outcome::Parked(_)), "{outcomes:?}");
    assert_eq!(outcomes[2], Outcome::Held { waiting_for: 2 });
    let id = letter_of(&pool, v2.event_id).await;

    // Reasons are required.
    let before = OffsetDateTime::now_utc() - time::Duration::seconds(5);
    let skipped = dead_letters::skip(&projector, id, "admin-ann", "bad client build 1.2.3")
        .await
        .expect("skip");
    assert!(skipped.checkpoint_advanced);
    assert_eq!(skipped.released, 1, "the held like applies");
    assert_eq!(skipped.resolved_by, "admin-ann");
    assert!(skipped.resolved_at >= before);
    // Version 2 counts as done; version 3 applied.
    assert_eq!(post_counts(&pool, post.id()).await, (1, 3));

    // Off the active list, recorded for good.
    let (active, total) = dead_letters::list(&pool, None, 100).await.unwrap();
    assert_eq!(total, 0, "{active:?}");
    let (by, why, at): (String, String, OffsetDateTime) = sqlx::query_as(
        "select resolved_by, resolution, resolved_at from dead_letters where id = $1",
    )
    .bind(id)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(
        (by.as_str(), why.as_str(), at),
        ("admin-ann", "bad client build 1.2.3", skipped.resolved_at)
    );
    // A replay does not bring it back, and it cannot be skipped twice.
    let replay = dead_letters::replay(&projector, Some(&[id])).await.unwrap();
    assert_eq!(replay.unknown, vec![id]);
    assert!(matches!(
        dead_letters::skip(&projector, id, "admin-ann", "again").await,
        Err(SkipError::NotParked(_))
    ));
}

#[tokio::test]
async fn versions_are_skipped_in_order() {
    let (projector, pool) = projector().await;
    let mut post = Stream::new("post");
    let v1 = post.next(0, created("alice", "hello"));
    let v2 = broken_like(&mut post, 1);
    projector
        .apply(&[delivered(&v1), delivered(&v2)])
        .await
        .unwrap();
    // Version 3 is broken too and parked while version 2 still waits (as a rebuild parks it).
    let v3 = broken_like(&mut post, 2);
    let first = letter_of(&pool, v2.event_id).await;
    sqlx::query(
        "insert into dead_letters (event_id, aggregate_type, aggregate_id, version, payload, error)
         values ($1, 'post', $2, 3, $3, 'broken')",
    )
    .bind(v3.event_id)
    .bind(post.id())
    .bind(serde_json::to_vec(&v3).unwrap())
    .execute(&pool)
    .await
    .unwrap();
    let second = letter_of(&pool, v3.event_id).await;

    match dead_letters::skip(&projector, second, "admin", "later first").await {
        Err(e @ SkipError::NotNext { .. }) => {
            assert!(
                e.to_string()
                    .contains(&format!("resolve dead letter {first} first")),
                "{e}"
            );
        }
        other => panic!("expected NotNext, got {other:?}"),
    }
    dead_letters::skip(&projector, first, "admin", "v2 broken")
        .await
        .expect("v2");
    dead_letters::skip(&projector, second, "admin", "v3 broken")
        .await
        .expect("v3 once v2 is done");
    let checkpoint: i64 =
        sqlx::query_scalar("select version from projection_checkpoints where aggregate_id = $1")
            .bind(post.id())
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(checkpoint, 3);
}

#[tokio::test]
async fn replay_compares_event_ids_not_versions_alone() {
    let (projector, pool) = projector().await;

    // The same event applied meanwhile (a corrected redelivery keeps its id): replayed.
    let mut same = Stream::new("post");
    let s1 = same.next(0, created("alice", "one"));
    let s2 = broken_like(&mut same, 1);
    projector
        .apply(&[delivered(&s1), delivered(&s2)])
        .await
        .unwrap();
    let same_letter = letter_of(&pool, s2.event_id).await;
    let fixed = cqrsplus_domain::EventEnvelope {
        data: serde_json::json!({"user": "bob"}),
        ..s2.clone()
    };
    assert_eq!(
        projector.apply(&[delivered(&fixed)]).await.unwrap(),
        vec![Outcome::Applied]
    );

    // A different event took the version (another id at version 2): not a duplicate.
    let mut other = Stream::new("post");
    let o1 = other.next(0, created("alice", "two"));
    let o2 = broken_like(&mut other, 1);
    projector
        .apply(&[delivered(&o1), delivered(&o2)])
        .await
        .unwrap();
    let other_letter = letter_of(&pool, o2.event_id).await;
    let mut taker = other.meta.clone();
    taker.occurred_at = o2.occurred_at;
    let different = cqrsplus_domain::EventEnvelope::new(
        Uuid::now_v7(),
        2,
        &taker,
        &PostEvent::PostLiked {
            user: "dave".into(),
        },
    );
    assert_eq!(
        projector.apply(&[delivered(&different)]).await.unwrap(),
        vec![Outcome::Applied]
    );

    let replay = dead_letters::replay(&projector, None).await.unwrap();
    assert_eq!(replay.replayed, 1, "{replay:?}");
    assert_eq!(replay.failed, vec![other_letter]);
    let (active, _) = dead_letters::list(&pool, None, 100).await.unwrap();
    assert_eq!(active.len(), 1, "{active:?}");
    assert_eq!(active[0].id, other_letter);
    assert!(
        active[0].error.contains(&different.event_id.to_string())
            && active[0].error.contains("skip it with a reason"),
        "the error says which event holds the version: {}",
        active[0].error
    );
    assert!(!active.iter().any(|l| l.id == same_letter));
    // The read model kept the event that took the version.
    assert_eq!(post_counts(&pool, other.id()).await, (1, 2));

    // Skipping it resolves it without touching the aggregate.
    let skipped = dead_letters::skip(&projector, other_letter, "admin", "stale publish")
        .await
        .unwrap();
    assert!(!skipped.checkpoint_advanced);
    assert_eq!(post_counts(&pool, other.id()).await, (1, 2));
    let (_, total) = dead_letters::list(&pool, None, 100).await.unwrap();
    assert_eq!(total, 0);
}

#[tokio::test]
async fn the_admin_rpc_skips_with_the_callers_name_and_reason() {
    use cqrsplus_proto::query::v1::{self as pb, query_admin_server::QueryAdmin};
    use query_service::{admin::AdminApi, rebuild::Rebuild};

    let (projector, pool) = projector().await;
    let mut post = Stream::new("post");
    let v1 = post.next(0, created("alice", "hello"));
    let v2 = broken_like(&mut post, 1);
    projector
        .apply(&[delivered(&v1), delivered(&v2)])
        .await
        .unwrap();
    let id = letter_of(&pool, v2.event_id).await;
    let api = AdminApi::new(
        projector.clone(),
        Rebuild {
            database_url: String::new(),
            command_service_url: String::new(),
            batch_size: 1,
        },
    );
    let request = |reason: &str| {
        tonic::Request::new(pb::SkipDeadLetterRequest {
            dead_letter_id: id.to_string(),
            reason: reason.into(),
        })
    };

    let anonymous = api.skip_dead_letter(request("why")).await.unwrap_err();
    assert_eq!(anonymous.code(), tonic::Code::Unauthenticated);
    let mut blank = request("  ");
    blank
        .metadata_mut()
        .insert("x-actor", "root".parse().unwrap());
    let blank = api.skip_dead_letter(blank).await.unwrap_err();
    assert_eq!(blank.code(), tonic::Code::InvalidArgument);

    let mut ok = request("client bug, fixed in 2.0");
    ok.metadata_mut().insert("x-actor", "root".parse().unwrap());
    let reply = api.skip_dead_letter(ok).await.expect("skip").into_inner();
    assert_eq!(reply.dead_letter_id, id.to_string());
    assert_eq!(reply.resolved_by, "root");
    assert_eq!(reply.reason, "client bug, fixed in 2.0");
    assert!(reply.checkpoint_advanced && reply.resolved_at.is_some());

    let listed = api
        .list_dead_letters(tonic::Request::new(pb::ListDeadLettersRequest::default()))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.total_size, 0);
    let mut again = request("twice");
    again
        .metadata_mut()
        .insert("x-actor", "root".parse().unwrap());
    let again = api.skip_dead_letter(again).await.unwrap_err();
    assert_eq!(again.code(), tonic::Code::NotFound);
}
