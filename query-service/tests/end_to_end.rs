//! The whole read path on the real servers: command-service (MongoDB-wire store, outbox relay)
//! publishes to the Kafka broker, query-service's projector consumes into Postgres, and the
//! QueryService / QueryAdmin RPCs answer. Each test uses its own topic prefix, Mongo database,
//! Postgres database and consumer group.

use std::time::Duration;

use cqrsplus_proto::{
    command::v1::{self as cmd, command_service_client::CommandServiceClient},
    common::v1::ConsistencyToken,
    error_code,
    query::v1::{
        self as q, query_admin_client::QueryAdminClient, query_service_client::QueryServiceClient,
    },
};
use rdkafka::producer::{FutureProducer, FutureRecord};
use sqlx::PgPool;
use tonic::{Request, transport::Channel};

struct Stack {
    commands: CommandServiceClient<Channel>,
    queries: QueryServiceClient<Channel>,
    admin: QueryAdminClient<Channel>,
    pool: PgPool,
    prefix: String,
    metrics_addr: std::net::SocketAddr,
    command_addr: std::net::SocketAddr,
    database_url: String,
    group: String,
    /// Dropping it stops the stack's query-service, so it lives as long as the stack.
    _query_stop: tokio::sync::oneshot::Sender<()>,
}

/// A query-service instance of a test, stopped (gracefully, leaving its group) by `stop`.
struct QueryInstance {
    addr: std::net::SocketAddr,
    metrics_addr: std::net::SocketAddr,
    pool: PgPool,
    stop: tokio::sync::oneshot::Sender<()>,
    running: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl QueryInstance {
    async fn start(
        database_url: &str,
        command_addr: std::net::SocketAddr,
        prefix: &str,
        group: Option<&str>,
    ) -> Self {
        let mut config = query_service::config::Config::ephemeral(
            database_url,
            &testkit::kafka::brokers(),
            &format!("http://{command_addr}"),
        );
        config.kafka_topic_prefix = prefix.to_owned();
        if let Some(group) = group {
            config.consumer_group = group.to_owned();
        }
        let app = query_service::startup::Application::build(config)
            .await
            .expect("build query-service");
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        Self {
            addr: app.local_addr(),
            metrics_addr: app.metrics_addr(),
            pool: app.pool().clone(),
            stop,
            running: tokio::spawn(app.run_until_stopped(async move {
                let _ = stopped.await;
            })),
        }
    }

    async fn stop(self) {
        let _ = self.stop.send(());
        self.running
            .await
            .expect("query-service task")
            .expect("query-service stopped cleanly");
    }
}

async fn channel(addr: std::net::SocketAddr) -> Channel {
    Channel::from_shared(format!("http://{addr}"))
        .expect("url")
        .connect()
        .await
        .expect("connect")
}

async fn start() -> Stack {
    let prefix = format!("{}.", testkit::unique_name("t"));
    let mut command_config = command_service::config::Config::ephemeral(
        &testkit::mongo::uri(),
        &testkit::unique_name("t"),
        &testkit::kafka::brokers(),
    );
    command_config.kafka_topic_prefix = prefix.clone();
    command_config.kafka_topic_partitions = 2;
    let command_app = command_service::startup::Application::build(command_config)
        .await
        .expect("build command-service");
    let command_addr = command_app.local_addr();
    tokio::spawn(command_app.run_until_stopped(std::future::pending()));

    let db = testkit::postgres::fresh_database().await;
    let group = format!("query-service-{}", uuid::Uuid::now_v7().simple());
    let query = QueryInstance::start(&db.url, command_addr, &prefix, Some(&group)).await;
    let query_channel = channel(query.addr).await;
    Stack {
        commands: CommandServiceClient::new(channel(command_addr).await),
        queries: QueryServiceClient::new(query_channel.clone()),
        admin: QueryAdminClient::new(query_channel),
        pool: query.pool,
        prefix,
        metrics_addr: query.metrics_addr,
        command_addr,
        database_url: db.url,
        group,
        _query_stop: query.stop,
    }
}

fn as_user<T>(actor: &str, message: T) -> Request<T> {
    let mut request = Request::new(message);
    request
        .metadata_mut()
        .insert(error_code::ACTOR_METADATA, actor.parse().expect("ascii"));
    request
}

fn token(result: &cmd::CommandResult) -> Option<ConsistencyToken> {
    Some(ConsistencyToken {
        aggregate_id: result.aggregate_id.clone(),
        min_version: result.version,
    })
}

/// Reads a post with a consistency token, retrying while the projection has not caught up (the
/// consumer group's first assignment takes a few seconds on this broker).
async fn get_post_at(stack: &mut Stack, result: &cmd::CommandResult) -> q::GetPostResponse {
    read_post_at(&mut stack.queries, result).await
}

async fn read_post_at(
    queries: &mut QueryServiceClient<Channel>,
    result: &cmd::CommandResult,
) -> q::GetPostResponse {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let reply = queries
            .get_post(as_user(
                "bob",
                q::GetPostRequest {
                    post_id: result.aggregate_id.clone(),
                    include_comments: true,
                    consistency: token(result),
                },
            ))
            .await;
        match reply {
            Ok(reply) => return reply.into_inner(),
            Err(status)
                if status.code() == tonic::Code::Unavailable
                    && tokio::time::Instant::now() < deadline =>
            {
                assert!(
                    error_code::projected_version(&status).is_some(),
                    "{status:?}"
                );
            }
            Err(status) => panic!("get post: {status:?}"),
        }
    }
}

