//! command-service over real gRPC (port 0) against the real MongoDB-wire server: concurrency,
//! idempotency, every rule's status code, and the stream-reading RPCs.

use command_service::{config::Config, startup::Application};
use cqrsplus_proto::{
    command::v1::{
        self as pb, command_service_client::CommandServiceClient,
        event_store_client::EventStoreClient,
    },
    error_code,
};
use tonic::{Code, Request, transport::Channel};

struct Service {
    commands: CommandServiceClient<Channel>,
    events: EventStoreClient<Channel>,
}

async fn start(snapshot_every: u64) -> Service {
    start_on(&testkit::unique_name("t"), snapshot_every).await
}

/// An instance on `database`: several instances may share one, as in production.
async fn start_on(database: &str, snapshot_every: u64) -> Service {
    start_with(database, |config| config.snapshot_every = snapshot_every).await
}

/// An instance on `database` with `configure` applied to its default test config.
async fn start_with(database: &str, configure: impl FnOnce(&mut Config)) -> Service {
    let mut config =
        Config::ephemeral(&testkit::mongo::uri(), database, &testkit::kafka::brokers());
    config.kafka_topic_prefix = testkit::kafka::topic_prefix().to_owned();
    configure(&mut config);
    let app = Application::build(config).await.expect("build");
    let url = format!("http://{}", app.local_addr());
    tokio::spawn(app.run_until_stopped(std::future::pending()));
    let channel = Channel::from_shared(url)
        .expect("url")
        .connect()
        .await
        .expect("connect");
    Service {
        commands: CommandServiceClient::new(channel.clone()),
        events: EventStoreClient::new(channel),
    }
}

/// A request as `actor`.
fn as_user<T>(actor: &str, message: T) -> Request<T> {
    let mut request = Request::new(message);
    request.metadata_mut().insert(
        error_code::ACTOR_METADATA,
        actor.parse().expect("ascii actor"),
    );
    request
}

fn options(command_id: Option<&str>, expected_version: Option<u64>) -> Option<pb::CommandOptions> {
    Some(pb::CommandOptions {
        command_id: command_id.map(str::to_owned),
        correlation_id: None,
        expected_version,
    })
}

async fn create_post(svc: &mut Service, actor: &str, message: &str) -> (String, u64) {
    let reply = svc
        .commands
        .create_post(as_user(
            actor,
            pb::CreatePostRequest {
                message: message.into(),
                ..Default::default()
            },
        ))
        .await
        .expect("create post")
        .into_inner()
        .result
        .expect("result");
    (reply.aggregate_id, reply.version)
}

fn post_req<T>(actor: &str, make: impl FnOnce() -> T) -> Request<T> {
    as_user(actor, make())
}

#[tokio::test]
async fn fifty_concurrent_likes_without_expected_version_all_land_with_dense_versions() {
    let mut svc = start(0).await;
    let (post_id, _) = create_post(&mut svc, "alice", "hello").await;

    let mut calls = Vec::new();
    for i in 0..50 {
        let mut client = svc.commands.clone();
        let post_id = post_id.clone();
        calls.push(tokio::spawn(async move {
            client
                .like_post(as_user(
                    &format!("user-{i}"),
                    pb::LikePostRequest {
                        post_id,
                        ..Default::default()
                    },
                ))
                .await
        }));
    }
    let mut won = Vec::new();
    for call in calls {
        let reply = call
            .await
            .expect("join")
            .expect("a like without an expected version is decided again, never refused");
        won.push(reply.into_inner().result.expect("result").version);
    }
    won.sort_unstable();
    assert_eq!(
        won,
        (2..=51).collect::<Vec<u64>>(),
        "distinct, dense versions"
    );

    let stream = svc
        .events
        .read_stream(pb::ReadStreamRequest {
            aggregate_id: post_id,
            ..Default::default()
        })
        .await
        .expect("read stream")
        .into_inner();
    let versions: Vec<u64> = stream.events.iter().map(|e| e.version).collect();
    assert_eq!(versions, (1..=51).collect::<Vec<_>>());
    let state: serde_json::Value = serde_json::from_str(&stream.state_json).expect("state json");
    assert_eq!(state["likes"].as_array().map(Vec::len), Some(50));
}

