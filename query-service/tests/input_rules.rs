//! Issue 10, defect 1 on the read side, against the real Postgres: events stored before the input
//! rules that Postgres text cannot hold (U+0000) are parked, not retried, and do not touch other
//! posts; the query filters are parsed by the domain's newtypes and refused with
//! INVALID_ARGUMENT naming the field in a google.rpc.BadRequest; and whatever the domain's text
//! parsers accept round-trips through a Postgres text column.

mod common {
    pub mod events;
}

use std::{cell::RefCell, time::Duration};

use common::events::{Stream, created, delivered, liked};
use cqrsplus_domain::{
    Actor, Currency,
    customer::{CustomerName, Region, Segment},
    order::{CancelReason, ItemName, OrderEvent, OrderLine, Sku},
    post::{CommentText, PostMessage},
};
use cqrsplus_proto::{
    error_code,
    query::v1::{self as pb, query_service_server::QueryService},
};
use proptest::{
    prelude::*,
    test_runner::{Config, TestRunner},
};
use query_service::{
    grpc::QueryApi,
    projector::{Outcome, Projector, dead_letters},
    read_model::MIGRATOR,
};
use sqlx::{Connection, PgConnection};

#[tokio::test]
async fn a_stored_event_postgres_cannot_hold_is_parked_and_other_posts_read_fine() {
    let db = testkit::postgres::fresh_database().await;
    MIGRATOR.run(&db.pool).await.expect("migrate");
    let projector = Projector::new(db.pool.clone(), Some("test-group".into()));
    let mut poison = Stream::new("post");
    let mut fine = Stream::new("post");
    let batch = [
        delivered(&poison.next(0, created("alice", "before \u{0} after"))),
        delivered(&fine.next(0, created("bob", "fine"))),
        delivered(&poison.next(1, liked("carol"))),
        delivered(&fine.next(1, liked("carol"))),
    ];
    let outcomes = projector.apply(&batch).await.expect("applied, not retried");
    assert!(
        matches!(&outcomes[0], Outcome::Parked(reason) if reason.contains("data.message contains U+0000")),
        "{outcomes:?}"
    );
    assert_eq!(outcomes[1], Outcome::Applied);
    assert_eq!(outcomes[2], Outcome::Held { waiting_for: 1 });
    assert_eq!(outcomes[3], Outcome::Applied);
    // Delivered again (a consumer restart): parked once, with one more attempt, nothing else.
    let again = projector.apply(&batch[..1]).await.unwrap();
    assert!(matches!(again[0], Outcome::Parked(_)), "{again:?}");
    let (letters, total) = dead_letters::list(&db.pool, None, 10).await.unwrap();
    assert_eq!(total, 1, "{letters:?}");
    assert_eq!(letters[0].attempts, 2);

    let api = QueryApi::new(db.pool.clone(), Duration::from_millis(100));
    let post = api
        .get_post(tonic::Request::new(pb::GetPostRequest {
            post_id: fine.id().to_string(),
            ..Default::default()
        }))
        .await
        .expect("another post reads fine")
        .into_inner()
        .post
        .expect("post");
    assert_eq!((post.message.as_str(), post.like_count), ("fine", 1));
    // Waiting for the parked version says so, rather than "not yet projected" forever.
    let waited = api
        .get_post(tonic::Request::new(pb::GetPostRequest {
            post_id: poison.id().to_string(),
            consistency: Some(cqrsplus_proto::common::v1::ConsistencyToken {
                aggregate_id: poison.id().to_string(),
                min_version: 1,
            }),
            ..Default::default()
        }))
        .await
        .expect_err("the parked post cannot be read");
    assert_eq!(waited.code(), tonic::Code::FailedPrecondition, "{waited:?}");
    assert!(waited.message().contains("dead letter"), "{waited:?}");
    let listed = api
        .list_posts(tonic::Request::new(pb::ListPostsRequest::default()))
        .await
        .expect("lists read fine")
        .into_inner();
    assert_eq!(listed.posts.len(), 1);
}

/// The field named by the BadRequest of an INVALID_ARGUMENT status.
fn refused_field<T: std::fmt::Debug>(result: Result<T, tonic::Status>) -> String {
    let status = result.expect_err("refused");
    assert_eq!(status.code(), tonic::Code::InvalidArgument, "{status:?}");
    let violations = error_code::field_violations(&status);
    assert_eq!(violations.len(), 1, "{status:?}");
    violations[0].field.clone()
}

