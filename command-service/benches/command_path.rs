//! How fast the command side runs next to the raw servers it sits on, measured in one run.
//!
//! Three pairs, each measured against the same local servers within minutes of each other:
//!
//! 1. **Command path vs raw Mongo.** `EditPost` through gRPC into an in-process command-service
//!    (16 concurrent clients, each on its own post, for `BENCH_SECONDS`), next to 16 tasks doing
//!    nothing but `insert_one` of a commit-shaped document into a fresh collection. A command can
//!    never beat one insert (the commit IS one insert), so the ratio says how much of the Mongo
//!    budget the rest of a command (loading, snapshots, the relay reading and marking the same
//!    commits alongside, gRPC) costs.
//! 2. **Relay vs raw producer.** A backlog of `BENCH_RELAY_EVENTS` single-event commits drained by
//!    a `Relay`, next to an idempotent rdkafka producer (acks=all) sending as many messages of the
//!    same size to a fresh topic, and next to the event store's share alone (reading and marking
//!    the same backlog with the relay's queries, nothing published), which bounds the relay
//!    from the other side. The relay has to read the commits and mark them dispatched as
//!    well, so the ratio says how much of the broker's rate survives that bookkeeping.
//!
//! Ratios, not absolute rates, are what to compare between runs and machines: the machine is small
//! and shared, so the same code gives rates that differ by tens of percent from one run to the
//! next, while both sides of a pair move together. Nothing here asserts a speed; it prints figures.
//!
//! Needs the servers of `scripts/infra.sh up` (`TEST_MONGODB_URI`, `TEST_KAFKA_BROKERS`).
//! Run with `cargo bench -p command-service --bench command_path`.

use std::{
    collections::BTreeMap,
    sync::Arc,
    time::{Duration, Instant},
};

use anyhow::Context;
use command_service::{
    config::Config,
    outbox::{Relay, RelayConfig},
    startup::Application,
    store::{
        EventStore, MongoEventStore, NewCommit,
        commit::{CommitDocument, StoredEvent},
    },
};
use cqrsplus_domain::{EnvelopeMeta, EventEnvelope, post::PostEvent};
use cqrsplus_proto::{
    command::v1::{self as pb, command_service_client::CommandServiceClient},
    error_code,
};
use mongodb::{
    Collection, Database, IndexModel,
    bson::{DateTime, Document, doc},
    options::IndexOptions,
};
use rdkafka::{
    error::{KafkaError, RDKafkaErrorCode},
    message::{Header, OwnedHeaders},
    producer::{FutureProducer, FutureRecord, Producer},
};
use time::OffsetDateTime;
use tokio::sync::Barrier;
use tokio_util::sync::CancellationToken;
use tonic::{Request, transport::Channel};
use uuid::Uuid;

/// Concurrent clients (commands), tasks (raw inserts, appends) alike.
const CONCURRENCY: usize = 16;
/// Aggregates each append task spreads its commits over (so 16 × 8 streams in the backlog).
const STREAMS_PER_APPEND_TASK: usize = 8;
/// Commits the relay reads per round.
const RELAY_BATCH_SIZE: i64 = 500;
/// Longest wait for the relay to drain the backlog before giving up on the measurement.
const RELAY_DEADLINE: Duration = Duration::from_secs(120);
/// A message of the length an edited post typically has.
const MESSAGE: &str = "An edited post: a sentence or two of ordinary text, as people write them.";