#[tokio::test]
async fn concurrent_likes_through_two_instances_all_land() {
    // Two instances with their own caches on one database, as behind a load balancer: each
    // loses races to the other, with stale caches, and decides again.
    let database = testkit::unique_name("t");
    let mut first = start_on(&database, 0).await;
    let second = start_on(&database, 0).await;
    let (post_id, _) = create_post(&mut first, "alice", "hello").await;

    let mut calls = Vec::new();
    for i in 0..40 {
        let mut client = if i % 2 == 0 {
            first.commands.clone()
        } else {
            second.commands.clone()
        };
        let request = pb::LikePostRequest {
            post_id: post_id.clone(),
            ..Default::default()
        };
        calls.push(tokio::spawn(async move {
            client
                .like_post(as_user(&format!("user-{i}"), request))
                .await
        }));
    }
    let mut versions = Vec::new();
    for call in calls {
        let reply = call.await.expect("join").expect("every like lands");
        versions.push(reply.into_inner().result.expect("result").version);
    }
    versions.sort_unstable();
    assert_eq!(versions, (2..=41).collect::<Vec<u64>>());
}

#[tokio::test]
async fn concurrent_likes_naming_the_same_expected_version_all_but_one_are_aborted() {
    let mut svc = start(0).await;
    let (post_id, version) = create_post(&mut svc, "alice", "hello").await;

    let mut calls = Vec::new();
    for i in 0..10 {
        let mut client = svc.commands.clone();
        let post_id = post_id.clone();
        calls.push(tokio::spawn(async move {
            client
                .like_post(as_user(
                    &format!("user-{i}"),
                    pb::LikePostRequest {
                        post_id,
                        options: options(None, Some(version)),
                    },
                ))
                .await
        }));
    }
    let mut won = 0;
    for call in calls {
        match call.await.expect("join") {
            Ok(reply) => {
                assert_eq!(reply.into_inner().result.expect("result").version, 2);
                won += 1;
            }
            Err(status) => {
                assert_eq!(status.code(), Code::Aborted, "{status:?}");
                assert_eq!(error_code::current_version(&status), Some(2));
            }
        }
    }
    assert_eq!(won, 1, "exactly one like decided on version 1 lands");
}

#[tokio::test]
async fn ten_concurrent_copies_of_one_command_id_all_get_the_first_result() {
    // Two instances on one database, one of them without a cache (every command loads), so the
    // copies meet each other in every order: before, during and after the first one commits.
    let database = testkit::unique_name("t");
    let mut svc = start_on(&database, 0).await;
    let uncached = start_with(&database, |config| config.aggregate_cache_size = 0).await;
    let (post_id, _) = create_post(&mut svc, "alice", "hello").await;

    let like_id = uuid::Uuid::now_v7().to_string();
    let mut calls = Vec::new();
    for i in 0..10 {
        let mut client = if i % 2 == 0 {
            svc.commands.clone()
        } else {
            uncached.commands.clone()
        };
        let request = pb::LikePostRequest {
            options: options(Some(&like_id), None),
            post_id: post_id.clone(),
        };
        calls.push(tokio::spawn(async move {
            client.like_post(as_user("bob", request)).await
        }));
    }
    // Others like the post meanwhile, so the copies also meet ordinary conflicts.
    for i in 0..5 {
        let mut client = svc.commands.clone();
        let request = pb::LikePostRequest {
            options: None,
            post_id: post_id.clone(),
        };
        calls.push(tokio::spawn(async move {
            client
                .like_post(as_user(&format!("other-{i}"), request))
                .await
        }));
    }
    let mut copies = Vec::new();
    for (i, call) in calls.into_iter().enumerate() {
        let reply = call.await.expect("join");
        if i < 10 {
            copies.push(
                reply
                    .expect("every copy gets the first result, never a refusal")
                    .into_inner()
                    .result
                    .expect("result"),
            );
        } else {
            reply.expect("other likes land");
        }
    }
    assert_eq!(copies.iter().filter(|c| !c.already_applied).count(), 1);
    for copy in &copies {
        assert_eq!(
            (&copy.aggregate_id, copy.version, &copy.command_id),
            (
                &copies[0].aggregate_id,
                copies[0].version,
                &copies[0].command_id
            )
        );
    }
    let stream = svc
        .events
        .read_stream(pb::ReadStreamRequest {
            aggregate_id: post_id,
            ..Default::default()
        })
        .await
        .expect("read stream")
        .into_inner();
    let from_copies: Vec<_> = stream
        .events
        .iter()
        .filter(|e| e.command_id == like_id)
        .collect();
    assert_eq!(from_copies.len(), 1, "applied once");
    assert_eq!(from_copies[0].version, copies[0].version);
    assert_eq!(stream.current_version, 7, "create, bob's like, five others");
}

