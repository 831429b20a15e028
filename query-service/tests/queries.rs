//! The QueryService read RPCs over real gRPC: query-service runs in-process on port 0 against its
//! own fresh Postgres database, without the projector; the read-model rows are written with plain
//! SQL (`common::fixtures`), as the projector would leave them.

mod common {
    pub mod fixtures;
}

use std::time::{Duration, Instant};

use common::fixtures::{self, OrderRow, PostRow, at_minutes};
use cqrsplus_proto::{
    common::v1::{ConsistencyToken, Money},
    error_code,
    query::v1::{self as pb, OrderStatus, PostSort, query_service_client::QueryServiceClient},
};
use query_service::{config::Config, startup::Application};
use sqlx::PgPool;
use tonic::{Code, Request, transport::Channel};
use uuid::Uuid;

/// How long the server under test waits for consistency tokens: long enough for a delayed
/// checkpoint, short enough to keep the "never met" tests quick.
const CONSISTENCY_WAIT: Duration = Duration::from_millis(1000);

struct TestApp {
    client: QueryServiceClient<Channel>,
    pool: PgPool,
    /// Dropping it stops the server.
    _stop: tokio::sync::oneshot::Sender<()>,
}

async fn spawn_app() -> TestApp {
    let db = testkit::postgres::fresh_database().await;
    let mut config = Config::ephemeral(&db.url, "127.0.0.1:9092", "http://127.0.0.1:50051");
    config.projector_enabled = false;
    config.consistency_wait = CONSISTENCY_WAIT;
    let app = Application::build(config)
        .await
        .expect("build query-service");
    let addr = app.local_addr();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(app.run_until_stopped(async {
        let _ = stopped.await;
    }));
    let client = QueryServiceClient::connect(format!("http://{addr}"))
        .await
        .expect("connect to query-service");
    TestApp {
        client,
        pool: db.pool,
        _stop: stop,
    }
}

fn as_actor<T>(message: T, actor: &str) -> Request<T> {
    let mut request = Request::new(message);
    request.metadata_mut().insert(
        error_code::ACTOR_METADATA,
        actor.parse().expect("ascii actor"),
    );
    request
}

fn token(aggregate_id: Uuid, min_version: u64) -> ConsistencyToken {
    ConsistencyToken {
        aggregate_id: aggregate_id.to_string(),
        min_version,
    }
}

fn ids(posts: &[pb::Post]) -> Vec<String> {
    posts.iter().map(|p| p.post_id.clone()).collect()
}

fn strings(ids: &[Uuid]) -> Vec<String> {
    ids.iter().map(Uuid::to_string).collect()
}

fn eur(amount_minor: i64) -> Option<Money> {
    Some(Money {
        amount_minor,
        currency: "EUR".into(),
    })
}

#[track_caller]
fn assert_invalid(status: tonic::Status, field: &str) {
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    assert!(
        status.message().starts_with(field),
        "the message should name {field}: {}",
        status.message()
    );
}

/// Every page of a ListPosts request, checking total_size on each.
async fn all_post_pages(
    client: &mut QueryServiceClient<Channel>,
    request: pb::ListPostsRequest,
    expected_total: u64,
) -> Vec<Vec<String>> {
    let mut pages = Vec::new();
    let mut page_token = String::new();
    loop {
        let page = client
            .list_posts(pb::ListPostsRequest {
                page_token: page_token.clone(),
                ..request.clone()
            })
            .await
            .expect("list posts")
            .into_inner();
        assert_eq!(page.total_size, expected_total);
        pages.push(ids(&page.posts));
        if page.next_page_token.is_empty() {
            return pages;
        }
        page_token = page.next_page_token;
        assert!(pages.len() < 50, "paging does not end");
    }
}

// posts --------------------------------------------------------------------------------------------