#[allow(clippy::print_stdout)]
fn main() -> anyhow::Result<()> {
    let seconds = env_number("BENCH_SECONDS", 10)?;
    let relay_events = env_number("BENCH_RELAY_EVENTS", 5000)?;
    let duration = Duration::from_secs(seconds);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        println!(
            "command-side benchmark: {CONCURRENCY} clients, {seconds} s per timed phase, \
             {relay_events} relay events"
        );
        println!(
            "mongo {}  kafka {}",
            testkit::mongo::uri(),
            testkit::kafka::brokers()
        );

        println!("\n[1/5] command path: EditPost over gRPC ...");
        let commands = command_path(duration).await?;
        commands.print();

        println!("\n[2/5] raw mongo: insert_one of commit-shaped documents ...");
        let inserts = raw_mongo_inserts(duration).await?;
        inserts.print("inserts");

        println!("\n[3/5] relay: draining a backlog of {relay_events} single-event commits ...");
        let relay = relay_drain(relay_events).await?;
        relay.print();

        println!("\n[4/5] raw producer: {relay_events} messages, idempotent, acks=all ...");
        let produced = raw_producer(relay_events, relay.payload_len).await?;
        produced.print("messages");

        println!(
            "\n[5/5] raw outbox bookkeeping: read and mark {relay_events} commits, \
             {RELAY_BATCH_SIZE} at a time, no broker ..."
        );
        let bookkeeping = raw_bookkeeping(relay_events).await?;
        bookkeeping.print("commits read and marked");

        let command_rate = commands.rate();
        let insert_rate = inserts.rate();
        let relay_rate = relay.rate();
        let producer_rate = produced.rate();
        println!("\nsummary");
        println!(
            "command path  {command_rate:>9.1} cmd/s   p50 {:.1} ms  p99 {:.1} ms  max {:.1} ms  \
             errors {}",
            ms(commands.percentile(50)),
            ms(commands.percentile(99)),
            ms(commands.percentile(100)),
            commands.error_count()
        );
        println!(
            "raw mongo     {insert_rate:>9.1} ins/s   ratio {:.2} (target >= 0.5)  errors {}",
            ratio(command_rate, insert_rate),
            inserts.errors
        );
        println!(
            "relay         {relay_rate:>9.1} ev/s    {}",
            if relay.drained {
                "drained".to_owned()
            } else {
                format!(
                    "NOT drained: {} commits left after {:?}",
                    relay.left, RELAY_DEADLINE
                )
            }
        );
        println!(
            "raw producer  {producer_rate:>9.1} msg/s   ratio {:.2} (target >= 0.5)  errors {}",
            ratio(relay_rate, producer_rate),
            produced.errors
        );
        // The relay's rate once running (its first round done), like the raw producer's, which
        // is timed from its first send with the client and topic already created.
        let warm_rate = relay.warm_rate();
        println!(
            "relay, warm   {warm_rate:>9.1} ev/s    ratio {:.2} to the raw producer",
            ratio(warm_rate, producer_rate)
        );
        // What the event store allows: every relayed commit must be read and marked, so the
        // relay can never beat this, whatever the broker does.
        let bookkeeping_rate = bookkeeping.rate();
        println!(
            "raw bookkeeping {bookkeeping_rate:>7.1} commits/s ratio {:.2} of it reached by the \
             relay (warm {:.2})",
            ratio(relay_rate, bookkeeping_rate),
            ratio(warm_rate, bookkeeping_rate)
        );
        Ok(())
    })
}

// ---------------------------------------------------------------------------------------------
// 1. Commands through gRPC

/// What the command clients saw.
struct CommandFigures {
    /// Latency of every successful timed command.
    latencies: Vec<Duration>,
    /// From the common start to the last client's last reply.
    elapsed: Duration,
    /// Failures by gRPC code (timed loop and set-up alike), with the first message of each.
    errors: BTreeMap<String, (usize, String)>,
    snapshot_every: u64,
}

impl CommandFigures {
    fn rate(&self) -> f64 {
        per_second(self.latencies.len() as u64, self.elapsed)
    }

    fn error_count(&self) -> usize {
        self.errors.values().map(|(n, _)| n).sum()
    }

    /// Nearest-rank percentile of the latencies (100 = the maximum).
    fn percentile(&self, p: usize) -> Duration {
        percentile(&self.latencies, p)
    }

    #[allow(clippy::print_stdout)]
    fn print(&self) {
        println!(
            "  {} commands in {:.2} s = {:.1} cmd/s (snapshot every {} events)",
            self.latencies.len(),
            self.elapsed.as_secs_f64(),
            self.rate(),
            self.snapshot_every
        );
        println!(
            "  latency p50 {:.1} ms  p90 {:.1} ms  p99 {:.1} ms  max {:.1} ms",
            ms(self.percentile(50)),
            ms(self.percentile(90)),
            ms(self.percentile(99)),
            ms(self.percentile(100))
        );
        println!("  errors {}", self.error_count());
        for (code, (count, first)) in &self.errors {
            println!("    {count} × {code}: {first}");
        }
    }
}