#[tokio::test]
async fn ten_concurrent_copies_of_a_create_without_an_id_make_one_aggregate() {
    let svc = start(0).await;
    let command_id = uuid::Uuid::now_v7().to_string();
    let mut calls = Vec::new();
    for _ in 0..10 {
        let mut client = svc.commands.clone();
        let request = pb::RegisterCustomerRequest {
            options: options(Some(&command_id), None),
            ..register("Copy", &format!("copy-{command_id}@example.com"))
        };
        calls.push(tokio::spawn(async move {
            client.register_customer(as_user("staff", request)).await
        }));
    }
    let mut copies = Vec::new();
    for call in calls {
        copies.push(
            call.await
                .expect("join")
                .expect("every copy gets the first result")
                .into_inner()
                .result
                .expect("result"),
        );
    }
    assert_eq!(copies.iter().filter(|c| !c.already_applied).count(), 1);
    assert!(
        copies
            .iter()
            .all(|c| c.aggregate_id == copies[0].aggregate_id && c.version == 1)
    );
}

#[tokio::test]
async fn the_same_command_id_applies_once_and_returns_the_first_reply() {
    let mut svc = start(0).await;
    let command_id = uuid::Uuid::now_v7().to_string();
    let create = || pb::CreatePostRequest {
        options: options(Some(&command_id), None),
        message: "once".into(),
        ..Default::default()
    };
    let first = svc
        .commands
        .create_post(as_user("alice", create()))
        .await
        .expect("first")
        .into_inner()
        .result
        .expect("result");
    let again = svc
        .commands
        .create_post(as_user("alice", create()))
        .await
        .expect("retry")
        .into_inner()
        .result
        .expect("result");
    assert!(!first.already_applied);
    assert!(again.already_applied);
    assert_eq!(first.aggregate_id, again.aggregate_id);
    assert_eq!(first.version, again.version);
    assert_eq!(first.command_id, again.command_id);

    // A like re-sent after it was applied must not fail with "already liked".
    let like_id = uuid::Uuid::now_v7().to_string();
    let like = || pb::LikePostRequest {
        options: options(Some(&like_id), None),
        post_id: first.aggregate_id.clone(),
    };
    let liked = svc
        .commands
        .like_post(as_user("bob", like()))
        .await
        .expect("like")
        .into_inner()
        .result
        .expect("result");
    let liked_again = svc
        .commands
        .like_post(as_user("bob", like()))
        .await
        .expect("like retry")
        .into_inner()
        .result
        .expect("result");
    assert_eq!(liked.version, 2);
    assert_eq!(liked_again.version, 2);
    assert!(liked_again.already_applied);

    // The retried AddComment answers with the comment it created first.
    let comment_cmd = uuid::Uuid::now_v7().to_string();
    let add = || pb::AddCommentRequest {
        options: options(Some(&comment_cmd), None),
        post_id: first.aggregate_id.clone(),
        text: "hi".into(),
    };
    let c1 = svc
        .commands
        .add_comment(as_user("bob", add()))
        .await
        .expect("comment")
        .into_inner();
    let c2 = svc
        .commands
        .add_comment(as_user("bob", add()))
        .await
        .expect("comment retry")
        .into_inner();
    assert!(!c1.comment_id.is_empty());
    assert_eq!(c1.comment_id, c2.comment_id);

    let stream = svc
        .events
        .read_stream(pb::ReadStreamRequest {
            aggregate_id: first.aggregate_id.clone(),
            ..Default::default()
        })
        .await
        .expect("stream")
        .into_inner();
    assert_eq!(
        stream.current_version, 3,
        "create, like, comment: each applied once"
    );

    // Reusing a command id for another aggregate is refused, not silently answered.
    let (other_post, _) = create_post(&mut svc, "alice", "other").await;
    let reused = svc
        .commands
        .like_post(as_user(
            "bob",
            pb::LikePostRequest {
                options: options(Some(&like_id), None),
                post_id: other_post,
            },
        ))
        .await
        .expect_err("reused id");
    assert_eq!(reused.code(), Code::AlreadyExists);
}