#[tokio::test]
async fn posts_page_newest_first_with_stable_order_and_total() {
    let mut app = spawn_app().await;
    let mut newest_first = Vec::new();
    for minute in 0..6 {
        let id = fixtures::insert_post(&app.pool, PostRow::new("ann", minute), &[], 0).await;
        newest_first.insert(0, id);
    }
    // Two posts created in the same instant: the id breaks the tie, descending.
    let mut twin_a = PostRow::new("bob", 3);
    let mut twin_b = PostRow::new("bob", 3);
    twin_a.post_id = Uuid::from_u128(1);
    twin_b.post_id = Uuid::from_u128(2);
    let twin_b_id = fixtures::insert_post(&app.pool, twin_b, &[], 0).await;
    let twin_a_id = fixtures::insert_post(&app.pool, twin_a, &[], 0).await;
    // newest_first is [m5, m4, m3, m2, m1, m0]; the twins (minute 3) come right after m3, whose
    // UUIDv7 is larger than both their ids.
    let mut expected = newest_first.clone();
    expected.insert(3, twin_b_id);
    expected.insert(4, twin_a_id);

    let first = app
        .client
        .list_posts(pb::ListPostsRequest {
            page_size: 3,
            ..Default::default()
        })
        .await
        .expect("first page")
        .into_inner();
    assert_eq!(ids(&first.posts), strings(&expected[..3]));
    assert_eq!(first.total_size, 8);
    assert!(!first.next_page_token.is_empty());

    // A post created meanwhile does not shift the following pages (keyset, not offset).
    fixtures::insert_post(&app.pool, PostRow::new("ann", 60), &[], 0).await;

    let second = app
        .client
        .list_posts(pb::ListPostsRequest {
            page_size: 3,
            page_token: first.next_page_token,
            ..Default::default()
        })
        .await
        .expect("second page")
        .into_inner();
    assert_eq!(ids(&second.posts), strings(&expected[3..6]));
    assert_eq!(second.total_size, 9);
    let third = app
        .client
        .list_posts(pb::ListPostsRequest {
            page_size: 3,
            page_token: second.next_page_token,
            ..Default::default()
        })
        .await
        .expect("third page")
        .into_inner();
    assert_eq!(ids(&third.posts), strings(&expected[6..]));
    assert!(
        third.next_page_token.is_empty(),
        "the last page has no token"
    );

    // Page size 0 is the default (20): everything on one page.
    let all = app
        .client
        .list_posts(pb::ListPostsRequest::default())
        .await
        .expect("default page")
        .into_inner();
    assert_eq!(all.posts.len(), 9);
    assert!(all.next_page_token.is_empty());
}

#[tokio::test]
async fn every_post_sort_pages_in_its_documented_order() {
    let mut app = spawn_app().await;
    let pool = &app.pool;
    // (minute created, likes, comments)
    let a = fixtures::insert_post(pool, PostRow::new("ann", 0), &["u1", "u2"], 1).await;
    let b = fixtures::insert_post(pool, PostRow::new("ann", 10), &["u1"], 3).await;
    let c = fixtures::insert_post(pool, PostRow::new("bob", 20), &["u1", "u2"], 0).await;
    let d = fixtures::insert_post(pool, PostRow::new("bob", 30), &[], 3).await;
    let e = fixtures::insert_post(pool, PostRow::new("cat", 40), &["u1", "u2", "u3"], 0).await;

    let cases = [
        (PostSort::Unspecified, vec![e, d, c, b, a]),
        (PostSort::Newest, vec![e, d, c, b, a]),
        (PostSort::Oldest, vec![a, b, c, d, e]),
        // ties (a and c with two likes) newest first
        (PostSort::MostLiked, vec![e, c, a, b, d]),
        // ties (b and d with three comments) newest first; zero comments still listed
        (PostSort::MostCommented, vec![d, b, a, e, c]),
    ];
    for (sort, expected) in cases {
        let pages = all_post_pages(
            &mut app.client,
            pb::ListPostsRequest {
                page_size: 2,
                sort: sort.into(),
                ..Default::default()
            },
            5,
        )
        .await;
        assert_eq!(pages.len(), 3, "{sort:?}");
        assert_eq!(pages.concat(), strings(&expected), "{sort:?}");
    }
}

#[tokio::test]
async fn post_filters_combine_and_total_size_counts_matches_only() {
    let mut app = spawn_app().await;
    let pool = &app.pool;
    let a = fixtures::insert_post(pool, PostRow::new("ann", 0), &["u1", "u2"], 1).await;
    let b = fixtures::insert_post(pool, PostRow::new("ann", 10), &["u1"], 0).await;
    let c = fixtures::insert_post(pool, PostRow::new("bob", 20), &["u1", "u2", "u3"], 2).await;
    let _d = fixtures::insert_post(pool, PostRow::new("bob", 30), &[], 0).await;

    let cases = [
        (
            pb::ListPostsRequest {
                author: Some("ann".into()),
                ..Default::default()
            },
            vec![b, a],
        ),
        (
            pb::ListPostsRequest {
                only_with_comments: true,
                ..Default::default()
            },
            vec![c, a],
        ),
        (
            pb::ListPostsRequest {
                min_likes: 2,
                ..Default::default()
            },
            vec![c, a],
        ),
        (
            pb::ListPostsRequest {
                author: Some("ann".into()),
                min_likes: 1,
                only_with_comments: true,
                ..Default::default()
            },
            vec![a],
        ),
        (
            pb::ListPostsRequest {
                author: Some("nobody".into()),
                ..Default::default()
            },
            vec![],
        ),
        (
            pb::ListPostsRequest {
                min_likes: u64::MAX,
                ..Default::default()
            },
            vec![],
        ),
    ];
    for (request, expected) in cases {
        let pages = all_post_pages(
            &mut app.client,
            pb::ListPostsRequest {
                page_size: 1,
                ..request.clone()
            },
            expected.len() as u64,
        )
        .await;
        assert_eq!(pages.concat(), strings(&expected), "{request:?}");
    }
}