/// One client's share.
#[derive(Default)]
struct ClientFigures {
    latencies: Vec<Duration>,
    errors: Vec<tonic::Status>,
    finished: Option<Instant>,
}

/// Starts command-service in-process on a fresh database, lets each client create its post,
/// then has all of them edit their own post in a loop for `duration`.
async fn command_path(duration: Duration) -> anyhow::Result<CommandFigures> {
    let database = testkit::unique_name("bench");
    let mut config = Config::ephemeral(
        &testkit::mongo::uri(),
        &database,
        &testkit::kafka::brokers(),
    );
    config.kafka_topic_prefix = format!("{}.", testkit::unique_name("bench"));
    let snapshot_every = config.snapshot_every;
    let app = Application::build(config)
        .await
        .context("building command-service")?;
    let url = format!("http://{}", app.local_addr());
    let stop = CancellationToken::new();
    let server = tokio::spawn(app.run_until_stopped(stop.clone().cancelled_owned()));

    let start_line = Arc::new(Barrier::new(CONCURRENCY + 1));
    let mut clients = Vec::with_capacity(CONCURRENCY);
    for index in 0..CONCURRENCY {
        // One connection per client, as separate client processes would have.
        let channel = Channel::from_shared(url.clone())?
            .connect()
            .await
            .context("connecting to command-service")?;
        let client = CommandServiceClient::new(channel);
        let start_line = start_line.clone();
        clients.push(tokio::spawn(edit_own_post(
            client, index, start_line, duration,
        )));
    }
    start_line.wait().await;
    let started = Instant::now();

    let mut latencies = Vec::new();
    let mut errors: BTreeMap<String, (usize, String)> = BTreeMap::new();
    let mut last_reply = started;
    for client in clients {
        let figures = client.await.context("command client task")?;
        latencies.extend(figures.latencies);
        last_reply = last_reply.max(figures.finished.unwrap_or(started));
        for status in figures.errors {
            let entry = errors
                .entry(format!("{:?}", status.code()))
                .or_insert_with(|| (0, status.message().to_owned()));
            entry.0 += 1;
        }
    }
    latencies.sort_unstable();

    stop.cancel();
    tokio::time::timeout(Duration::from_secs(30), server)
        .await
        .context("command-service did not stop within 30 s")?
        .context("command-service task")?
        .context("command-service failed")?;
    drop_database(&database).await;
    Ok(CommandFigures {
        latencies,
        elapsed: last_reply - started,
        errors,
        snapshot_every,
    })
}

/// One client: creates its post (untimed), waits for the others, then edits it until `duration`
/// has passed since the common start.
async fn edit_own_post(
    mut client: CommandServiceClient<Channel>,
    index: usize,
    start_line: Arc<Barrier>,
    duration: Duration,
) -> ClientFigures {
    let author = format!("bench-author-{index}");
    let mut figures = ClientFigures::default();
    let created = client
        .create_post(as_actor(
            &author,
            pb::CreatePostRequest {
                message: MESSAGE.to_owned(),
                ..Default::default()
            },
        ))
        .await;
    let post_id = match created {
        Ok(reply) => reply.into_inner().result.map(|r| r.aggregate_id),
        Err(status) => {
            figures.errors.push(status);
            None
        }
    };
    start_line.wait().await;
    let Some(post_id) = post_id else {
        return figures;
    };
    let deadline = Instant::now() + duration;
    let mut edit = 0_u64;
    while Instant::now() < deadline {
        edit += 1;
        let request = as_actor(
            &author,
            pb::EditPostRequest {
                options: None,
                post_id: post_id.clone(),
                message: format!("{MESSAGE} (edit {edit})"),
            },
        );
        let sent = Instant::now();
        match client.edit_post(request).await {
            Ok(_) => figures.latencies.push(sent.elapsed()),
            Err(status) => figures.errors.push(status),
        }
    }
    figures.finished = Some(Instant::now());
    figures
}

fn as_actor<T>(actor: &str, message: T) -> Request<T> {
    let mut request = Request::new(message);
    if let Ok(value) = actor.parse() {
        request
            .metadata_mut()
            .insert(error_code::ACTOR_METADATA, value);
    }
    request
}