#[tokio::test]
async fn post_rules_return_their_documented_codes() {
    let mut svc = start(0).await;
    let (post_id, _) = create_post(&mut svc, "alice", "hello").await;
    let c = &mut svc.commands;

    let no_actor = c
        .create_post(Request::new(pb::CreatePostRequest {
            message: "x".into(),
            ..Default::default()
        }))
        .await
        .expect_err("no actor");
    assert_eq!(no_actor.code(), Code::Unauthenticated);

    let bad_id = c
        .like_post(post_req("bob", || pb::LikePostRequest {
            post_id: "not-a-uuid".into(),
            ..Default::default()
        }))
        .await
        .expect_err("bad id");
    assert_eq!(bad_id.code(), Code::InvalidArgument);
    assert!(bad_id.message().contains("post_id"), "{}", bad_id.message());

    let blank = c
        .create_post(post_req("alice", || pb::CreatePostRequest {
            message: "   ".into(),
            ..Default::default()
        }))
        .await
        .expect_err("blank");
    assert_eq!(blank.code(), Code::InvalidArgument);

    let too_long = c
        .create_post(post_req("alice", || pb::CreatePostRequest {
            message: "x".repeat(2001),
            ..Default::default()
        }))
        .await
        .expect_err("too long");
    assert_eq!(too_long.code(), Code::InvalidArgument);

    let unknown = c
        .edit_post(post_req("alice", || pb::EditPostRequest {
            post_id: uuid::Uuid::now_v7().to_string(),
            message: "m".into(),
            ..Default::default()
        }))
        .await
        .expect_err("unknown");
    assert_eq!(unknown.code(), Code::NotFound);

    let not_author = c
        .edit_post(post_req("mallory", || pb::EditPostRequest {
            post_id: post_id.clone(),
            message: "mine now".into(),
            ..Default::default()
        }))
        .await
        .expect_err("not author");
    assert_eq!(not_author.code(), Code::PermissionDenied);

    c.like_post(post_req("bob", || pb::LikePostRequest {
        post_id: post_id.clone(),
        ..Default::default()
    }))
    .await
    .expect("like");
    let twice = c
        .like_post(post_req("bob", || pb::LikePostRequest {
            post_id: post_id.clone(),
            ..Default::default()
        }))
        .await
        .expect_err("twice");
    assert_eq!(twice.code(), Code::FailedPrecondition);
    let unlike_none = c
        .unlike_post(post_req("carol", || pb::UnlikePostRequest {
            post_id: post_id.clone(),
            ..Default::default()
        }))
        .await
        .expect_err("unlike without like");
    assert_eq!(unlike_none.code(), Code::FailedPrecondition);

    let comment = c
        .add_comment(post_req("bob", || pb::AddCommentRequest {
            post_id: post_id.clone(),
            text: "nice".into(),
            ..Default::default()
        }))
        .await
        .expect("comment")
        .into_inner()
        .comment_id;
    let other_edits = c
        .edit_comment(post_req("alice", || pb::EditCommentRequest {
            post_id: post_id.clone(),
            comment_id: comment.clone(),
            text: "edited".into(),
            ..Default::default()
        }))
        .await
        .expect_err("not commenter");
    assert_eq!(other_edits.code(), Code::PermissionDenied);
    let unknown_comment = c
        .remove_comment(post_req("bob", || pb::RemoveCommentRequest {
            post_id: post_id.clone(),
            comment_id: uuid::Uuid::now_v7().to_string(),
            ..Default::default()
        }))
        .await
        .expect_err("unknown comment");
    assert_eq!(unknown_comment.code(), Code::NotFound);
    c.remove_comment(post_req("bob", || pb::RemoveCommentRequest {
        post_id: post_id.clone(),
        comment_id: comment.clone(),
        ..Default::default()
    }))
    .await
    .expect("remove own comment");

    let stale = c
        .edit_post(post_req("alice", || pb::EditPostRequest {
            options: options(None, Some(1)),
            post_id: post_id.clone(),
            message: "stale".into(),
        }))
        .await
        .expect_err("stale expected version");
    assert_eq!(stale.code(), Code::Aborted);
    assert_eq!(error_code::current_version(&stale), Some(4));

    let not_author_delete = c
        .delete_post(post_req("bob", || pb::DeletePostRequest {
            post_id: post_id.clone(),
            ..Default::default()
        }))
        .await
        .expect_err("delete by other");
    assert_eq!(not_author_delete.code(), Code::PermissionDenied);
    c.delete_post(post_req("alice", || pb::DeletePostRequest {
        post_id: post_id.clone(),
        ..Default::default()
    }))
    .await
    .expect("delete");
    let after_delete = c
        .like_post(post_req("carol", || pb::LikePostRequest {
            post_id: post_id.clone(),
            ..Default::default()
        }))
        .await
        .expect_err("deleted");
    assert_eq!(after_delete.code(), Code::FailedPrecondition);
}

fn register(name: &str, email: &str) -> pb::RegisterCustomerRequest {
    pb::RegisterCustomerRequest {
        name: name.into(),
        email: email.into(),
        segment: "consumer".into(),
        region: "west".into(),
        ..Default::default()
    }
}