#[tokio::test]
async fn deleted_posts_are_not_listed_and_not_found() {
    let mut app = spawn_app().await;
    let kept = fixtures::insert_post(&app.pool, PostRow::new("ann", 0), &[], 1).await;
    let mut deleted = PostRow::new("ann", 10);
    deleted.deleted = true;
    let deleted = fixtures::insert_post(&app.pool, deleted, &["u1"], 2).await;

    let list = app
        .client
        .list_posts(pb::ListPostsRequest {
            sort: PostSort::MostCommented.into(),
            ..Default::default()
        })
        .await
        .expect("list")
        .into_inner();
    assert_eq!(ids(&list.posts), strings(&[kept]));
    assert_eq!(list.total_size, 1);

    for post_id in [deleted, Uuid::now_v7()] {
        let err = app
            .client
            .get_post(pb::GetPostRequest {
                post_id: post_id.to_string(),
                include_comments: true,
                consistency: None,
            })
            .await
            .expect_err("a deleted or unknown post is not found");
        assert_eq!(err.code(), Code::NotFound, "{err:?}");
        let err = app
            .client
            .list_comments(pb::ListCommentsRequest {
                post_id: post_id.to_string(),
                ..Default::default()
            })
            .await
            .expect_err("comments of a deleted or unknown post are not found");
        assert_eq!(err.code(), Code::NotFound, "{err:?}");
    }
}

#[tokio::test]
async fn liked_by_caller_follows_the_actor_metadata() {
    let mut app = spawn_app().await;
    let liked = fixtures::insert_post(&app.pool, PostRow::new("ann", 0), &["u1", "u2"], 0).await;
    let not_liked = fixtures::insert_post(&app.pool, PostRow::new("ann", 10), &["u2"], 0).await;

    let get = |post_id: Uuid| pb::GetPostRequest {
        post_id: post_id.to_string(),
        ..Default::default()
    };
    let post = |r: tonic::Response<pb::GetPostResponse>| r.into_inner().post.expect("post set");

    let by_u1 = post(
        app.client
            .get_post(as_actor(get(liked), "u1"))
            .await
            .unwrap(),
    );
    assert!(by_u1.liked_by_caller);
    assert_eq!(by_u1.like_count, 2);
    let other = post(
        app.client
            .get_post(as_actor(get(liked), "u3"))
            .await
            .unwrap(),
    );
    assert!(!other.liked_by_caller);
    let anonymous = post(app.client.get_post(get(liked)).await.unwrap());
    assert!(!anonymous.liked_by_caller);
    let elsewhere = post(
        app.client
            .get_post(as_actor(get(not_liked), "u1"))
            .await
            .unwrap(),
    );
    assert!(!elsewhere.liked_by_caller);

    let list = app
        .client
        .list_posts(as_actor(pb::ListPostsRequest::default(), "u1"))
        .await
        .expect("list")
        .into_inner();
    let flags: Vec<(String, bool)> = list
        .posts
        .iter()
        .map(|p| (p.post_id.clone(), p.liked_by_caller))
        .collect();
    assert_eq!(
        flags,
        [(not_liked.to_string(), false), (liked.to_string(), true)]
    );
}