// ---------------------------------------------------------------------------------------------
// 2. Raw inserts on the same Mongo server

/// A count over a timed phase, with its failures.
struct Throughput {
    count: u64,
    elapsed: Duration,
    errors: u64,
    first_error: Option<String>,
}

impl Throughput {
    fn rate(&self) -> f64 {
        per_second(self.count, self.elapsed)
    }

    #[allow(clippy::print_stdout)]
    fn print(&self, what: &str) {
        println!(
            "  {} {what} in {:.2} s = {:.1}/s  errors {}",
            self.count,
            self.elapsed.as_secs_f64(),
            self.rate(),
            self.errors
        );
        if let Some(first) = &self.first_error {
            println!("    first error: {first}");
        }
    }
}

/// 16 tasks inserting commit documents (one PostEdited envelope each, each task on its own
/// stream) into a fresh `commits` collection with the (stream_id, first_version) unique index.
/// Same driver defaults (pool size) as the service's client.
async fn raw_mongo_inserts(duration: Duration) -> anyhow::Result<Throughput> {
    let database = testkit::unique_name("bench");
    let db = testkit::mongo::client().await.database(&database);
    let commits: Collection<CommitDocument> = db.collection("commits");
    commits
        .create_index(
            IndexModel::builder()
                .keys(doc! { "stream_id": 1, "first_version": 1 })
                .options(IndexOptions::builder().unique(true).build())
                .build(),
        )
        .await
        .context("creating the unique index")?;

    let start_line = Arc::new(Barrier::new(CONCURRENCY + 1));
    let mut tasks = Vec::with_capacity(CONCURRENCY);
    for index in 0..CONCURRENCY {
        let commits = commits.clone();
        let start_line = start_line.clone();
        tasks.push(tokio::spawn(async move {
            let stream = Uuid::now_v7();
            start_line.wait().await;
            let deadline = Instant::now() + duration;
            let mut figures = (0_u64, 0_u64, None::<String>);
            let mut version = 0_u64;
            while Instant::now() < deadline {
                version += 1;
                let position = (index as i64) * 1_000_000_000 + version as i64;
                let document = match commit_document(stream, version, position) {
                    Ok(document) => document,
                    Err(e) => {
                        figures.1 += 1;
                        figures.2.get_or_insert(e);
                        continue;
                    }
                };
                match commits.insert_one(&document).await {
                    Ok(_) => figures.0 += 1,
                    Err(e) => {
                        figures.1 += 1;
                        figures.2.get_or_insert(e.to_string());
                    }
                }
            }
            (figures, Instant::now())
        }));
    }
    start_line.wait().await;
    let started = Instant::now();
    let mut total = Throughput {
        count: 0,
        elapsed: Duration::ZERO,
        errors: 0,
        first_error: None,
    };
    let mut last = started;
    for task in tasks {
        let ((count, errors, first_error), finished) = task.await.context("insert task")?;
        total.count += count;
        total.errors += errors;
        total.first_error = total.first_error.or(first_error);
        last = last.max(finished);
    }
    total.elapsed = last - started;
    drop_database(&database).await;
    Ok(total)
}

/// A commit document exactly as the event store writes it: one PostEdited envelope.
fn commit_document(stream: Uuid, version: u64, position: i64) -> Result<CommitDocument, String> {
    let envelope = edited_envelope(stream, version);
    let event = StoredEvent::from_envelope(&envelope).map_err(|e| e.to_string())?;
    Ok(CommitDocument {
        id: position,
        position,
        stream_id: stream.to_string(),
        aggregate_type: "post".to_owned(),
        first_version: version as i64,
        last_version: version as i64,
        command_id: envelope.command_id.to_string(),
        events: vec![event],
        committed_at: DateTime::now(),
        dispatched: false,
    })
}

/// The envelope of a post edit, as the command path produces it.
fn edited_envelope(stream: Uuid, version: u64) -> EventEnvelope {
    let command_id = Uuid::now_v7();
    let meta = EnvelopeMeta {
        aggregate_type: "post".to_owned(),
        aggregate_id: stream,
        command_id,
        correlation_id: command_id,
        actor: "bench-author".to_owned(),
        occurred_at: OffsetDateTime::now_utc(),
    };
    EventEnvelope::new(
        Uuid::now_v7(),
        version,
        &meta,
        &PostEvent::PostEdited {
            message: format!("{MESSAGE} (edit {version})"),
        },
    )
}