#[tokio::test]
async fn customer_and_order_rules_return_their_documented_codes() {
    let svc = start(0).await;
    let mut c = svc.commands.clone();

    let bad_email = c
        .register_customer(as_user("ops", register("Ann", "not-an-email")))
        .await
        .expect_err("bad email");
    assert_eq!(bad_email.code(), Code::InvalidArgument);

    let ann = c
        .register_customer(as_user("ops", register("Ann", "Ann@Example.com")))
        .await
        .expect("ann")
        .into_inner()
        .result
        .expect("result")
        .aggregate_id;
    let taken = c
        .register_customer(as_user("ops", register("Other", "ann@example.COM")))
        .await
        .expect_err("email taken");
    assert_eq!(taken.code(), Code::AlreadyExists, "{taken:?}");

    // Ann moves to a new email; the old one becomes free for someone else.
    let update = pb::UpdateCustomerRequest {
        customer_id: ann.clone(),
        name: "Ann".into(),
        email: "ann@new.example".into(),
        segment: "consumer".into(),
        region: "west".into(),
        ..Default::default()
    };
    c.update_customer(as_user("ops", update))
        .await
        .expect("update email");
    c.register_customer(as_user("ops", register("Bea", "ann@example.com")))
        .await
        .expect("old email is free again");
    let still_taken = c
        .register_customer(as_user("ops", register("Cy", "ann@new.example")))
        .await
        .expect_err("new email taken");
    assert_eq!(still_taken.code(), Code::AlreadyExists);

    let item = |price: i64, quantity: u32| pb::OrderItem {
        sku: "SKU-1".into(),
        name: "Mug".into(),
        unit_price_minor: price,
        quantity,
    };
    let order = |customer: &str, currency: &str, items: Vec<pb::OrderItem>| pb::PlaceOrderRequest {
        customer_id: customer.into(),
        currency: currency.into(),
        items,
        ..Default::default()
    };

    let unknown_customer = c
        .place_order(as_user(
            "ops",
            order(&uuid::Uuid::now_v7().to_string(), "EUR", vec![item(500, 1)]),
        ))
        .await
        .expect_err("unknown customer");
    assert_eq!(unknown_customer.code(), Code::FailedPrecondition);
    let no_items = c
        .place_order(as_user("ops", order(&ann, "EUR", vec![])))
        .await
        .expect_err("no items");
    assert_eq!(no_items.code(), Code::InvalidArgument);
    let zero_quantity = c
        .place_order(as_user("ops", order(&ann, "EUR", vec![item(500, 0)])))
        .await
        .expect_err("quantity 0");
    assert_eq!(zero_quantity.code(), Code::InvalidArgument);
    let negative_price = c
        .place_order(as_user("ops", order(&ann, "EUR", vec![item(-1, 1)])))
        .await
        .expect_err("negative price");
    assert_eq!(negative_price.code(), Code::InvalidArgument);
    let bad_currency = c
        .place_order(as_user("ops", order(&ann, "euro", vec![item(500, 1)])))
        .await
        .expect_err("bad currency");
    assert_eq!(bad_currency.code(), Code::InvalidArgument);

    let placed = c
        .place_order(as_user(
            "ops",
            order(&ann, "EUR", vec![item(500, 2), item(1250, 1)]),
        ))
        .await
        .expect("order")
        .into_inner()
        .result
        .expect("result");
    let order_id = placed.aggregate_id;
    let deliver_early = c
        .deliver_order(as_user(
            "ops",
            pb::DeliverOrderRequest {
                order_id: order_id.clone(),
                ..Default::default()
            },
        ))
        .await
        .expect_err("deliver before ship");
    assert_eq!(deliver_early.code(), Code::FailedPrecondition);
    c.ship_order(as_user(
        "ops",
        pb::ShipOrderRequest {
            order_id: order_id.clone(),
            ..Default::default()
        },
    ))
    .await
    .expect("ship");
    let cancel_shipped = c
        .cancel_order(as_user(
            "ops",
            pb::CancelOrderRequest {
                order_id: order_id.clone(),
                reason: "late".into(),
                ..Default::default()
            },
        ))
        .await
        .expect_err("cancel shipped");
    assert_eq!(cancel_shipped.code(), Code::FailedPrecondition);
    let delivered = c
        .deliver_order(as_user(
            "ops",
            pb::DeliverOrderRequest {
                order_id: order_id.clone(),
                ..Default::default()
            },
        ))
        .await
        .expect("deliver")
        .into_inner()
        .result
        .expect("result");
    assert_eq!(delivered.version, 3);
    let ship_again = c
        .ship_order(as_user(
            "ops",
            pb::ShipOrderRequest {
                order_id: order_id.clone(),
                ..Default::default()
            },
        ))
        .await
        .expect_err("ship delivered");
    assert_eq!(ship_again.code(), Code::FailedPrecondition);

    let placed2 = c
        .place_order(as_user("ops", order(&ann, "EUR", vec![item(99, 3)])))
        .await
        .expect("order 2")
        .into_inner()
        .result
        .expect("result");
    let blank_reason = c
        .cancel_order(as_user(
            "ops",
            pb::CancelOrderRequest {
                order_id: placed2.aggregate_id.clone(),
                reason: " ".into(),
                ..Default::default()
            },
        ))
        .await
        .expect_err("blank reason");
    assert_eq!(blank_reason.code(), Code::InvalidArgument);
    c.cancel_order(as_user(
        "ops",
        pb::CancelOrderRequest {
            order_id: placed2.aggregate_id.clone(),
            reason: "changed mind".into(),
            ..Default::default()
        },
    ))
    .await
    .expect("cancel placed");

    // An order id is not a post.
    let wrong_type = c
        .like_post(as_user(
            "ops",
            pb::LikePostRequest {
                post_id: order_id,
                ..Default::default()
            },
        ))
        .await
        .expect_err("wrong type");
    assert_eq!(wrong_type.code(), Code::NotFound);
}