#[tokio::test]
async fn a_post_reads_with_its_comments_oldest_first() {
    let mut app = spawn_app().await;
    let mut row = PostRow::new("ann", 0);
    row.edited_at = Some(at_minutes(5));
    let post_id = row.post_id;
    // Fixture version: 1 (created) + 1 like + 0 comments from the helper.
    fixtures::insert_post(&app.pool, row, &["u1"], 0).await;
    let late = fixtures::insert_comment(&app.pool, post_id, "bob", "late", at_minutes(30)).await;
    let early = fixtures::insert_comment(&app.pool, post_id, "cat", "early", at_minutes(10)).await;
    let tie_a = Uuid::from_u128(10);
    let tie_b = Uuid::from_u128(11);
    for (id, text) in [(tie_b, "tie b"), (tie_a, "tie a")] {
        sqlx::query(
            "insert into comments (comment_id, post_id, author, text, created_at, edited_at) \
             values ($1, $2, 'dan', $3, $4, $5)",
        )
        .bind(id)
        .bind(post_id)
        .bind(text)
        .bind(at_minutes(20))
        .bind(at_minutes(25))
        .execute(&app.pool)
        .await
        .expect("insert comment");
    }
    sqlx::query("update posts set comment_count = 4, version = 6 where post_id = $1")
        .bind(post_id)
        .execute(&app.pool)
        .await
        .expect("update post");
    let oldest_first = [early, tie_a, tie_b, late];

    let reply = app
        .client
        .get_post(pb::GetPostRequest {
            post_id: post_id.to_string(),
            include_comments: true,
            consistency: None,
        })
        .await
        .expect("get post")
        .into_inner();
    let post = reply.post.expect("post set");
    assert_eq!(post.post_id, post_id.to_string());
    assert_eq!(post.author, "ann");
    assert_eq!(post.comment_count, 4);
    assert_eq!(post.like_count, 1);
    assert_eq!(post.version, 6);
    assert_eq!(
        post.created_at.map(|t| t.seconds),
        Some(at_minutes(0).unix_timestamp())
    );
    assert_eq!(
        post.edited_at.map(|t| t.seconds),
        Some(at_minutes(5).unix_timestamp())
    );
    let comment_ids: Vec<String> = reply
        .comments
        .iter()
        .map(|c| c.comment_id.clone())
        .collect();
    assert_eq!(comment_ids, strings(&oldest_first));
    let tie = &reply.comments[1];
    assert_eq!((tie.author.as_str(), tie.text.as_str()), ("dan", "tie a"));
    assert_eq!(tie.post_id, post_id.to_string());
    assert!(tie.edited_at.is_some());
    assert!(reply.comments[0].edited_at.is_none());

    let without = app
        .client
        .get_post(pb::GetPostRequest {
            post_id: post_id.to_string(),
            ..Default::default()
        })
        .await
        .expect("get post")
        .into_inner();
    assert!(without.comments.is_empty());

    // The same comments a page at a time, with the post version they reflect.
    let mut listed = Vec::new();
    let mut page_token = String::new();
    loop {
        let page = app
            .client
            .list_comments(pb::ListCommentsRequest {
                post_id: post_id.to_string(),
                page_size: 3,
                page_token,
                consistency: None,
            })
            .await
            .expect("list comments")
            .into_inner();
        assert_eq!(page.total_size, 4);
        assert_eq!(page.post_version, 6);
        listed.extend(page.comments.into_iter().map(|c| c.comment_id));
        if page.next_page_token.is_empty() {
            break;
        }
        page_token = page.next_page_token;
    }
    assert_eq!(listed, strings(&oldest_first));
}

// validation ---------------------------------------------------------------------------------------