// ---------------------------------------------------------------------------------------------
// 3. The relay draining a backlog

/// How the relay did.
struct RelayFigures {
    events: u64,
    /// Appending the backlog (no relay running).
    append: Throughput,
    /// From starting the relay to an empty backlog (or to giving up).
    elapsed: Duration,
    /// From starting the relay to the first commit marked dispatched.
    first_progress: Option<Duration>,
    /// Commits already dispatched when the first one was seen dispatched.
    dispatched_at_first_progress: u64,
    drained: bool,
    /// Commits still undispatched when the measurement ended.
    left: u64,
    /// Bytes of one event's Kafka payload (the JSON envelope), for the raw producer.
    payload_len: usize,
}

impl RelayFigures {
    fn rate(&self) -> f64 {
        if self.drained {
            per_second(self.events, self.elapsed)
        } else {
            0.0
        }
    }

    /// Events per second after the first observed dispatch: without the relay's start (lease,
    /// topics, producer connection) and its first round.
    fn warm_rate(&self) -> f64 {
        match self.first_progress {
            Some(first) if self.drained => per_second(
                self.events
                    .saturating_sub(self.dispatched_at_first_progress),
                self.elapsed.saturating_sub(first),
            ),
            _ => 0.0,
        }
    }

    #[allow(clippy::print_stdout)]
    fn print(&self) {
        self.append.print("commits appended (setup, no relay)");
        match self.first_progress {
            Some(first) => println!(
                "  first commit dispatched after {:.0} ms ({} by then); warm: {:.1} ev/s",
                ms(first),
                self.dispatched_at_first_progress,
                self.warm_rate()
            ),
            None => println!("  first dispatch not observed"),
        }
        if self.drained {
            println!(
                "  {} events relayed in {:.2} s = {:.1} ev/s (payload {} bytes)",
                self.events,
                self.elapsed.as_secs_f64(),
                self.rate(),
                self.payload_len
            );
        } else {
            println!(
                "  NOT drained: {} of the commits were still undispatched after {:.2} s",
                self.left,
                self.elapsed.as_secs_f64()
            );
        }
    }
}

/// Appends `events` single-event commits with 16 tasks while no relay runs, then starts one and
/// times it until nothing is left undispatched.
async fn relay_drain(events: u64) -> anyhow::Result<RelayFigures> {
    let (database, store, append) = store_with_backlog(events).await?;
    let payload_len = serde_json::to_vec(&edited_envelope(Uuid::now_v7(), 2))?.len();

    let config = RelayConfig {
        brokers: testkit::kafka::brokers(),
        topic_partitions: 3,
        // Topics of this run only, so the backlog never reaches a running stack's projector.
        topic_prefix: format!("{}.", testkit::unique_name("bench")),
        batch_size: RELAY_BATCH_SIZE,
        lease_ttl: Duration::from_secs(10),
        max_poll_interval: Duration::from_millis(200),
        instance_id: testkit::unique_name("bench-relay"),
    };
    let relay = Relay::new(store.clone(), config.clone()).context("creating the relay")?;
    // A second handle only to read the backlog, as the tests do. Polling `backlog()` itself
    // would add its two queries to the server the relay being measured uses, so the clock is
    // watched with two cheap look-ups, and `backlog()` confirms the end.
    let inspector = Relay::new(store.clone(), config).context("creating the inspecting relay")?;
    let commits = store.commits().clone_with_type::<Document>();
    let oldest = commits
        .find_one(doc! { "dispatched": false })
        .sort(doc! { "position": 1 })
        .await?
        .and_then(|commit| commit.get("position").cloned());

    let shutdown = CancellationToken::new();
    let started = Instant::now();
    let running = tokio::spawn(relay.run(shutdown.clone()));
    let mut first_progress = None;
    let mut dispatched_at_first_progress = 0;
    let mut pending = oldest.is_some();
    while pending && started.elapsed() < RELAY_DEADLINE {
        tokio::time::sleep(Duration::from_millis(50)).await;
        if first_progress.is_none()
            && let Some(position) = &oldest
            && commits
                .find_one(doc! { "position": position, "dispatched": true })
                .await?
                .is_some()
        {
            first_progress = Some(started.elapsed());
            let left = store.undispatched_count().await?;
            dispatched_at_first_progress = append.count.saturating_sub(left);
        }
        pending = commits
            .find_one(doc! { "dispatched": false })
            .await?
            .is_some();
    }
    let elapsed = started.elapsed();
    shutdown.cancel();
    tokio::time::timeout(Duration::from_secs(30), running)
        .await
        .context("relay did not stop within 30 s")?
        .context("relay task")?;
    let left = inspector.backlog().await?.commits;
    drop_blocking(inspector);
    drop_database(&database).await;
    Ok(RelayFigures {
        events: append.count,
        append,
        elapsed,
        first_progress,
        dispatched_at_first_progress,
        drained: left == 0,
        left,
        payload_len,
    })
}