#[tokio::test]
async fn streams_read_as_of_a_version_and_the_store_pages_in_order() {
    // Snapshots every 3 events: loading must give the same answers across snapshot boundaries.
    let mut svc = start(3).await;
    let (post_id, _) = create_post(&mut svc, "alice", "v1").await;
    for i in 2..=7 {
        svc.commands
            .edit_post(as_user(
                "alice",
                pb::EditPostRequest {
                    post_id: post_id.clone(),
                    message: format!("v{i}"),
                    ..Default::default()
                },
            ))
            .await
            .expect("edit");
    }
    let at_4 = svc
        .events
        .read_stream(pb::ReadStreamRequest {
            aggregate_id: post_id.clone(),
            from_version: 3,
            until: Some(pb::read_stream_request::Until::ToVersion(4)),
        })
        .await
        .expect("as of 4")
        .into_inner();
    assert_eq!(at_4.version, 4);
    assert_eq!(at_4.current_version, 7);
    assert_eq!(
        at_4.events.iter().map(|e| e.version).collect::<Vec<_>>(),
        vec![3, 4]
    );
    let state: serde_json::Value = serde_json::from_str(&at_4.state_json).expect("json");
    assert_eq!(state["message"], "v4");

    // After a snapshot the aggregate still decides on its latest state.
    let stale = svc
        .commands
        .edit_post(as_user(
            "alice",
            pb::EditPostRequest {
                options: options(None, Some(6)),
                post_id: post_id.clone(),
                message: "x".into(),
            },
        ))
        .await
        .expect_err("stale");
    assert_eq!(error_code::current_version(&stale), Some(7));

    let missing = svc
        .events
        .read_stream(pb::ReadStreamRequest {
            aggregate_id: uuid::Uuid::now_v7().to_string(),
            ..Default::default()
        })
        .await
        .expect_err("missing");
    assert_eq!(missing.code(), Code::NotFound);

    let (second, _) = create_post(&mut svc, "bob", "other").await;
    let mut cursor = String::new();
    let mut seen = Vec::new();
    loop {
        let page = svc
            .events
            .read_all(pb::ReadAllRequest {
                cursor: cursor.clone(),
                page_size: 3,
                ..Default::default()
            })
            .await
            .expect("read all")
            .into_inner();
        // Totals come with the first page only.
        let expected_totals = if cursor.is_empty() { 8 } else { 0 };
        assert_eq!(page.total_commit_count, expected_totals);
        assert_eq!(page.total_event_count, expected_totals);
        seen.extend(
            page.commits
                .iter()
                .map(|c| (c.aggregate_id.clone(), c.first_version)),
        );
        cursor = page.next_cursor;
        if page.end_of_store {
            break;
        }
    }
    let mut expected: Vec<(String, u64)> = (1..=7).map(|v| (post_id.clone(), v)).collect();
    expected.push((second, 1));
    assert_eq!(seen, expected, "every commit once, in store order");

    // From the end, an overlap re-reads the recent past: all eight commits were made within the
    // last minute, and the cursor does not go back.
    let again = |overlap_ms| pb::ReadAllRequest {
        cursor: cursor.clone(),
        page_size: 100,
        overlap_ms,
        ..Default::default()
    };
    let nothing_new = svc
        .events
        .read_all(again(0))
        .await
        .expect("read all")
        .into_inner();
    assert!(nothing_new.commits.is_empty() && nothing_new.end_of_store);
    assert_eq!(nothing_new.next_cursor, cursor);
    let overlapped = svc
        .events
        .read_all(again(60_000))
        .await
        .expect("read all with overlap")
        .into_inner();
    let reread: Vec<(String, u64)> = overlapped
        .commits
        .iter()
        .map(|c| (c.aggregate_id.clone(), c.first_version))
        .collect();
    assert_eq!(reread, expected, "the last minute again, in store order");
    assert_eq!(overlapped.next_cursor, cursor);
    let too_far = svc
        .events
        .read_all(again(60_001))
        .await
        .expect_err("overlap too long");
    assert_eq!(too_far.code(), Code::InvalidArgument);

    let bad_cursor = svc
        .events
        .read_all(pb::ReadAllRequest {
            cursor: "abc".into(),
            ..Default::default()
        })
        .await
        .expect_err("bad cursor");
    assert_eq!(bad_cursor.code(), Code::InvalidArgument);
}