#[tokio::test]
async fn malformed_ids_enums_and_page_tokens_are_invalid_arguments() {
    let mut app = spawn_app().await;
    let post_id = fixtures::insert_post(&app.pool, PostRow::new("ann", 0), &[], 0).await;
    fixtures::insert_post(&app.pool, PostRow::new("ann", 1), &[], 0).await;
    let client = &mut app.client;

    let err = client
        .get_post(pb::GetPostRequest {
            post_id: "not-a-uuid".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_invalid(err, "post_id");
    let err = client
        .list_comments(pb::ListCommentsRequest::default())
        .await
        .unwrap_err();
    assert_invalid(err, "post_id");
    let err = client
        .get_customer(pb::GetCustomerRequest {
            customer_id: "42".into(),
            consistency: None,
        })
        .await
        .unwrap_err();
    assert_invalid(err, "customer_id");
    let err = client
        .list_customer_orders(pb::ListCustomerOrdersRequest {
            customer_id: "x".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_invalid(err, "customer_id");
    let err = client
        .get_order(pb::GetOrderRequest {
            order_id: "".into(),
            consistency: None,
        })
        .await
        .unwrap_err();
    assert_invalid(err, "order_id");

    // Enum values outside the contract.
    let err = client
        .list_posts(pb::ListPostsRequest {
            sort: 99,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_invalid(err, "sort");
    let err = client
        .list_customer_orders(pb::ListCustomerOrdersRequest {
            customer_id: Uuid::now_v7().to_string(),
            status: 42,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_invalid(err, "status");
    let err = client
        .list_posts(pb::ListPostsRequest {
            author: Some("  ".into()),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_invalid(err, "author");

    // Page tokens: garbage, and a real one replayed with other filters or another sort.
    for bad in ["garbage!", "eyJxIjoicG9zdHMifQ", "bm90IGpzb24"] {
        let err = client
            .list_posts(pb::ListPostsRequest {
                page_token: bad.into(),
                ..Default::default()
            })
            .await
            .unwrap_err();
        assert_invalid(err, "page_token");
    }
    let real = client
        .list_posts(pb::ListPostsRequest {
            page_size: 1,
            ..Default::default()
        })
        .await
        .expect("first page")
        .into_inner()
        .next_page_token;
    assert!(!real.is_empty());
    for replay in [
        pb::ListPostsRequest {
            sort: PostSort::Oldest.into(),
            ..Default::default()
        },
        pb::ListPostsRequest {
            author: Some("ann".into()),
            ..Default::default()
        },
    ] {
        let err = client
            .list_posts(pb::ListPostsRequest {
                page_size: 1,
                page_token: real.clone(),
                ..replay
            })
            .await
            .unwrap_err();
        assert_invalid(err, "page_token");
    }
    let err = client
        .list_comments(pb::ListCommentsRequest {
            post_id: post_id.to_string(),
            page_token: real.clone(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_invalid(err, "page_token");
    let err = client
        .list_customers(pb::ListCustomersRequest {
            page_token: real,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_invalid(err, "page_token");

    // A malformed consistency token is refused at once, not after a wait.
    let started = Instant::now();
    let err = client
        .get_post(pb::GetPostRequest {
            post_id: post_id.to_string(),
            include_comments: false,
            consistency: Some(ConsistencyToken {
                aggregate_id: "nope".into(),
                min_version: 1,
            }),
        })
        .await
        .unwrap_err();
    assert_invalid(err, "consistency");
    assert!(started.elapsed() < CONSISTENCY_WAIT / 2);
}

// consistency tokens -------------------------------------------------------------------------------

#[tokio::test]
async fn a_token_met_while_waiting_gets_the_fresh_row() {
    let mut app = spawn_app().await;
    let post_id = fixtures::insert_post(&app.pool, PostRow::new("ann", 0), &[], 0).await;
    // The projector would update the row and the checkpoint in one transaction, a bit later.
    let pool = app.pool.clone();
    let projector = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let mut tx = pool.begin().await.expect("begin");
        sqlx::query("update posts set message = 'edited', version = 2 where post_id = $1")
            .bind(post_id)
            .execute(&mut *tx)
            .await
            .expect("update post");
        sqlx::query("update projection_checkpoints set version = 2 where aggregate_id = $1")
            .bind(post_id)
            .execute(&mut *tx)
            .await
            .expect("advance checkpoint");
        tx.commit().await.expect("commit");
    });

    let started = Instant::now();
    let post = app
        .client
        .get_post(pb::GetPostRequest {
            post_id: post_id.to_string(),
            include_comments: false,
            consistency: Some(token(post_id, 2)),
        })
        .await
        .expect("the token is met within the wait")
        .into_inner()
        .post
        .expect("post set");
    assert!(started.elapsed() >= Duration::from_millis(250));
    assert_eq!((post.message.as_str(), post.version), ("edited", 2));
    projector.await.expect("projector task");

    // Met already, or asking for nothing: no wait at all.
    let started = Instant::now();
    let list = app
        .client
        .list_posts(pb::ListPostsRequest {
            consistency: vec![
                token(post_id, 1),
                ConsistencyToken::default(),
                token(Uuid::now_v7(), 0),
            ],
            ..Default::default()
        })
        .await
        .expect("list")
        .into_inner();
    assert_eq!(list.posts.len(), 1);
    assert!(started.elapsed() < CONSISTENCY_WAIT / 2);
}

#[tokio::test]
async fn a_token_never_met_is_unavailable_with_the_projected_version() {
    let mut app = spawn_app().await;
    let post_id = fixtures::insert_post(&app.pool, PostRow::new("ann", 0), &["u1", "u2"], 0).await;
    // The fixture's checkpoint: 1 (created) + 2 likes.

    let started = Instant::now();
    let err = app
        .client
        .get_post(pb::GetPostRequest {
            post_id: post_id.to_string(),
            include_comments: false,
            consistency: Some(token(post_id, 5)),
        })
        .await
        .expect_err("version 5 is never projected");
    let waited = started.elapsed();
    assert_eq!(err.code(), Code::Unavailable, "{err:?}");
    assert_eq!(error_code::projected_version(&err), Some(3));
    let retry_after = error_code::retry_after(&err).expect("x-retry-after-ms");
    assert!(retry_after > Duration::ZERO);
    assert!(
        waited >= CONSISTENCY_WAIT && waited < CONSISTENCY_WAIT * 3,
        "waited {waited:?}"
    );

    // A list reports the first token not met, in request order; an aggregate never projected is
    // at version 0.
    let unknown = Uuid::now_v7();
    let err = app
        .client
        .list_posts(pb::ListPostsRequest {
            consistency: vec![token(post_id, 3), token(unknown, 1), token(post_id, 9)],
            ..Default::default()
        })
        .await
        .expect_err("the last two are not projected");
    assert_eq!(err.code(), Code::Unavailable);
    assert_eq!(error_code::projected_version(&err), Some(0));
    assert!(err.message().contains(&unknown.to_string()), "{err:?}");
    let err = app
        .client
        .list_posts(pb::ListPostsRequest {
            consistency: vec![token(post_id, 3), token(post_id, 4)],
            ..Default::default()
        })
        .await
        .expect_err("version 4 is not projected");
    assert_eq!(error_code::projected_version(&err), Some(3));
    let err = app
        .client
        .list_customer_orders(pb::ListCustomerOrdersRequest {
            customer_id: Uuid::now_v7().to_string(),
            consistency: Some(token(unknown, 1)),
            ..Default::default()
        })
        .await
        .expect_err("never projected");
    assert_eq!(err.code(), Code::Unavailable);
    assert_eq!(error_code::projected_version(&err), Some(0));
    assert!(err.message().contains(&unknown.to_string()), "{err:?}");
}

#[tokio::test]
async fn the_wait_ends_before_the_callers_deadline() {
    let mut app = spawn_app().await;
    let order_id = Uuid::now_v7();
    let mut request = Request::new(pb::GetOrderRequest {
        order_id: order_id.to_string(),
        consistency: Some(token(order_id, 1)),
    });
    request.set_timeout(Duration::from_millis(700));
    let started = Instant::now();
    let err = app
        .client
        .get_order(request)
        .await
        .expect_err("never projected");
    // UNAVAILABLE with its retry hint, not the caller's own DEADLINE_EXCEEDED.
    assert_eq!(err.code(), Code::Unavailable, "{err:?}");
    assert!(error_code::retry_after(&err).is_some());
    assert!(started.elapsed() < Duration::from_millis(700));
}

// customers and orders -----------------------------------------------------------------------------

#[tokio::test]
async fn customers_page_by_name_then_id_within_segment_and_region() {
    let mut app = spawn_app().await;
    let pool = &app.pool;
    let zoe = fixtures::insert_customer(pool, "Zoe Zimmer", "retail", "north").await;
    let adam = fixtures::insert_customer(pool, "Adam Abel", "business", "south").await;
    let bea_1 = fixtures::insert_customer(pool, "Bea Berg", "retail", "south").await;
    let bea_2 = fixtures::insert_customer(pool, "Bea Berg", "retail", "north").await;
    let carl = fixtures::insert_customer(pool, "Carl Cole", "retail", "north").await;
    let (bea_low, bea_high) = if bea_1 < bea_2 {
        (bea_1, bea_2)
    } else {
        (bea_2, bea_1)
    };

    let cases = [
        (None, None, vec![adam, bea_low, bea_high, carl, zoe]),
        (Some("retail"), None, vec![bea_low, bea_high, carl, zoe]),
        (None, Some("north"), vec![bea_2, carl, zoe]),
        (Some("retail"), Some("south"), vec![bea_1]),
        (Some("nobody"), None, vec![]),
    ];
    for (segment, region, expected) in cases {
        let mut listed = Vec::new();
        let mut page_token = String::new();
        loop {
            let page = app
                .client
                .list_customers(pb::ListCustomersRequest {
                    page_size: 2,
                    page_token,
                    segment: segment.map(str::to_owned),
                    region: region.map(str::to_owned),
                    consistency: vec![],
                })
                .await
                .expect("list customers")
                .into_inner();
            assert_eq!(
                page.total_size,
                expected.len() as u64,
                "{segment:?} {region:?}"
            );
            listed.extend(page.customers.into_iter().map(|c| c.customer_id));
            if page.next_page_token.is_empty() {
                break;
            }
            page_token = page.next_page_token;
        }
        assert_eq!(listed, strings(&expected), "{segment:?} {region:?}");
    }

    let err = app
        .client
        .list_customers(pb::ListCustomersRequest {
            region: Some("".into()),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_invalid(err, "region");
}

#[tokio::test]
async fn a_customer_reads_by_id_and_an_unknown_one_is_not_found() {
    let mut app = spawn_app().await;
    let customer_id = fixtures::insert_customer(&app.pool, "Ada Lovelace", "vip", "west").await;
    sqlx::query(
        "update customers set phone = '+44 20 7946 0000', updated_at = $2, version = 2 \
         where customer_id = $1",
    )
    .bind(customer_id)
    .bind(at_minutes(90))
    .execute(&app.pool)
    .await
    .expect("update customer");

    let customer = app
        .client
        .get_customer(pb::GetCustomerRequest {
            customer_id: customer_id.to_string(),
            consistency: Some(token(customer_id, 1)),
        })
        .await
        .expect("get customer")
        .into_inner()
        .customer
        .expect("customer set");
    assert_eq!(customer.customer_id, customer_id.to_string());
    assert_eq!(customer.name, "Ada Lovelace");
    assert_eq!(customer.email, "ada.lovelace@example.com");
    assert_eq!(customer.phone.as_deref(), Some("+44 20 7946 0000"));
    assert_eq!(
        (customer.segment.as_str(), customer.region.as_str()),
        ("vip", "west")
    );
    assert_eq!(
        customer.registered_at.map(|t| t.seconds),
        Some(fixtures::T0.unix_timestamp())
    );
    assert_eq!(
        customer.updated_at.map(|t| t.seconds),
        Some(at_minutes(90).unix_timestamp())
    );
    assert_eq!(customer.version, 2);

    let err = app
        .client
        .get_customer(pb::GetCustomerRequest {
            customer_id: Uuid::now_v7().to_string(),
            consistency: None,
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
}

#[tokio::test]
async fn an_order_reads_with_its_items_money_and_status_history() {
    let mut app = spawn_app().await;
    let customer_id = fixtures::insert_customer(&app.pool, "Ada Lovelace", "vip", "west").await;
    let mut placed = OrderRow::new(
        customer_id,
        0,
        vec![("SKU-2", "Notebook", 450, 2), ("SKU-1", "Pen", 1999, 1)],
    );
    placed.customer_name = Some("Ada Lovelace");
    let delivered_id = {
        let mut order = OrderRow::new(customer_id, 10, vec![("SKU-9", "Lamp", 7500, 1)]);
        order.status = "delivered";
        fixtures::insert_order(&app.pool, order).await
    };
    let cancelled_id = {
        let mut order = OrderRow::new(customer_id, 20, vec![("SKU-1", "Pen", 1999, 3)]);
        order.status = "cancelled";
        order.cancel_reason = Some("changed my mind");
        fixtures::insert_order(&app.pool, order).await
    };
    let placed_id = fixtures::insert_order(&app.pool, placed).await;

    let get = |order_id: Uuid| pb::GetOrderRequest {
        order_id: order_id.to_string(),
        consistency: Some(token(order_id, 1)),
    };
    let order = app
        .client
        .get_order(get(placed_id))
        .await
        .expect("get order")
        .into_inner()
        .order
        .expect("order set");
    assert_eq!(order.order_id, placed_id.to_string());
    assert_eq!(order.customer_id, customer_id.to_string());
    assert_eq!(order.customer_name, "Ada Lovelace");
    assert_eq!(order.status(), OrderStatus::Placed);
    assert_eq!(order.currency, "EUR");
    assert_eq!(order.total, eur(2899));
    assert_eq!(order.version, 1);
    let items: Vec<(&str, &str, u32)> = order
        .items
        .iter()
        .map(|i| (i.sku.as_str(), i.name.as_str(), i.quantity))
        .collect();
    assert_eq!(
        items,
        [("SKU-2", "Notebook", 2), ("SKU-1", "Pen", 1)],
        "lines as placed"
    );
    assert_eq!(order.items[0].unit_price, eur(450));
    assert_eq!(order.items[0].line_total, eur(900));
    assert_eq!(order.items[1].line_total, eur(1999));
    assert_eq!(
        order.placed_at.map(|t| t.seconds),
        Some(at_minutes(0).unix_timestamp())
    );
    assert!(order.shipped_at.is_none() && order.delivered_at.is_none());
    assert!(order.cancelled_at.is_none() && order.cancel_reason.is_none());

    let delivered = app
        .client
        .get_order(get(delivered_id))
        .await
        .expect("get order")
        .into_inner()
        .order
        .expect("order set");
    assert_eq!(delivered.status(), OrderStatus::Delivered);
    assert!(delivered.shipped_at.is_some() && delivered.delivered_at.is_some());
    assert_eq!(delivered.version, 3);
    // No customer_orders name yet: the customer row gives it.
    assert_eq!(delivered.customer_name, "Ada Lovelace");

    let cancelled = app
        .client
        .get_order(get(cancelled_id))
        .await
        .expect("get order")
        .into_inner()
        .order
        .expect("order set");
    assert_eq!(cancelled.status(), OrderStatus::Cancelled);
    assert_eq!(cancelled.cancel_reason.as_deref(), Some("changed my mind"));
    assert!(cancelled.cancelled_at.is_some() && cancelled.shipped_at.is_none());
    assert_eq!(cancelled.total, eur(5997));

    let err = app
        .client
        .get_order(pb::GetOrderRequest {
            order_id: Uuid::now_v7().to_string(),
            consistency: None,
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
}

#[tokio::test]
async fn customer_orders_list_newest_first_filtered_by_status_with_items() {
    let mut app = spawn_app().await;
    let customer_id = fixtures::insert_customer(&app.pool, "Bea Berg", "retail", "south").await;
    let other = fixtures::insert_customer(&app.pool, "Carl Cole", "retail", "north").await;
    fixtures::insert_order(&app.pool, OrderRow::new(other, 5, vec![("X", "x", 1, 1)])).await;
    let mut newest_first = Vec::new();
    for (minute, status) in [
        (0, "delivered"),
        (10, "placed"),
        (20, "shipped"),
        (30, "placed"),
        (40, "cancelled"),
    ] {
        let mut order = OrderRow::new(
            customer_id,
            minute,
            vec![("A", "Apple", 100, 1), ("B", "Bread", 250, 2)],
        );
        order.status = status;
        order.customer_name = Some("Bea Berg");
        newest_first.insert(0, (fixtures::insert_order(&app.pool, order).await, status));
    }

    let list = |status: OrderStatus, page_token: String| pb::ListCustomerOrdersRequest {
        customer_id: customer_id.to_string(),
        page_size: 2,
        page_token,
        status: status.into(),
        consistency: None,
    };
    for (status, text) in [
        (OrderStatus::Unspecified, None),
        (OrderStatus::Placed, Some("placed")),
        (OrderStatus::Cancelled, Some("cancelled")),
        (OrderStatus::Shipped, Some("shipped")),
    ] {
        let expected: Vec<Uuid> = newest_first
            .iter()
            .filter(|(_, s)| text.is_none_or(|t| t == *s))
            .map(|(id, _)| *id)
            .collect();
        let mut listed = Vec::new();
        let mut page_token = String::new();
        loop {
            let page = app
                .client
                .list_customer_orders(list(status, page_token))
                .await
                .expect("list customer orders")
                .into_inner();
            assert_eq!(page.total_size, expected.len() as u64, "{status:?}");
            for order in &page.orders {
                assert_eq!(order.customer_name, "Bea Berg");
                assert_eq!(order.items.len(), 2, "each order comes with its items");
                assert_eq!(order.items[1].line_total, eur(500));
                assert_eq!(order.total, eur(600));
                if text.is_some() {
                    assert_eq!(order.status, i32::from(status));
                }
            }
            listed.extend(page.orders.into_iter().map(|o| o.order_id));
            if page.next_page_token.is_empty() {
                break;
            }
            page_token = page.next_page_token;
        }
        assert_eq!(listed, strings(&expected), "{status:?}");
    }

    // A token of one status filter is not valid with another.
    let token = app
        .client
        .list_customer_orders(list(OrderStatus::Unspecified, String::new()))
        .await
        .expect("first page")
        .into_inner()
        .next_page_token;
    let err = app
        .client
        .list_customer_orders(list(OrderStatus::Placed, token))
        .await
        .unwrap_err();
    assert_invalid(err, "page_token");
}

#[tokio::test]
async fn orders_of_a_customer_the_read_model_does_not_know_yet() {
    let mut app = spawn_app().await;
    // The orders arrived, the customer's own events did not (different topics).
    let early_customer = Uuid::now_v7();
    let order_id = fixtures::insert_order(
        &app.pool,
        OrderRow::new(early_customer, 0, vec![("SKU-1", "Pen", 1999, 1)]),
    )
    .await;

    let page = app
        .client
        .list_customer_orders(pb::ListCustomerOrdersRequest {
            customer_id: early_customer.to_string(),
            consistency: Some(token(order_id, 1)),
            ..Default::default()
        })
        .await
        .expect("orders before their customer are listed")
        .into_inner();
    assert_eq!(page.total_size, 1);
    assert_eq!(page.orders[0].order_id, order_id.to_string());
    assert_eq!(
        page.orders[0].customer_name, "",
        "no name until the customer arrives"
    );
    assert_eq!(page.orders[0].total, eur(1999));

    let err = app
        .client
        .get_customer(pb::GetCustomerRequest {
            customer_id: early_customer.to_string(),
            consistency: None,
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);

    // A customer nobody has heard of: an empty page, not NOT_FOUND.
    let page = app
        .client
        .list_customer_orders(pb::ListCustomerOrdersRequest {
            customer_id: Uuid::now_v7().to_string(),
            ..Default::default()
        })
        .await
        .expect("an unknown customer has no orders")
        .into_inner();
    assert!(page.orders.is_empty());
    assert_eq!(page.total_size, 0);
    assert!(page.next_page_token.is_empty());
}