/// A fresh bench database (its name is returned for dropping) whose event store holds a
/// backlog of `commits` undispatched single-event commits.
async fn store_with_backlog(commits: u64) -> anyhow::Result<(String, MongoEventStore, Throughput)> {
    let database = testkit::unique_name("bench");
    let db = testkit::mongo::client().await.database(&database);
    let store = MongoEventStore::open(&db, 0)
        .await
        .context("opening the event store")?;
    let appended = append_backlog(&store, commits).await?;
    Ok((database, store, appended))
}

/// Appends `events` single-event commits with `EventStore::append`, 16 tasks each spreading
/// theirs round-robin over its own streams.
async fn append_backlog(store: &MongoEventStore, events: u64) -> anyhow::Result<Throughput> {
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(CONCURRENCY);
    for index in 0..CONCURRENCY as u64 {
        let store = store.clone();
        let share = events / CONCURRENCY as u64 + u64::from(index < events % CONCURRENCY as u64);
        tasks.push(tokio::spawn(async move {
            let mut streams: Vec<(Uuid, u64)> = (0..STREAMS_PER_APPEND_TASK)
                .map(|_| (Uuid::now_v7(), 0))
                .collect();
            let mut figures = (0_u64, 0_u64, None::<String>);
            for n in 0..share {
                let (stream, version) = &mut streams[n as usize % STREAMS_PER_APPEND_TASK];
                let envelope = edited_envelope(*stream, *version + 1);
                let appended = store
                    .append(NewCommit {
                        stream_id: *stream,
                        aggregate_type: "post",
                        expected_version: *version,
                        after_position: 0,
                        command_id: envelope.command_id,
                        events: vec![envelope],
                        committed_at: OffsetDateTime::now_utc(),
                    })
                    .await;
                match appended {
                    Ok(appended) => {
                        *version = appended.last_version;
                        figures.0 += 1;
                    }
                    Err(e) => {
                        figures.1 += 1;
                        figures.2.get_or_insert(e.to_string());
                    }
                }
            }
            figures
        }));
    }
    let mut total = Throughput {
        count: 0,
        elapsed: Duration::ZERO,
        errors: 0,
        first_error: None,
    };
    for task in tasks {
        let (count, errors, first_error) = task.await.context("append task")?;
        total.count += count;
        total.errors += errors;
        total.first_error = total.first_error.or(first_error);
    }
    total.elapsed = started.elapsed();
    Ok(total)
}

// ---------------------------------------------------------------------------------------------
// 4. The raw producer on the same broker