/// An order stored before the money bounds (a total near the 64-bit maximum) is parked, never
/// summed, so no report can overflow on it; its later events wait behind it.
#[tokio::test]
async fn a_stored_order_past_the_money_bounds_is_parked_and_never_summed() {
    let db = testkit::postgres::fresh_database().await;
    MIGRATOR.run(&db.pool).await.expect("migrate");
    let projector = Projector::new(db.pool.clone(), Some("test-group".into()));
    let mut whale = Stream::new("order");
    let placed = OrderEvent::OrderPlaced {
        customer_id: uuid::Uuid::now_v7(),
        currency: Currency::parse("EUR").expect("currency"),
        items: vec![OrderLine {
            sku: "GOLD".into(),
            name: "Gold bar".into(),
            unit_price_minor: i64::MAX - 1,
            quantity: 1,
        }],
        total_minor: i64::MAX - 1,
    };
    let batch = [
        delivered(&whale.next(0, placed)),
        delivered(&whale.next(1, OrderEvent::OrderShipped)),
    ];
    let outcomes = projector.apply(&batch).await.expect("applied, not retried");
    assert!(
        matches!(&outcomes[0], Outcome::Parked(reason) if reason.contains("money bounds")),
        "{outcomes:?}"
    );
    assert_eq!(outcomes[1], Outcome::Held { waiting_for: 1 });
    let orders: i64 = sqlx::query_scalar("select count(*) from orders")
        .fetch_one(&db.pool)
        .await
        .expect("count");
    assert_eq!(orders, 0, "the order is not in the read model");
}

#[tokio::test]
async fn nul_in_a_query_filter_is_invalid_argument_naming_the_field() {
    let db = testkit::postgres::fresh_database().await;
    MIGRATOR.run(&db.pool).await.expect("migrate");
    let api = QueryApi::new(db.pool.clone(), Duration::from_millis(100));
    let nul = "a\u{0}b".to_owned();

    let author = api
        .list_posts(tonic::Request::new(pb::ListPostsRequest {
            author: Some(nul.clone()),
            ..Default::default()
        }))
        .await;
    assert_eq!(refused_field(author), "author");
    let segment = api
        .list_customers(tonic::Request::new(pb::ListCustomersRequest {
            segment: Some(nul.clone()),
            ..Default::default()
        }))
        .await;
    assert_eq!(refused_field(segment), "segment");
    let region = api
        .list_customers(tonic::Request::new(pb::ListCustomersRequest {
            region: Some(nul.clone()),
            ..Default::default()
        }))
        .await;
    assert_eq!(refused_field(region), "region");
    let currency = api
        .top_customers(tonic::Request::new(pb::TopCustomersRequest {
            currency: "E\u{0}R".into(),
            ..Default::default()
        }))
        .await;
    assert_eq!(refused_field(currency), "currency");
    let month = api
        .sales_by_region(tonic::Request::new(pb::SalesByRegionRequest {
            period: Some(pb::MonthRange {
                from_month: "2025-0\u{0}".into(),
                to_month: String::new(),
            }),
        }))
        .await;
    assert_eq!(refused_field(month), "period.from_month");
    // The same filters, valid, still answer.
    api.list_customers(tonic::Request::new(pb::ListCustomersRequest {
        segment: Some("retail".into()),
        region: Some("north".into()),
        ..Default::default()
    }))
    .await
    .expect("valid filters");
}

/// Text that is often accepted, and text built to break things.
fn texts() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-zA-Z0-9 .@+\\-éß漢\u{1F600}\n\t]{1,60}",
        any::<String>(),
        proptest::collection::vec(
            prop_oneof![Just('\0'), Just('\r'), Just('\u{85}'), any::<char>()],
            0..20
        )
        .prop_map(|chars| chars.into_iter().collect::<String>()),
    ]
}

#[test]
fn whatever_the_domain_accepts_round_trips_through_postgres_text() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let url = format!("{}/postgres", testkit::postgres::server_url());
    let conn = RefCell::new(runtime.block_on(async {
        let mut conn = PgConnection::connect(&url).await.expect("postgres");
        sqlx::query("create temporary table round_trip (value text not null)")
            .execute(&mut conn)
            .await
            .expect("temp table");
        conn
    }));
    let mut runner = TestRunner::new(Config {
        cases: 64,
        failure_persistence: None,
        ..Config::default()
    });
    runner
        .run(&texts(), |input| {
            let accepted: Vec<String> = [
                PostMessage::parse(&input).map(String::from),
                CommentText::parse(&input).map(String::from),
                CustomerName::parse(&input).map(String::from),
                Segment::parse(&input).map(String::from),
                Region::parse(&input).map(String::from),
                Sku::parse(&input).map(String::from),
                ItemName::parse(&input).map(String::from),
                CancelReason::parse(&input).map(String::from),
                Actor::parse(&input).map(|a| a.into_string()),
            ]
            .into_iter()
            .filter_map(Result::ok)
            .collect();
            for value in accepted {
                // The connection is borrowed for this case only; nothing else runs meanwhile.
                let mut conn = conn.borrow_mut();
                let back: Result<String, sqlx::Error> = runtime.block_on(
                    sqlx::query_scalar(
                        "insert into round_trip (value) values ($1) returning value",
                    )
                    .bind(&value)
                    .fetch_one(&mut *conn),
                );
                let back = back.map_err(|e| TestCaseError::fail(format!("{value:?}: {e}")))?;
                prop_assert_eq!(back, value);
            }
            Ok(())
        })
        .expect("every accepted value round-trips");
}