#[tokio::test]
async fn an_instance_whose_cached_aggregate_is_stale_still_decides_on_the_latest_state() {
    let database = testkit::unique_name("t");
    let mut a = start_on(&database, 0).await;
    let mut b = start_on(&database, 0).await;
    let (post_id, _) = create_post(&mut a, "alice", "hello").await;
    let like = || pb::LikePostRequest {
        post_id: post_id.clone(),
        ..Default::default()
    };

    a.commands
        .like_post(as_user("bob", like()))
        .await
        .expect("like on a");
    b.commands
        .unlike_post(as_user(
            "bob",
            pb::UnlikePostRequest {
                post_id: post_id.clone(),
                ..Default::default()
            },
        ))
        .await
        .expect("unlike on b");
    // a still holds "bob likes it" in memory; deciding on that would refuse the like.
    let again = a
        .commands
        .like_post(as_user("bob", like()))
        .await
        .expect("like on a after b's unlike")
        .into_inner()
        .result
        .expect("result");
    assert_eq!(again.version, 4);

    b.commands
        .edit_post(as_user(
            "alice",
            pb::EditPostRequest {
                post_id: post_id.clone(),
                message: "from b".into(),
                ..Default::default()
            },
        ))
        .await
        .expect("edit on b");
    // a's cache is at version 4, the store at 5: the append conflicts and a reloads.
    let edited = a
        .commands
        .edit_post(as_user(
            "alice",
            pb::EditPostRequest {
                post_id: post_id.clone(),
                message: "from a".into(),
                ..Default::default()
            },
        ))
        .await
        .expect("edit on a")
        .into_inner()
        .result
        .expect("result");
    assert_eq!(edited.version, 6);

    let stream = a
        .events
        .read_stream(pb::ReadStreamRequest {
            aggregate_id: post_id,
            ..Default::default()
        })
        .await
        .expect("stream")
        .into_inner();
    let state: serde_json::Value = serde_json::from_str(&stream.state_json).expect("json");
    assert_eq!(state["message"], "from a");
    assert_eq!(state["likes"], serde_json::json!(["bob"]));
}