async fn create_post(stack: &mut Stack, actor: &str, message: &str) -> cmd::CommandResult {
    stack
        .commands
        .create_post(as_user(
            actor,
            cmd::CreatePostRequest {
                message: message.into(),
                ..Default::default()
            },
        ))
        .await
        .expect("create post")
        .into_inner()
        .result
        .expect("result")
}

/// `count` posts by alice, "{label} 0", "{label} 1", ...
async fn create_posts(stack: &mut Stack, label: &str, count: usize) -> Vec<cmd::CommandResult> {
    let mut results = Vec::with_capacity(count);
    for n in 0..count {
        results.push(create_post(stack, "alice", &format!("{label} {n}")).await);
    }
    results
}

async fn like(stack: &mut Stack, actor: &str, post_id: &str) -> cmd::CommandResult {
    stack
        .commands
        .like_post(as_user(
            actor,
            cmd::LikePostRequest {
                post_id: post_id.into(),
                ..Default::default()
            },
        ))
        .await
        .expect("like")
        .into_inner()
        .result
        .expect("result")
}

async fn comment(stack: &mut Stack, actor: &str, post_id: &str, text: &str) -> cmd::CommandResult {
    stack
        .commands
        .add_comment(as_user(
            actor,
            cmd::AddCommentRequest {
                post_id: post_id.into(),
                text: text.into(),
                ..Default::default()
            },
        ))
        .await
        .expect("comment")
        .into_inner()
        .result
        .expect("result")
}

/// Every read table as sorted text, bookkeeping timestamps left out: two read models built from
/// the same events must be equal here.
async fn snapshot(pool: &PgPool) -> Vec<String> {
    let mut rows = Vec::new();
    for (table, order) in [
        ("posts", "post_id"),
        ("post_likes", "post_id, user_id"),
        ("comments", "comment_id"),
        ("customers", "customer_id"),
        ("orders", "order_id"),
        ("order_items", "order_id, line_no"),
        ("customer_orders", "order_id"),
    ] {
        let table_rows: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "select '{table}:' || t::text from {table} t order by {order}"
        )))
        .fetch_all(pool)
        .await
        .expect("snapshot");
        rows.extend(table_rows);
    }
    let checkpoints: Vec<String> = sqlx::query_scalar(
        "select aggregate_id::text || '@' || version from projection_checkpoints order by 1",
    )
    .fetch_all(pool)
    .await
    .expect("checkpoints");
    rows.extend(checkpoints);
    rows
}

