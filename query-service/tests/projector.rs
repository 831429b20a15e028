//! The projector against the real Postgres, fed deliveries directly (the Kafka loop has its own
//! end-to-end tests): duplicates change nothing, gaps are held and released in order, malformed
//! events are parked while later ones apply, and arrival order across aggregates does not matter.

use cqrsplus_domain::{
    Currency, DomainEvent, EnvelopeMeta, EventEnvelope,
    customer::CustomerEvent,
    order::{OrderEvent, OrderLine},
    post::PostEvent,
};
use query_service::{
    projector::{Delivery, Outcome, Projector, Source, dead_letters},
    read_model::MIGRATOR,
};
use sqlx::PgPool;
use time::{OffsetDateTime, macros::datetime};
use uuid::Uuid;

const T0: OffsetDateTime = datetime!(2026-03-01 10:00 UTC);

struct Stream {
    meta: EnvelopeMeta,
    version: u64,
}

impl Stream {
    fn new(aggregate_type: &str) -> Self {
        Self {
            meta: EnvelopeMeta {
                aggregate_type: aggregate_type.into(),
                aggregate_id: Uuid::now_v7(),
                command_id: Uuid::now_v7(),
                correlation_id: Uuid::now_v7(),
                actor: "alice".into(),
                occurred_at: T0,
            },
            version: 0,
        }
    }

    fn id(&self) -> Uuid {
        self.meta.aggregate_id
    }

    /// The next event of this stream, `minutes` after T0.
    fn next<E: DomainEvent>(&mut self, minutes: i64, event: E) -> EventEnvelope {
        self.version += 1;
        self.meta.occurred_at = T0 + time::Duration::minutes(minutes);
        EventEnvelope::new(Uuid::now_v7(), self.version, &self.meta, &event)
    }
}

static OFFSET: std::sync::atomic::AtomicI64 = std::sync::atomic::AtomicI64::new(0);

fn delivered(envelope: &EventEnvelope) -> Delivery {
    raw(serde_json::to_vec(envelope).unwrap())
}

fn raw(payload: Vec<u8>) -> Delivery {
    Delivery::from_message(
        Source {
            topic: "test.events".into(),
            partition: 0,
            offset: OFFSET.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
        },
        payload,
    )
}

async fn projector() -> (Projector, PgPool) {
    let db = testkit::postgres::fresh_database().await;
    MIGRATOR.run(&db.pool).await.expect("migrate");
    (
        Projector::new(db.pool.clone(), Some("test-group".into())),
        db.pool,
    )
}

fn liked(user: &str) -> PostEvent {
    PostEvent::PostLiked { user: user.into() }
}

async fn post_counts(pool: &PgPool, id: Uuid) -> (i64, i64, i64) {
    sqlx::query_as("select like_count, comment_count, version from posts where post_id = $1")
        .bind(id)
        .fetch_one(pool)
        .await
        .expect("post row")
}

#[tokio::test]
async fn the_same_events_delivered_twice_change_nothing() {
    let (projector, pool) = projector().await;
    let mut post = Stream::new("post");
    let comment_id = Uuid::now_v7();
    let events = [
        post.next(
            0,
            PostEvent::PostCreated {
                author: "alice".into(),
                message: "hello".into(),
            },
        ),
        post.next(1, liked("bob")),
        post.next(2, liked("carol")),
        post.next(
            3,
            PostEvent::CommentAdded {
                comment_id,
                author: "bob".into(),
                text: "hi".into(),
            },
        ),
    ];
    let batch: Vec<Delivery> = events.iter().map(delivered).collect();
    let first = projector.apply(&batch).await.expect("first delivery");
    assert!(first.iter().all(|o| *o == Outcome::Applied), "{first:?}");
    assert_eq!(post_counts(&pool, post.id()).await, (2, 1, 4));

    // Redelivered as a whole batch, and one by one (a consumer restart replays either way).
    let again = projector.apply(&batch).await.expect("second delivery");
    assert!(again.iter().all(|o| *o == Outcome::Duplicate), "{again:?}");
    for delivery in &batch {
        let outcome = projector
            .apply(std::slice::from_ref(delivery))
            .await
            .unwrap();
        assert_eq!(outcome, vec![Outcome::Duplicate]);
    }
    // A duplicate inside one batch, too.
    let unliked = post.next(4, PostEvent::PostUnliked { user: "bob".into() });
    let twice = projector
        .apply(&[delivered(&unliked), delivered(&unliked)])
        .await
        .unwrap();
    assert_eq!(twice, vec![Outcome::Applied, Outcome::Duplicate]);

    assert_eq!(post_counts(&pool, post.id()).await, (1, 1, 5));
    let likes: i64 = sqlx::query_scalar("select count(*) from post_likes where post_id = $1")
        .bind(post.id())
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(likes, 1, "likes rows follow the count");
    let checkpoint: i64 =
        sqlx::query_scalar("select version from projection_checkpoints where aggregate_id = $1")
            .bind(post.id())
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(checkpoint, 5);
}