#[tokio::test]
async fn commands_are_accepted_while_the_broker_is_down_and_the_backlog_shows_in_metrics() {
    // This test reads process-wide gauges: it relies on nextest's one process per test.
    // Nothing listens on port 1: the relay cannot publish, the command path must not care.
    let config = Config::ephemeral(
        &testkit::mongo::uri(),
        &testkit::unique_name("t"),
        "127.0.0.1:1",
    );
    let app = Application::build(config)
        .await
        .expect("starts without a broker");
    let (grpc, metrics) = (app.local_addr(), app.metrics_addr());
    tokio::spawn(app.run_until_stopped(std::future::pending()));
    let channel = Channel::from_shared(format!("http://{grpc}"))
        .expect("url")
        .connect()
        .await
        .expect("connect");
    let mut svc = Service {
        commands: CommandServiceClient::new(channel.clone()),
        events: EventStoreClient::new(channel),
    };
    for i in 0..3 {
        let (_, version) = create_post(&mut svc, "alice", &format!("while down {i}")).await;
        assert_eq!(version, 1);
    }

    // The relay measures its backlog when it takes the lease and again before each attempt to
    // create the topics, which against a dead broker waits out its 10 s admin timeout.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let response = testkit::process::http_get(metrics, "/metrics").await;
        assert!(response.starts_with("HTTP/1.1 200"), "{response}");
        if response.contains("outbox_lease_held 1")
            && response.contains("outbox_undispatched_commits 3")
        {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the relay must hold the lease and report the 3 undispatched commits:\n{response}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_message_with_a_nul_is_refused_with_its_field_and_nothing_is_stored() {
    let mut svc = start(0).await;
    let refused = svc
        .commands
        .create_post(as_user(
            "alice",
            pb::CreatePostRequest {
                message: "poison\u{0}pill".into(),
                ..Default::default()
            },
        ))
        .await
        .expect_err("a NUL cannot be stored in the read model");
    assert_eq!(refused.code(), Code::InvalidArgument, "{refused:?}");
    let fields = error_code::field_violations(&refused);
    assert_eq!(
        fields.iter().map(|f| f.field.as_str()).collect::<Vec<_>>(),
        ["message"],
        "{refused:?}"
    );
    assert_eq!(
        error_code::error_reason(&refused),
        Some(error_code::ErrorCode::InvalidArgument)
    );

    // An edit and a comment carrying one are refused the same way.
    let (post_id, _) = create_post(&mut svc, "alice", "clean").await;
    let edit = svc
        .commands
        .edit_post(as_user(
            "alice",
            pb::EditPostRequest {
                post_id: post_id.clone(),
                message: "\u{0}".into(),
                ..Default::default()
            },
        ))
        .await
        .expect_err("NUL in an edit");
    assert_eq!(edit.code(), Code::InvalidArgument);
    let comment = svc
        .commands
        .add_comment(as_user(
            "bob",
            pb::AddCommentRequest {
                post_id: post_id.clone(),
                text: "a\u{0}b".into(),
                ..Default::default()
            },
        ))
        .await
        .expect_err("NUL in a comment");
    assert_eq!(comment.code(), Code::InvalidArgument);
    assert_eq!(error_code::field_violations(&comment)[0].field, "text");

    let all = svc
        .events
        .read_all(pb::ReadAllRequest::default())
        .await
        .expect("read all")
        .into_inner();
    assert_eq!(all.total_commit_count, 1, "only the clean post was stored");
}

#[tokio::test]
async fn order_amounts_past_the_money_bound_are_refused_with_their_field() {
    let svc = start(0).await;
    let mut c = svc.commands.clone();
    let customer_id = c
        .register_customer(as_user(
            "staff",
            register(
                "Rich",
                &format!("rich-{}@example.com", uuid::Uuid::now_v7()),
            ),
        ))
        .await
        .expect("register")
        .into_inner()
        .result
        .expect("result")
        .aggregate_id;
    let line = |unit_price_minor: i64, quantity: u32| pb::OrderItem {
        sku: "sku".into(),
        name: "gold".into(),
        unit_price_minor,
        quantity,
    };
    let order = |items: Vec<pb::OrderItem>| pb::PlaceOrderRequest {
        customer_id: customer_id.clone(),
        currency: "EUR".into(),
        items,
        ..Default::default()
    };
    let max_price = cqrsplus_domain::order::MAX_UNIT_PRICE_MINOR;
    let max_quantity = cqrsplus_domain::order::MAX_QUANTITY;

    let price = c
        .place_order(as_user("staff", order(vec![line(max_price + 1, 1)])))
        .await
        .expect_err("a unit price past the bound");
    assert_eq!(price.code(), Code::InvalidArgument, "{price:?}");
    assert_eq!(
        error_code::field_violations(&price)[0].field,
        "items[0].unit_price_minor"
    );

    let overflow = c
        .place_order(as_user("staff", order(vec![line(i64::MAX, u32::MAX)])))
        .await
        .expect_err("a line near the 64-bit limit");
    assert_eq!(overflow.code(), Code::InvalidArgument, "{overflow:?}");

    // Each line at the bound is fine; two of them pass the order total's bound.
    let total = c
        .place_order(as_user(
            "staff",
            order(vec![
                line(max_price, max_quantity),
                line(max_price, max_quantity),
            ]),
        ))
        .await
        .expect_err("a total past the bound");
    assert_eq!(total.code(), Code::InvalidArgument, "{total:?}");
    assert_eq!(error_code::field_violations(&total)[0].field, "items");

    let one = c
        .place_order(as_user("staff", order(vec![line(max_price, max_quantity)])))
        .await
        .expect("one line at the bound is a valid order");
    assert_eq!(one.into_inner().result.expect("result").version, 1);
}