#[tokio::test]
async fn a_command_is_visible_through_the_query_service_with_its_consistency_token() {
    let mut stack = start().await;
    let created = create_post(&mut stack, "alice", "hello read side").await;
    let id = created.aggregate_id.clone();
    like(&mut stack, "bob", &id).await;
    like(&mut stack, "carol", &id).await;
    let last = comment(&mut stack, "bob", &id, "first!").await;

    let post = get_post_at(&mut stack, &last).await;
    let p = post.post.expect("post");
    assert_eq!(p.message, "hello read side");
    assert_eq!(p.author, "alice");
    assert_eq!((p.like_count, p.comment_count, p.version), (2, 1, 4));
    assert!(p.liked_by_caller, "bob likes it");
    assert_eq!(post.comments.len(), 1);
    assert_eq!(post.comments[0].text, "first!");

    // The metrics endpoint reports the projection.
    let metrics = testkit::process::http_get(stack.metrics_addr, "/metrics").await;
    assert!(metrics.contains("projection_events_total"), "{metrics}");
}

#[tokio::test]
async fn a_malformed_message_is_parked_and_later_events_still_apply() {
    let mut stack = start().await;
    let first = create_post(&mut stack, "alice", "before").await;
    get_post_at(&mut stack, &first).await;

    let producer: FutureProducer = testkit::kafka::client_config().create().expect("producer");
    let topic = format!("{}{}", stack.prefix, cqrsplus_domain::topics::POSTS);
    producer
        .send(
            FutureRecord::to(&topic)
                .key("junk")
                .payload("this is not an event"),
            Duration::from_secs(10),
        )
        .await
        .expect("produce junk");

    let after = create_post(&mut stack, "alice", "after").await;
    let post = get_post_at(&mut stack, &after).await;
    assert_eq!(post.post.expect("post").message, "after");

    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let letters = loop {
        let page = stack
            .admin
            .list_dead_letters(q::ListDeadLettersRequest::default())
            .await
            .expect("list dead letters")
            .into_inner();
        if page.total_size > 0 || tokio::time::Instant::now() > deadline {
            break page;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(letters.total_size, 1);
    let letter = &letters.dead_letters[0];
    assert_eq!(letter.raw_payload, "this is not an event");
    assert!(letter.event.is_none());
    assert_eq!(letter.topic, topic);
    assert!(
        letter.error.contains("not an event envelope"),
        "{}",
        letter.error
    );

    // Replaying cannot cure it: it stays, with a second attempt.
    let replay = stack
        .admin
        .replay_dead_letters(q::ReplayDeadLettersRequest {
            dead_letter_ids: vec![letter.dead_letter_id.clone()],
            all: false,
        })
        .await
        .expect("replay")
        .into_inner();
    assert_eq!((replay.replayed_count, replay.failed_count), (0, 1));
    let bad = stack
        .admin
        .replay_dead_letters(q::ReplayDeadLettersRequest {
            dead_letter_ids: vec!["999999".into()],
            all: false,
        })
        .await
        .expect_err("unknown id");
    assert_eq!(bad.code(), tonic::Code::NotFound);
    let neither = stack
        .admin
        .replay_dead_letters(q::ReplayDeadLettersRequest::default())
        .await
        .expect_err("neither ids nor all");
    assert_eq!(neither.code(), tonic::Code::InvalidArgument);
}

#[tokio::test]
async fn a_rebuild_yields_exactly_the_live_tables_and_readers_switch_in_one_step() {
    let mut stack = start().await;
    let mut last = None;
    for n in 0..5 {
        let post = create_post(&mut stack, "alice", &format!("post {n}")).await;
        for user in ["bob", "carol"].iter().take(n % 3) {
            like(&mut stack, user, &post.aggregate_id).await;
        }
        last = Some(comment(&mut stack, "dan", &post.aggregate_id, "nice").await);
    }
    let customer = stack
        .commands
        .register_customer(as_user(
            "admin",
            cmd::RegisterCustomerRequest {
                name: "Ada".into(),
                email: format!("{}@example.com", testkit::unique_name("ada")),
                phone: None,
                segment: "retail".into(),
                region: "north".into(),
                ..Default::default()
            },
        ))
        .await
        .expect("register")
        .into_inner()
        .result
        .expect("result");
    stack
        .commands
        .place_order(as_user(
            "ada",
            cmd::PlaceOrderRequest {
                customer_id: customer.aggregate_id.clone(),
                currency: "EUR".into(),
                items: vec![cmd::OrderItem {
                    sku: "A-1".into(),
                    name: "Apple".into(),
                    unit_price_minor: 120,
                    quantity: 3,
                }],
                ..Default::default()
            },
        ))
        .await
        .expect("place order");
    get_post_at(&mut stack, last.as_ref().expect("posts")).await;
    // Wait until the order and the customer are projected too.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let projected: i64 = sqlx::query_scalar(
            "select count(*) from customer_orders where customer_name is not null",
        )
        .fetch_one(&stack.pool)
        .await
        .unwrap();
        if projected == 1 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "order not projected"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let before = snapshot(&stack.pool).await;
    assert!(before.len() > 20, "{before:?}");

    let started = stack
        .admin
        .start_rebuild(q::StartRebuildRequest {})
        .await
        .expect("start rebuild")
        .into_inner();
    let progress = started.progress.expect("progress");
    assert!(!started.already_running);
    assert!(progress.target_schema.starts_with("rebuild_"));

    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let done = loop {
        // Readers keep being served during the rebuild.
        stack
            .queries
            .list_posts(q::ListPostsRequest::default())
            .await
            .expect("reads during the rebuild");
        let p = stack
            .admin
            .get_rebuild_progress(q::GetRebuildProgressRequest {
                rebuild_id: progress.rebuild_id.clone(),
            })
            .await
            .expect("progress")
            .into_inner()
            .progress
            .expect("progress");
        if p.state == q::RebuildState::Completed as i32 || p.state == q::RebuildState::Failed as i32
        {
            break p;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "rebuild too slow: {p:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(
        done.state,
        q::RebuildState::Completed as i32,
        "{}",
        done.error
    );
    assert_eq!(done.percent, 100.0);
    assert_eq!(done.events_total, done.events_applied);

    let after = snapshot(&stack.pool).await;
    assert_eq!(after, before, "the rebuilt tables equal the live ones");
    let leftovers: i64 = sqlx::query_scalar(
        "select count(*) from pg_namespace where nspname like 'rebuild\\_%' or nspname like 'retired\\_%'",
    )
    .fetch_one(&stack.pool)
    .await
    .unwrap();
    assert_eq!(leftovers, 0, "the old schema is dropped");

    // The live projector carries on in the new schema.
    let more = like(&mut stack, "erin", &last.as_ref().unwrap().aggregate_id).await;
    let post = get_post_at(&mut stack, &more).await;
    assert_eq!(post.post.expect("post").version, more.version);
}

#[tokio::test]
async fn the_projector_keeps_consuming_after_other_members_join_and_leave_its_group() {
    use rdkafka::consumer::{Consumer, StreamConsumer};
    let mut stack = start().await;
    let first = create_post(&mut stack, "alice", "before the rebalances").await;
    get_post_at(&mut stack, &first).await;

    for round in 0..3 {
        // Another member of the same group comes and goes: partitions move to it and back.
        // It commits nothing, so only the projector decides where its partitions continue.
        {
            let other: StreamConsumer = testkit::kafka::client_config()
                .set("group.id", &stack.group)
                .set("enable.auto.commit", "false")
                .create()
                .expect("consumer");
            let topic = format!("{}{}", stack.prefix, cqrsplus_domain::topics::POSTS);
            other.subscribe(&[&topic]).expect("subscribe");
            let _ = tokio::time::timeout(Duration::from_secs(6), other.recv()).await;
        }
        let after = create_post(&mut stack, "alice", &format!("after rebalance {round}")).await;
        let post = get_post_at(&mut stack, &after).await;
        assert_eq!(
            post.post.expect("post").message,
            format!("after rebalance {round}")
        );
    }
}

#[tokio::test]
async fn two_instances_share_the_group_and_the_one_left_takes_over_every_partition() {
    let mut stack = start().await;
    let first = create_post(&mut stack, "alice", "one instance").await;
    get_post_at(&mut stack, &first).await;

    let second = QueryInstance::start(
        &stack.database_url,
        stack.command_addr,
        &stack.prefix,
        Some(&stack.group),
    )
    .await;
    let results = create_posts(&mut stack, "two instances", 10).await;
    for result in &results {
        get_post_at(&mut stack, result).await;
    }
    second.stop().await;

    let results = create_posts(&mut stack, "one again", 10).await;
    for result in &results {
        let post = get_post_at(&mut stack, result).await;
        assert_eq!(post.post.expect("post").version, 1);
    }
}

#[tokio::test]
async fn a_fresh_read_database_projects_the_whole_history_even_where_the_group_committed_further() {
    let mut stack = start().await;
    let results = create_posts(&mut stack, "history", 5).await;
    for result in &results {
        get_post_at(&mut stack, result).await;
    }
    // A new instance on an empty read database, in a group whose Kafka offsets say everything
    // was consumed (as after pointing an existing deployment at a new database). The read model
    // says nothing was applied, and the read model wins.
    let fresh = testkit::postgres::fresh_database().await;
    let other_group = format!("query-service-{}", uuid::Uuid::now_v7().simple());
    commit_group_offsets_at_the_end(&other_group, &stack.prefix).await;
    let instance = QueryInstance::start(
        &fresh.url,
        stack.command_addr,
        &stack.prefix,
        Some(&other_group),
    )
    .await;
    let mut queries = QueryServiceClient::new(channel(instance.addr).await);
    for result in &results {
        let post = read_post_at(&mut queries, result).await;
        assert_eq!(post.post.expect("post").version, 1);
    }
    instance.stop().await;
}

#[tokio::test]
async fn the_group_s_kafka_offsets_name_the_next_message_to_read() {
    let mut stack = start().await;
    let results = create_posts(&mut stack, "offsets", 6).await;
    // An instance of a group of its own projects everything, and leaves the group on stop,
    // committing what it stored.
    let fresh = testkit::postgres::fresh_database().await;
    let group = format!("query-service-{}", uuid::Uuid::now_v7().simple());
    let instance =
        QueryInstance::start(&fresh.url, stack.command_addr, &stack.prefix, Some(&group)).await;
    let mut queries = QueryServiceClient::new(channel(instance.addr).await);
    for result in &results {
        read_post_at(&mut queries, result).await;
    }
    // Auto-commit runs every second; the stop commits whatever is left.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    instance.stop().await;

    let ends = partition_ends(&stack.prefix).await;
    let committed = group_committed(&group, &ends).await;
    let with_messages: Vec<_> = ends.iter().filter(|(_, _, high)| *high > 0).collect();
    assert!(!with_messages.is_empty(), "the posts went somewhere");
    for (topic, partition, high) in with_messages {
        assert_eq!(
            committed.get(&(topic.clone(), *partition)),
            Some(high),
            "{topic}/{partition}: the next message to read is at the end, not past it"
        );
    }
}

/// Every partition of the prefixed event topics with its high watermark.
async fn partition_ends(prefix: &str) -> Vec<(String, i32, i64)> {
    use rdkafka::consumer::{BaseConsumer, Consumer};
    let topics = cqrsplus_domain::topics::prefixed(prefix);
    tokio::task::spawn_blocking(move || {
        let consumer: BaseConsumer = testkit::kafka::client_config().create().expect("consumer");
        let mut ends = Vec::new();
        for topic in &topics {
            let metadata = consumer
                .fetch_metadata(Some(topic), Duration::from_secs(10))
                .expect("metadata");
            for partition in metadata.topics()[0].partitions() {
                let (_, high) = consumer
                    .fetch_watermarks(topic, partition.id(), Duration::from_secs(10))
                    .expect("watermarks");
                ends.push((topic.clone(), partition.id(), high));
            }
        }
        assert!(!ends.is_empty(), "the event topics have partitions");
        ends
    })
    .await
    .expect("watermarks task")
}

/// `group`'s committed offsets for `partitions`.
async fn group_committed(
    group: &str,
    partitions: &[(String, i32, i64)],
) -> std::collections::HashMap<(String, i32), i64> {
    use rdkafka::{
        TopicPartitionList,
        consumer::{BaseConsumer, Consumer},
    };
    let group = group.to_owned();
    let mut list = TopicPartitionList::new();
    for (topic, partition, _) in partitions {
        list.add_partition(topic, *partition);
    }
    tokio::task::spawn_blocking(move || {
        let consumer: BaseConsumer = testkit::kafka::client_config()
            .set("group.id", &group)
            .create()
            .expect("consumer");
        let committed = consumer
            .committed_offsets(list, Duration::from_secs(10))
            .expect("committed offsets");
        committed
            .elements()
            .iter()
            .filter_map(|e| {
                e.offset()
                    .to_raw()
                    .map(|o| ((e.topic().to_owned(), e.partition()), o))
            })
            .collect()
    })
    .await
    .expect("committed offsets task")
}

/// Commits `group`'s offsets at the end of every partition of the prefixed event topics, as a
/// group that consumed everything would have.
async fn commit_group_offsets_at_the_end(group: &str, prefix: &str) {
    use rdkafka::{
        Offset, TopicPartitionList,
        consumer::{BaseConsumer, CommitMode, Consumer},
    };
    let mut ends = TopicPartitionList::new();
    for (topic, partition, high) in partition_ends(prefix).await {
        ends.add_partition_offset(&topic, partition, Offset::Offset(high))
            .expect("offset");
    }
    let group = group.to_owned();
    tokio::task::spawn_blocking(move || {
        let consumer: BaseConsumer = testkit::kafka::client_config()
            .set("group.id", &group)
            .set("enable.auto.commit", "false")
            .create()
            .expect("consumer");
        consumer.commit(&ends, CommitMode::Sync).expect("commit");
    })
    .await
    .expect("commit task");
}

/// Events of streams whose first event is not PostCreated: version 1 is parked, the rest held.
async fn flood(topic: &str, streams: usize) {
    use cqrsplus_domain::{EnvelopeMeta, EventEnvelope, post::PostEvent};
    let producer: FutureProducer = testkit::kafka::client_config()
        .set("linger.ms", "5")
        .create()
        .expect("producer");
    let mut sends = Vec::new();
    for _ in 0..streams {
        let meta = EnvelopeMeta {
            aggregate_type: "post".into(),
            aggregate_id: uuid::Uuid::now_v7(),
            command_id: uuid::Uuid::now_v7(),
            correlation_id: uuid::Uuid::now_v7(),
            actor: "flood".into(),
            occurred_at: time::OffsetDateTime::now_utc(),
        };
        for version in 1..=10 {
            let event = PostEvent::PostLiked {
                user: format!("u{version}"),
            };
            let envelope = EventEnvelope::new(uuid::Uuid::now_v7(), version, &meta, &event);
            let payload = serde_json::to_vec(&envelope).expect("json");
            let key = meta.aggregate_id.to_string();
            sends.push(
                producer
                    .send_result(FutureRecord::to(topic).key(&key).payload(&payload))
                    .map_err(|(e, _)| e)
                    .expect("enqueue"),
            );
        }
    }
    for send in sends {
        send.await.expect("delivered").expect("acked");
    }
}

#[tokio::test]
async fn events_published_while_another_producer_floods_the_topic_are_all_applied() {
    let mut stack = start().await;
    let first = create_post(&mut stack, "alice", "warm").await;
    get_post_at(&mut stack, &first).await;
    let topic = format!("{}{}", stack.prefix, cqrsplus_domain::topics::POSTS);
    let flooding = tokio::spawn(async move { flood(&topic, 500).await });
    let results = create_posts(&mut stack, "during the flood", 30).await;
    flooding.await.expect("flood");
    for result in &results {
        let post = get_post_at(&mut stack, result).await;
        assert_eq!(post.post.expect("post").version, 1);
    }
}

#[tokio::test]
async fn the_projector_carries_on_after_a_flood_of_unappliable_events() {
    let mut stack = start().await;
    let first = create_post(&mut stack, "alice", "before the flood").await;
    get_post_at(&mut stack, &first).await;

    let topic = format!("{}{}", stack.prefix, cqrsplus_domain::topics::POSTS);
    flood(&topic, 300).await;

    let after = create_post(&mut stack, "alice", "after the flood").await;
    let post = get_post_at(&mut stack, &after).await;
    assert_eq!(post.post.expect("post").message, "after the flood");
    let held: i64 = sqlx::query_scalar("select count(*) from held_events")
        .fetch_one(&stack.pool)
        .await
        .unwrap();
    assert_eq!(held, 300 * 9);
}