#[tokio::test]
async fn a_gap_is_held_and_applied_in_order_once_it_closes() {
    let (projector, pool) = projector().await;
    let mut post = Stream::new("post");
    let created = post.next(
        0,
        PostEvent::PostCreated {
            author: "alice".into(),
            message: "v1".into(),
        },
    );
    let edited = post.next(
        1,
        PostEvent::PostEdited {
            message: "v2".into(),
        },
    );
    let like = post.next(2, liked("bob"));

    projector.apply(&[delivered(&created)]).await.unwrap();
    // Version 3 before version 2: held, not applied.
    let held = projector.apply(&[delivered(&like)]).await.unwrap();
    assert_eq!(held, vec![Outcome::Held { waiting_for: 2 }]);
    assert_eq!(post_counts(&pool, post.id()).await, (0, 0, 1));
    let waiting: i64 = sqlx::query_scalar("select count(*) from held_events")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(waiting, 1);

    // Version 2 arrives: both apply, in order, and nothing stays held.
    let outcome = projector.apply(&[delivered(&edited)]).await.unwrap();
    assert_eq!(outcome, vec![Outcome::Applied]);
    assert_eq!(post_counts(&pool, post.id()).await, (1, 0, 3));
    let (message, edited_at): (String, Option<OffsetDateTime>) =
        sqlx::query_as("select message, edited_at from posts where post_id = $1")
            .bind(post.id())
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(message, "v2");
    assert_eq!(edited_at, Some(T0 + time::Duration::minutes(1)));
    let waiting: i64 = sqlx::query_scalar("select count(*) from held_events")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(waiting, 0);
}

#[tokio::test]
async fn malformed_events_are_parked_and_later_events_still_apply() {
    let (projector, pool) = projector().await;
    let mut post = Stream::new("post");
    let created = post.next(
        0,
        PostEvent::PostCreated {
            author: "alice".into(),
            message: "hello".into(),
        },
    );
    // Valid JSON envelope, but data that does not fit the event type.
    let mut broken = post.next(1, liked("bob"));
    broken.data = serde_json::json!({"user": 42});
    let after_broken = post.next(2, liked("carol"));
    let mut other = Stream::new("post");
    let other_created = other.next(
        0,
        PostEvent::PostCreated {
            author: "dan".into(),
            message: "unrelated".into(),
        },
    );

    let outcomes = projector
        .apply(&[
            delivered(&created),
            raw(b"{not json".to_vec()),
            delivered(&broken),
            delivered(&after_broken),
            delivered(&other_created),
        ])
        .await
        .expect("the batch is applied around the bad events");
    assert_eq!(outcomes[0], Outcome::Applied);
    assert!(matches!(outcomes[1], Outcome::Parked(_)), "{outcomes:?}");
    assert!(matches!(outcomes[2], Outcome::Parked(_)), "{outcomes:?}");
    // Its own stream waits behind the parked version; other streams carry on.
    assert_eq!(outcomes[3], Outcome::Held { waiting_for: 2 });
    assert_eq!(outcomes[4], Outcome::Applied);
    assert_eq!(post_counts(&pool, other.id()).await, (0, 0, 1));

    let (parked, total) = dead_letters::list(&pool, None, 10).await.unwrap();
    assert_eq!(total, 2);
    assert!(
        parked[0].error.contains("not an event envelope"),
        "{}",
        parked[0].error
    );
    assert!(parked[1].error.contains("PostLiked"), "{}", parked[1].error);

    // Replaying cannot cure the broken bytes: both stay parked, with one more attempt each.
    let replay = dead_letters::replay(&projector, None).await.unwrap();
    assert_eq!(replay.replayed, 0);
    assert_eq!(replay.failed.len(), 2);
    let (parked, _) = dead_letters::list(&pool, None, 10).await.unwrap();
    assert!(parked.iter().all(|l| l.attempts == 2), "{parked:?}");

    // The fixed event (as a re-publish would bring) releases the held one behind it.
    let fixed = EventEnvelope {
        data: serde_json::json!({"user": "bob"}),
        ..broken.clone()
    };
    let outcome = projector.apply(&[delivered(&fixed)]).await.unwrap();
    assert_eq!(outcome, vec![Outcome::Applied]);
    assert_eq!(post_counts(&pool, post.id()).await, (2, 0, 3));
}