/// Sends `messages` messages of `payload_len` bytes (a real serialized envelope, padded or cut to
/// that length), keyed and with the relay's two headers, to a fresh 3-partition topic with an
/// idempotent acks=all producer, and waits for every delivery.
async fn raw_producer(messages: u64, payload_len: usize) -> anyhow::Result<Throughput> {
    let topic = testkit::kafka::fresh_topic(3).await;
    let producer: FutureProducer = testkit::kafka::client_config()
        .set("client.id", testkit::unique_name("bench-producer"))
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .set("message.timeout.ms", "10000")
        .create()
        .context("creating the producer")?;
    let keys: Vec<String> = (0..CONCURRENCY * STREAMS_PER_APPEND_TASK)
        .map(|_| Uuid::now_v7().to_string())
        .collect();
    let mut payload = serde_json::to_vec(&edited_envelope(Uuid::now_v7(), 2))?;
    payload.resize(payload_len, b' ');

    let started = Instant::now();
    let mut deliveries = Vec::with_capacity(messages as usize);
    let mut errors = 0_u64;
    let mut first_error = None;
    for n in 0..messages {
        let event_id = Uuid::now_v7().to_string();
        let key = &keys[n as usize % keys.len()];
        loop {
            let headers = OwnedHeaders::new()
                .insert(Header {
                    key: "event_id",
                    value: Some(&event_id),
                })
                .insert(Header {
                    key: "event_type",
                    value: Some("PostEdited"),
                });
            let record = FutureRecord::to(&topic)
                .key(key)
                .payload(&payload)
                .headers(headers);
            match producer.send_result(record) {
                Ok(delivery) => {
                    deliveries.push(delivery);
                    break;
                }
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), _)) => {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
                Err((e, _)) => {
                    errors += 1;
                    first_error.get_or_insert(e.to_string());
                    break;
                }
            }
        }
    }
    let mut count = 0;
    for delivery in deliveries {
        match delivery.await {
            Ok(Ok(_)) => count += 1,
            Ok(Err((e, _))) => {
                errors += 1;
                first_error.get_or_insert(e.to_string());
            }
            Err(_) => {
                errors += 1;
                first_error.get_or_insert("delivery cancelled".to_owned());
            }
        }
    }
    let elapsed = started.elapsed();
    tokio::task::spawn_blocking(move || {
        let _ = producer.flush(Duration::from_secs(5));
        drop(producer);
    })
    .await?;
    Ok(Throughput {
        count,
        elapsed,
        errors,
        first_error,
    })
}

// ---------------------------------------------------------------------------------------------
// 5. The event store's share of relaying, alone

/// The event store's side of relaying, alone: a backlog like the relay's, read in store order
/// and marked dispatched round by round with the same queries, nothing published.
async fn raw_bookkeeping(commits: u64) -> anyhow::Result<Throughput> {
    let (database, store, appended) = store_with_backlog(commits).await?;
    let started = Instant::now();
    let mut count = 0;
    loop {
        let round = store.undispatched(RELAY_BATCH_SIZE, &[]).await?;
        if round.is_empty() {
            break;
        }
        let positions: Vec<i64> = round.iter().map(|commit| commit.position).collect();
        count += store.mark_dispatched(positions).await?;
    }
    let elapsed = started.elapsed();
    drop_database(&database).await;
    Ok(Throughput {
        count,
        elapsed,
        errors: appended.errors,
        first_error: appended.first_error,
    })
}

// ---------------------------------------------------------------------------------------------
// helpers

fn env_number(name: &str, default: u64) -> anyhow::Result<u64> {
    match std::env::var(name) {
        Ok(value) => value
            .trim()
            .parse()
            .with_context(|| format!("{name}={value:?} is not a whole number")),
        Err(_) => Ok(default),
    }
}

fn per_second(count: u64, elapsed: Duration) -> f64 {
    if elapsed.is_zero() {
        0.0
    } else {
        count as f64 / elapsed.as_secs_f64()
    }
}

fn ratio(part: f64, whole: f64) -> f64 {
    if whole > 0.0 { part / whole } else { 0.0 }
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

/// Nearest-rank percentile of sorted values; zero when there are none.
fn percentile(sorted: &[Duration], p: usize) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = (sorted.len() * p).div_ceil(100).max(1);
    sorted[rank.min(sorted.len()) - 1]
}

/// Drops a benchmark database; a failure is reported, not fatal.
#[allow(clippy::print_stdout)]
async fn drop_database(name: &str) {
    let db: Database = testkit::mongo::client().await.database(name);
    if let Err(e) = db.drop().await {
        println!("  (database {name} not dropped: {e})");
    }
}

/// Kafka clients join threads when dropped: keep that off the async workers.
fn drop_blocking<T: Send + 'static>(value: T) {
    tokio::task::spawn_blocking(move || drop(value));
}
