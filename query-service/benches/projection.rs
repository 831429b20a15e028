//! How fast the read side runs next to the raw Postgres it writes to, measured in one run.
//!
//! 1. **Catch-up vs raw INSERT.** A backlog of `BENCH_CATCHUP_EVENTS` post events (per post: one
//!    PostCreated, six PostLiked, three CommentAdded) is produced to fresh topics; a query-service
//!    then projects it from the start. Timed from its first applied event to its last, so the
//!    consumer group's join delay is not counted. Next to it, the same rows (one posts, post_likes
//!    or comments row per event) are written with plain batched `INSERT ... SELECT FROM unnest`
//!    (1000 rows a statement) into a fresh database with the same schema: the least any projector
//!    could pay for those rows. The ratio says how much of Postgres's rate survives decoding,
//!    checkpoints, deduplication and Kafka.
//! 2. **Rebuild.** `BENCH_REBUILD_EVENTS` events appended to a fresh event store (commits of 100
//!    events), replayed through command-service's EventStore.ReadAll into a fresh schema and
//!    switched in: events/s from start to switch.
//! 3. **Command to visible.** `BENCH_COMMAND_RATE` CreatePost commands a second (default 200) for
//!    `BENCH_SECONDS` against command-service and query-service running together; for each, the
//!    time from the command's reply to its version showing in projection_checkpoints (polled every
//!    2 ms), as p50/p99.
//!
//! Ratios, not absolute rates, are what to compare between runs: the machine is small and shared.
//! Nothing here asserts a speed. Needs the servers of `scripts/infra.sh up`.
//! Run with `cargo bench -p query-service --bench projection`.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use anyhow::Context;
use command_service::store::{EventStore, MongoEventStore, NewCommit};
use cqrsplus_domain::{EnvelopeMeta, EventEnvelope, post::PostEvent};
use cqrsplus_proto::{
    command::v1::{self as pb, command_service_client::CommandServiceClient},
    error_code,
};
use query_service::{config::Config, read_model::MIGRATOR, rebuild::Rebuild, startup::Application};
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};
use sqlx::PgPool;
use time::OffsetDateTime;
use tonic::{Request, transport::Channel};
use uuid::Uuid;

/// Events per post in the catch-up backlog: created, 6 likes, 3 comments.
const EVENTS_PER_POST: usize = 10;
/// Rows per raw INSERT statement.
const RAW_BATCH: usize = 1000;
/// Events per commit in the rebuild's event store.
const EVENTS_PER_COMMIT: usize = 100;

#[allow(clippy::print_stdout)]
fn main() -> anyhow::Result<()> {
    let catchup_events = env_number("BENCH_CATCHUP_EVENTS", 100_000)?;
    let rebuild_events = env_number("BENCH_REBUILD_EVENTS", 20_000)?;
    let rate = env_number("BENCH_COMMAND_RATE", 200)?;
    let seconds = env_number("BENCH_SECONDS", 10)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        println!(
            "read-side benchmark: catch-up {catchup_events} events, rebuild {rebuild_events} \
             events, {rate} commands/s for {seconds} s"
        );
        println!(
            "postgres {}  mongo {}  kafka {}",
            testkit::postgres::server_url(),
            testkit::mongo::uri(),
            testkit::kafka::brokers()
        );

        let posts = generate_posts(catchup_events.div_ceil(EVENTS_PER_POST as u64) as usize);
        let events = posts.len();
        println!("\n[1/4] raw batched INSERT of the {events} rows these events produce ...");
        let raw = raw_inserts(&posts).await?;
        println!("  {events} rows in {:.2} s", raw.as_secs_f64());

        println!("\n[2/4] projector catch-up over a backlog of {events} events ...");
        let prefix = produce_backlog(&posts).await?;
        let consumed = raw_consume(&prefix, events).await?;
        println!(
            "  a plain consumer reads the backlog in {:.2} s (the broker's ceiling)",
            consumed.as_secs_f64()
        );
        let catchup = projector_catchup(prefix, &posts).await?;
        println!("  {events} events in {:.2} s", catchup.as_secs_f64());

        println!("\n[3/4] rebuild from the event store ({rebuild_events} events) ...");
        let (rebuilt, rebuild_time) = rebuild(rebuild_events as usize).await?;
        println!("  {rebuilt} events in {:.2} s", rebuild_time.as_secs_f64());

        println!("\n[4/4] command reply to visible, {rate} CreatePost/s for {seconds} s ...");
        let visible = command_to_visible(rate, Duration::from_secs(seconds)).await?;

        let raw_rate = events as f64 / raw.as_secs_f64();
        let catchup_rate = events as f64 / catchup.as_secs_f64();
        println!("\nsummary");
        println!("raw INSERT      {raw_rate:>9.0} rows/s");
        println!(
            "raw consume     {:>9.0} msg/s   (reading the backlog, doing nothing with it)",
            events as f64 / consumed.as_secs_f64()
        );
        println!(
            "catch-up        {catchup_rate:>9.0} ev/s    ratio {:.2} (target >= 0.5)",
            catchup_rate / raw_rate
        );
        println!(
            "rebuild         {:>9.0} ev/s",
            rebuilt as f64 / rebuild_time.as_secs_f64()
        );
        println!(
            "visible after   p50 {:.1} ms  p99 {:.1} ms  max {:.1} ms  ({} commands at {:.0}/s, {} not seen)",
            ms(visible.percentile(50)),
            ms(visible.percentile(99)),
            ms(visible.percentile(100)),
            visible.latencies.len(),
            visible.achieved_rate,
            visible.unseen
        );
        Ok(())
    })
}