#[tokio::test]
async fn an_order_that_arrives_before_its_customer_ends_with_the_right_row() {
    let (projector, pool) = projector().await;
    let mut customer = Stream::new("customer");
    let mut order = Stream::new("order");
    let placed = order.next(
        0,
        OrderEvent::OrderPlaced {
            customer_id: customer.id(),
            currency: Currency::new("EUR").unwrap(),
            items: vec![
                OrderLine {
                    sku: "A-1".into(),
                    name: "Apple".into(),
                    unit_price_minor: 250,
                    quantity: 4,
                },
                OrderLine {
                    sku: "B-2".into(),
                    name: "Bread".into(),
                    unit_price_minor: 1000,
                    quantity: 1,
                },
            ],
            total_minor: 2000,
        },
    );
    let shipped = order.next(5, OrderEvent::OrderShipped);
    let registered = customer.next(
        -10,
        CustomerEvent::CustomerRegistered {
            name: "Ada".into(),
            email: "ada@example.com".into(),
            phone: None,
            segment: "retail".into(),
            region: "north".into(),
        },
    );
    let updated = customer.next(
        10,
        CustomerEvent::CustomerUpdated {
            name: "Ada L.".into(),
            email: "ada@example.com".into(),
            phone: Some("+1".into()),
            segment: "business".into(),
            region: "north".into(),
        },
    );

    projector.apply(&[delivered(&placed)]).await.unwrap();
    let row: (Option<String>, String, i64, i64) = sqlx::query_as(
        "select customer_name, status, total_minor, units from customer_orders where order_id = $1",
    )
    .bind(order.id())
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(
        row,
        (None, "placed".into(), 2000, 5),
        "order first, no customer yet"
    );

    projector.apply(&[delivered(&registered)]).await.unwrap();
    projector
        .apply(&[delivered(&shipped), delivered(&updated)])
        .await
        .unwrap();

    let row: (Option<String>, Option<String>, Option<String>, String, i64) = sqlx::query_as(
        "select customer_name, customer_segment, customer_region, status, order_version
           from customer_orders where order_id = $1",
    )
    .bind(order.id())
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(
        row,
        (
            Some("Ada L.".into()),
            Some("business".into()),
            Some("north".into()),
            "shipped".into(),
            2
        )
    );
    let items: Vec<(i32, String, i64)> = sqlx::query_as(
        "select line_no, sku, line_total_minor from order_items where order_id = $1 order by line_no",
    )
    .bind(order.id())
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(
        items,
        vec![(1, "A-1".into(), 1000), (2, "B-2".into(), 1000)]
    );
}

#[tokio::test]
async fn comments_added_edited_and_removed_within_and_across_batches() {
    let (projector, pool) = projector().await;
    let mut post = Stream::new("post");
    let (c1, c2, c3) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
    let add = |id, text: &str| PostEvent::CommentAdded {
        comment_id: id,
        author: "bob".into(),
        text: text.into(),
    };
    let first = [
        post.next(
            0,
            PostEvent::PostCreated {
                author: "alice".into(),
                message: "m".into(),
            },
        ),
        post.next(1, add(c1, "one")),
        post.next(2, add(c2, "two")),
        post.next(3, PostEvent::CommentRemoved { comment_id: c2 }),
    ];
    let second = [
        post.next(
            4,
            PostEvent::CommentEdited {
                comment_id: c1,
                text: "one!".into(),
            },
        ),
        post.next(5, add(c3, "three")),
        post.next(6, PostEvent::CommentRemoved { comment_id: c1 }),
        post.next(7, PostEvent::PostDeleted),
    ];
    projector
        .apply(&first.iter().map(delivered).collect::<Vec<_>>())
        .await
        .unwrap();
    let texts: Vec<String> =
        sqlx::query_scalar("select text from comments where post_id = $1 order by created_at")
            .bind(post.id())
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(texts, vec!["one"]);
    projector
        .apply(&second.iter().map(delivered).collect::<Vec<_>>())
        .await
        .unwrap();
    let texts: Vec<String> =
        sqlx::query_scalar("select text from comments where post_id = $1 order by created_at")
            .bind(post.id())
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(texts, vec!["three"]);
    assert_eq!(post_counts(&pool, post.id()).await, (0, 1, 8));
    let deleted: Option<OffsetDateTime> =
        sqlx::query_scalar("select deleted_at from posts where post_id = $1")
            .bind(post.id())
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(deleted, Some(T0 + time::Duration::minutes(7)));
}

#[tokio::test]
async fn offsets_are_stored_with_the_batch() {
    let (projector, pool) = projector().await;
    let mut post = Stream::new("post");
    let created = post.next(
        0,
        PostEvent::PostCreated {
            author: "alice".into(),
            message: "x".into(),
        },
    );
    let delivery = delivered(&created);
    let offset = delivery.source.as_ref().unwrap().offset;
    projector.apply(&[delivery]).await.unwrap();
    let next: i64 = sqlx::query_scalar(
        "select next_offset from consumer_offsets
          where consumer_group = 'test-group' and topic = 'test.events' and partition = 0",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(next, offset + 1);
}