fn env_number(name: &str, default: u64) -> anyhow::Result<u64> {
    match std::env::var(name) {
        Ok(v) => v.parse().with_context(|| format!("{name}={v:?}")),
        Err(_) => Ok(default),
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// The backlog: for each post, its ten events in version order, posts interleaved the way many
/// users writing at once would interleave them.
fn generate_posts(post_count: usize) -> Vec<EventEnvelope> {
    let start = OffsetDateTime::now_utc() - time::Duration::days(1);
    let mut per_post: Vec<Vec<EventEnvelope>> = Vec::with_capacity(post_count);
    for n in 0..post_count {
        let mut meta = EnvelopeMeta {
            aggregate_type: "post".into(),
            aggregate_id: Uuid::now_v7(),
            command_id: Uuid::now_v7(),
            correlation_id: Uuid::now_v7(),
            actor: format!("author{}", n % 97),
            occurred_at: start + time::Duration::seconds(n as i64),
        };
        let mut events = Vec::with_capacity(EVENTS_PER_POST);
        for version in 1..=EVENTS_PER_POST as u64 {
            let event = match version {
                1 => PostEvent::PostCreated {
                    author: meta.actor.clone(),
                    message: "A post of ordinary length, a sentence or two of text.".into(),
                },
                2..=7 => PostEvent::PostLiked {
                    user: format!("user{version}"),
                },
                _ => PostEvent::CommentAdded {
                    comment_id: Uuid::now_v7(),
                    author: format!("user{version}"),
                    text: "A comment of ordinary length.".into(),
                },
            };
            meta.command_id = Uuid::now_v7();
            meta.occurred_at += time::Duration::milliseconds(10);
            events.push(EventEnvelope::new(Uuid::now_v7(), version, &meta, &event));
        }
        per_post.push(events);
    }
    // Round-robin over posts in chunks of 100, keeping each post's own order.
    let mut out = Vec::with_capacity(post_count * EVENTS_PER_POST);
    for chunk in per_post.chunks(100) {
        for i in 0..EVENTS_PER_POST {
            out.extend(chunk.iter().map(|events| events[i].clone()));
        }
    }
    out
}

async fn fresh_pool() -> anyhow::Result<(String, PgPool)> {
    let db = testkit::postgres::fresh_database().await;
    MIGRATOR.run(&db.pool).await.context("migrating")?;
    Ok((db.url, db.pool))
}

/// Writes the rows the events produce, in batches, with nothing else: the floor.
async fn raw_inserts(events: &[EventEnvelope]) -> anyhow::Result<Duration> {
    let (_, pool) = fresh_pool().await?;
    let mut posts = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut likes = (Vec::new(), Vec::new(), Vec::new());
    let mut comments = (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for e in events {
        match e.decode::<PostEvent>()? {
            PostEvent::PostCreated { author, message } => {
                posts.0.push(e.aggregate_id);
                posts.1.push(author);
                posts.2.push(message);
                posts.3.push(e.occurred_at);
            }
            PostEvent::PostLiked { user } => {
                likes.0.push(e.aggregate_id);
                likes.1.push(user);
                likes.2.push(e.occurred_at);
            }
            PostEvent::CommentAdded {
                comment_id,
                author,
                text,
            } => {
                comments.0.push(comment_id);
                comments.1.push(e.aggregate_id);
                comments.2.push(author);
                comments.3.push(text);
                comments.4.push(e.occurred_at);
            }
            _ => {}
        }
    }
    let started = Instant::now();
    for i in (0..posts.0.len()).step_by(RAW_BATCH) {
        let r = i..(i + RAW_BATCH).min(posts.0.len());
        sqlx::query(
            "insert into posts (post_id, author, message, created_at, version)
             select *, 1 from unnest($1::uuid[], $2::text[], $3::text[], $4::timestamptz[])",
        )
        .bind(&posts.0[r.clone()])
        .bind(&posts.1[r.clone()])
        .bind(&posts.2[r.clone()])
        .bind(&posts.3[r])
        .execute(&pool)
        .await?;
    }
    for i in (0..likes.0.len()).step_by(RAW_BATCH) {
        let r = i..(i + RAW_BATCH).min(likes.0.len());
        sqlx::query(
            "insert into post_likes (post_id, user_id, liked_at)
             select * from unnest($1::uuid[], $2::text[], $3::timestamptz[])",
        )
        .bind(&likes.0[r.clone()])
        .bind(&likes.1[r.clone()])
        .bind(&likes.2[r])
        .execute(&pool)
        .await?;
    }
    for i in (0..comments.0.len()).step_by(RAW_BATCH) {
        let r = i..(i + RAW_BATCH).min(comments.0.len());
        sqlx::query(
            "insert into comments (comment_id, post_id, author, text, created_at)
             select * from unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::timestamptz[])",
        )
        .bind(&comments.0[r.clone()])
        .bind(&comments.1[r.clone()])
        .bind(&comments.2[r.clone()])
        .bind(&comments.3[r.clone()])
        .bind(&comments.4[r])
        .execute(&pool)
        .await?;
    }
    Ok(started.elapsed())
}

/// Produces the backlog to fresh topics and returns their prefix.
#[allow(clippy::print_stdout)]
async fn produce_backlog(events: &[EventEnvelope]) -> anyhow::Result<String> {
    let prefix = format!("{}.", testkit::unique_name("bench"));
    let topic = format!("{prefix}{}", cqrsplus_domain::topics::POSTS);
    let producer: FutureProducer = testkit::kafka::client_config()
        .set("linger.ms", "5")
        .set("enable.idempotence", "true")
        .create()?;
    let produce_started = Instant::now();
    let mut pending = Vec::with_capacity(events.len());
    for e in events {
        let payload = serde_json::to_vec(e)?;
        let key = e.aggregate_id.to_string();
        loop {
            match producer.send_result(FutureRecord::to(&topic).key(&key).payload(&payload)) {
                Ok(delivery) => {
                    pending.push(delivery);
                    break;
                }
                // Queue full: let deliveries complete.
                Err((_, _)) => tokio::time::sleep(Duration::from_millis(5)).await,
            }
        }
    }
    for delivery in pending {
        delivery
            .await
            .context("delivery cancelled")?
            .map_err(|(e, _)| e)
            .context("producing the backlog")?;
    }
    producer.flush(Duration::from_secs(30))?;
    println!(
        "  backlog produced in {:.2} s",
        produce_started.elapsed().as_secs_f64()
    );
    Ok(prefix)
}

/// Reads the backlog with a plain consumer that does nothing with the messages: the most the
/// broker gives any reader here. Timed from the first message to the last.
async fn raw_consume(prefix: &str, total: usize) -> anyhow::Result<Duration> {
    use futures::StreamExt;
    use rdkafka::consumer::{Consumer, StreamConsumer};
    let consumer: StreamConsumer = testkit::kafka::client_config()
        .set("group.id", testkit::unique_name("bench"))
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "false")
        .create()?;
    let topic = format!("{prefix}{}", cqrsplus_domain::topics::POSTS);
    consumer.subscribe(&[&topic])?;
    let mut stream = consumer.stream();
    let mut first = None;
    let mut seen = 0;
    while seen < total {
        let message = tokio::time::timeout(Duration::from_secs(60), stream.next())
            .await
            .context("raw consumer stalled")?
            .context("stream ended")??;
        first.get_or_insert_with(Instant::now);
        seen += usize::from(rdkafka::Message::payload(&message).is_some());
    }
    Ok(first.map_or(Duration::ZERO, |f| f.elapsed()))
}

/// Lets a query-service project the backlog under `prefix`; times first to last event.
async fn projector_catchup(prefix: String, events: &[EventEnvelope]) -> anyhow::Result<Duration> {
    let (url, pool) = fresh_pool().await?;
    let mut config = Config::ephemeral(&url, &testkit::kafka::brokers(), "http://127.0.0.1:1");
    config.kafka_topic_prefix = prefix;
    let app = Application::build(config).await?;
    let stop = tokio_util::sync::CancellationToken::new();
    let server = tokio::spawn(app.run_until_stopped(stop.clone().cancelled_owned()));
    let total = events.len() as i64;
    let mut first: Option<Instant> = None;
    let deadline = Instant::now() + Duration::from_secs(600);
    let done = loop {
        let applied: i64 = sqlx::query_scalar(
            "select coalesce(sum(version), 0)::int8 from projection_checkpoints",
        )
        .fetch_one(&pool)
        .await?;
        if applied > 0 && first.is_none() {
            first = Some(Instant::now());
        }
        if applied >= total {
            break Instant::now();
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "catch-up stalled at {applied} events"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    stop.cancel();
    server.await??;
    Ok(done - first.unwrap_or(done))
}

/// Fills a fresh event store, starts command-service on it, and rebuilds a fresh read model.
async fn rebuild(events: usize) -> anyhow::Result<(u64, Duration)> {
    let mongo_db = testkit::unique_name("bench");
    let client = testkit::mongo::client().await;
    let db = client.database(&mongo_db);
    let store = MongoEventStore::open(&db, 1_000_000).await?;
    let commits = events.div_ceil(EVENTS_PER_COMMIT);
    for _ in 0..commits {
        let meta = EnvelopeMeta {
            aggregate_type: "post".into(),
            aggregate_id: Uuid::now_v7(),
            command_id: Uuid::now_v7(),
            correlation_id: Uuid::now_v7(),
            actor: "alice".into(),
            occurred_at: OffsetDateTime::now_utc(),
        };
        let envelopes = (1..=EVENTS_PER_COMMIT as u64)
            .map(|version| {
                let event = if version == 1 {
                    PostEvent::PostCreated {
                        author: "alice".into(),
                        message: "rebuild me".into(),
                    }
                } else {
                    PostEvent::PostLiked {
                        user: format!("user{version}"),
                    }
                };
                EventEnvelope::new(Uuid::now_v7(), version, &meta, &event)
            })
            .collect();
        store
            .append(NewCommit {
                stream_id: meta.aggregate_id,
                aggregate_type: "post",
                expected_version: 0,
                after_position: 0,
                command_id: meta.command_id,
                events: envelopes,
                committed_at: OffsetDateTime::now_utc(),
            })
            .await?;
    }
    // The relay of the command-service started below would publish all of it meanwhile; this
    // measurement is about the rebuild only.
    db.collection::<mongodb::bson::Document>("commits")
        .update_many(
            mongodb::bson::doc! {},
            mongodb::bson::doc! {"$set": {"dispatched": true}},
        )
        .await?;
    let mut command_config = command_service::config::Config::ephemeral(
        &testkit::mongo::uri(),
        &mongo_db,
        &testkit::kafka::brokers(),
    );
    command_config.kafka_topic_prefix = format!("{}.", testkit::unique_name("bench"));
    let command_app = command_service::startup::Application::build(command_config).await?;
    let command_url = format!("http://{}", command_app.local_addr());
    tokio::spawn(command_app.run_until_stopped(std::future::pending()));

    let (url, _pool) = fresh_pool().await?;
    let started = Instant::now();
    let (progress, run) = Rebuild {
        database_url: url,
        command_service_url: command_url,
        batch_size: 5000,
    }
    .prepare()
    .await?;
    run.await?;
    let elapsed = started.elapsed();
    let applied = progress.lock().map(|p| p.events_applied).unwrap_or(0);
    Ok((applied, elapsed))
}

struct Visible {
    latencies: Vec<Duration>,
    unseen: usize,
    achieved_rate: f64,
}

impl Visible {
    fn percentile(&self, p: usize) -> Duration {
        if self.latencies.is_empty() {
            return Duration::ZERO;
        }
        let i = ((self.latencies.len() - 1) * p) / 100;
        self.latencies[i]
    }
}

/// Runs both services, sends commands at a steady rate, and measures reply-to-visible.
async fn command_to_visible(rate: u64, duration: Duration) -> anyhow::Result<Visible> {
    let prefix = format!("{}.", testkit::unique_name("bench"));
    let mut command_config = command_service::config::Config::ephemeral(
        &testkit::mongo::uri(),
        &testkit::unique_name("bench"),
        &testkit::kafka::brokers(),
    );
    command_config.kafka_topic_prefix = prefix.clone();
    let command_app = command_service::startup::Application::build(command_config).await?;
    let command_addr = command_app.local_addr();
    tokio::spawn(command_app.run_until_stopped(std::future::pending()));
    let (url, pool) = fresh_pool().await?;
    let mut query_config = Config::ephemeral(
        &url,
        &testkit::kafka::brokers(),
        &format!("http://{command_addr}"),
    );
    query_config.kafka_topic_prefix = prefix;
    let query_app = Application::build(query_config).await?;
    tokio::spawn(query_app.run_until_stopped(std::future::pending()));
    let channel = Channel::from_shared(format!("http://{command_addr}"))?
        .connect()
        .await?;
    let client = CommandServiceClient::new(channel);

    // Warm up: the consumer group's first assignment takes seconds; wait until a post shows.
    let (warm_id, _) = create_post(&mut client.clone()).await?;
    let warm_deadline = Instant::now() + Duration::from_secs(60);
    while visible_version(&pool, warm_id).await? < 1 {
        anyhow::ensure!(
            Instant::now() < warm_deadline,
            "the projector never started"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    let pending: Arc<Mutex<HashMap<Uuid, Instant>>> = Arc::default();
    let latencies: Arc<Mutex<Vec<Duration>>> = Arc::default();
    let stop_watch = tokio_util::sync::CancellationToken::new();
    let watcher = tokio::spawn(watch(
        pool.clone(),
        pending.clone(),
        latencies.clone(),
        stop_watch.clone(),
    ));
    let mut ticker = tokio::time::interval(Duration::from_secs_f64(1.0 / rate as f64));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let started = Instant::now();
    let mut sent = Vec::new();
    while started.elapsed() < duration {
        ticker.tick().await;
        let mut client = client.clone();
        let pending = pending.clone();
        sent.push(tokio::spawn(async move {
            if let Ok((id, _)) = create_post(&mut client).await {
                pending
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .insert(id, Instant::now());
            }
        }));
    }
    let count = sent.len();
    for task in sent {
        task.await?;
    }
    let achieved_rate = count as f64 / started.elapsed().as_secs_f64();
    // Let the last ones arrive.
    let drain_deadline = Instant::now() + Duration::from_secs(30);
    while !pending.lock().unwrap_or_else(|e| e.into_inner()).is_empty()
        && Instant::now() < drain_deadline
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    stop_watch.cancel();
    watcher.await??;
    let mut latencies = std::mem::take(&mut *latencies.lock().unwrap_or_else(|e| e.into_inner()));
    latencies.sort();
    let unseen = pending.lock().unwrap_or_else(|e| e.into_inner()).len();
    Ok(Visible {
        latencies,
        unseen,
        achieved_rate,
    })
}

async fn create_post(client: &mut CommandServiceClient<Channel>) -> anyhow::Result<(Uuid, u64)> {
    let mut request = Request::new(pb::CreatePostRequest {
        message: "measuring how soon this shows".into(),
        ..Default::default()
    });
    request
        .metadata_mut()
        .insert(error_code::ACTOR_METADATA, "bench".parse()?);
    let result = client
        .create_post(request)
        .await?
        .into_inner()
        .result
        .context("no result")?;
    Ok((result.aggregate_id.parse()?, result.version))
}

async fn visible_version(pool: &PgPool, id: Uuid) -> anyhow::Result<i64> {
    Ok(
        sqlx::query_scalar("select version from projection_checkpoints where aggregate_id = $1")
            .bind(id)
            .fetch_optional(pool)
            .await?
            .unwrap_or(0),
    )
}

/// Every 2 ms: which pending posts have reached the read model.
async fn watch(
    pool: PgPool,
    pending: Arc<Mutex<HashMap<Uuid, Instant>>>,
    latencies: Arc<Mutex<Vec<Duration>>>,
    stop: tokio_util::sync::CancellationToken,
) -> anyhow::Result<()> {
    while !stop.is_cancelled() {
        let ids: Vec<Uuid> = pending
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .keys()
            .copied()
            .collect();
        if !ids.is_empty() {
            let seen: Vec<Uuid> = sqlx::query_scalar(
                "select aggregate_id from projection_checkpoints where aggregate_id = any($1)",
            )
            .bind(&ids)
            .fetch_all(&pool)
            .await?;
            let now = Instant::now();
            let mut pending = pending.lock().unwrap_or_else(|e| e.into_inner());
            let mut latencies = latencies.lock().unwrap_or_else(|e| e.into_inner());
            for id in seen {
                if let Some(replied) = pending.remove(&id) {
                    latencies.push(now.saturating_duration_since(replied));
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    Ok(())
}
