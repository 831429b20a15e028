//! The outbox relay against the real servers: MongoDB-wire event store, Kafka-protocol broker.
//!
//! The event topics are shared by every test (their names are fixed), so each test reads only
//! messages produced after it started and keeps only those of its own aggregate ids.

mod support;

use std::{
    collections::{HashMap, HashSet},
    future::Future,
    time::{Duration, Instant},
};

use command_service::{
    outbox::{OUTBOX_LEASE_ID, RELAY_LEASES, Relay, RelayConfig},
    store::{EventStore, MongoEventStore, NewCommit},
};
use cqrsplus_domain::{
    EnvelopeMeta, EventEnvelope, customer::CustomerEvent, order::OrderEvent, post::PostEvent,
    topics,
};
use mongodb::{
    Database,
    bson::{Document, doc},
};
use rdkafka::{
    Message,
    consumer::{Consumer, StreamConsumer},
    message::Headers,
};
use support::Logs;
use testkit::broker::{PrivateBroker, Start};
use time::OffsetDateTime;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

const LEASE_TTL: Duration = Duration::from_secs(2);

/// The event topics of this test process (see `testkit::kafka::topic_prefix`).
fn test_topics() -> [String; 3] {
    topics::prefixed(testkit::kafka::topic_prefix())
}

fn config(brokers: &str, batch_size: i64) -> RelayConfig {
    RelayConfig {
        brokers: brokers.to_owned(),
        topic_partitions: 3,
        // This test process's own topics: no other test (nor a running stack) reads them.
        topic_prefix: testkit::kafka::topic_prefix().to_owned(),
        batch_size,
        lease_ttl: LEASE_TTL,
        max_poll_interval: Duration::from_millis(200),
        instance_id: testkit::unique_name("relay"),
    }
}

async fn open_store() -> (Database, MongoEventStore) {
    let db = testkit::mongo::fresh_database().await;
    let store = MongoEventStore::open(&db, 0)
        .await
        .expect("open event store");
    (db, store)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Post,
    Customer,
    Order,
}

impl Kind {
    fn aggregate_type(self) -> &'static str {
        match self {
            Kind::Post => "post",
            Kind::Customer => "customer",
            Kind::Order => "order",
        }
    }
}

/// The event at `version` of a stream; the relay does not judge events, so any sequence will do.
fn envelope(kind: Kind, id: Uuid, version: u64, command_id: Uuid) -> EventEnvelope {
    let meta = EnvelopeMeta {
        aggregate_type: kind.aggregate_type().to_owned(),
        aggregate_id: id,
        command_id,
        correlation_id: command_id,
        actor: "tester".to_owned(),
        occurred_at: OffsetDateTime::now_utc(),
    };
    let event_id = Uuid::now_v7();
    match kind {
        Kind::Post if version == 1 => EventEnvelope::new(
            event_id,
            version,
            &meta,
            &PostEvent::PostCreated {
                author: "tester".to_owned(),
                message: "hello".to_owned(),
            },
        ),
        Kind::Post => EventEnvelope::new(
            event_id,
            version,
            &meta,
            &PostEvent::PostLiked {
                user: format!("user-{version}"),
            },
        ),
        Kind::Customer => {
            let details = (
                format!("Customer {version}"),
                format!("c{version}@example.com"),
            );
            let event = if version == 1 {
                CustomerEvent::CustomerRegistered {
                    name: details.0,
                    email: details.1,
                    phone: None,
                    segment: "retail".to_owned(),
                    region: "north".to_owned(),
                }
            } else {
                CustomerEvent::CustomerUpdated {
                    name: details.0,
                    email: details.1,
                    phone: None,
                    segment: "retail".to_owned(),
                    region: "north".to_owned(),
                }
            };
            EventEnvelope::new(event_id, version, &meta, &event)
        }
        Kind::Order => EventEnvelope::new(
            event_id,
            version,
            &meta,
            &OrderEvent::OrderCancelled {
                reason: format!("reason {version}"),
            },
        ),
    }
}

/// A stream the test writes to, and how far it got.
#[derive(Debug, Clone, Copy)]
struct Stream {
    kind: Kind,
    id: Uuid,
    version: u64,
}

impl Stream {
    fn new(kind: Kind) -> Self {
        Self {
            kind,
            id: Uuid::now_v7(),
            version: 0,
        }
    }

    /// Appends one commit of `events` events; returns its position.
    async fn append(&mut self, store: &MongoEventStore, events: u64) -> i64 {
        self.append_as(store, self.kind.aggregate_type(), events)
            .await
    }

    async fn append_as(
        &mut self,
        store: &MongoEventStore,
        aggregate_type: &'static str,
        events: u64,
    ) -> i64 {
        let command_id = Uuid::now_v7();
        let envelopes = (self.version + 1..=self.version + events)
            .map(|v| envelope(self.kind, self.id, v, command_id))
            .collect();
        let appended = store
            .append(NewCommit {
                stream_id: self.id,
                aggregate_type,
                expected_version: self.version,
                after_position: 0,
                command_id,
                events: envelopes,
                committed_at: OffsetDateTime::now_utc(),
            })
            .await
            .expect("append commit");
        self.version = appended.last_version;
        appended.position
    }
}

/// One consumed event of this test.
#[derive(Debug, Clone)]
struct Received {
    aggregate_id: Uuid,
    version: u64,
}

/// Consumes until `done` holds for what was received (only the events of `ids`), or panics after
/// `within`. Checks on the way that each message is where and how the design says it is.
async fn receive_until(
    consumer: &StreamConsumer,
    ids: &HashSet<Uuid>,
    within: Duration,
    mut done: impl FnMut(&[Received]) -> bool,
) -> Vec<Received> {
    let deadline = Instant::now() + within;
    let mut received = Vec::new();
    while !done(&received) {
        let left = deadline.saturating_duration_since(Instant::now());
        let message = match tokio::time::timeout(left, consumer.recv()).await {
            Ok(message) => message.expect("consume"),
            Err(_) => panic!(
                "timed out after {within:?}; received so far: {}",
                summary(&received)
            ),
        };
        let Some(payload) = message.payload() else {
            continue;
        };
        let Ok(envelope) = serde_json::from_slice::<EventEnvelope>(payload) else {
            continue;
        };
        if !ids.contains(&envelope.aggregate_id) {
            continue;
        }
        assert_eq!(
            Some(message.topic()),
            topics::topic_for(&envelope.aggregate_type)
                .map(|t| format!("{}{t}", testkit::kafka::topic_prefix()))
                .as_deref(),
            "event on the wrong topic"
        );
        assert_eq!(
            message.key(),
            Some(envelope.aggregate_id.to_string().as_bytes()),
            "key is the aggregate id"
        );
        let headers = message.headers().expect("headers");
        let header = |name: &str| {
            headers
                .iter()
                .find(|h| h.key == name)
                .and_then(|h| h.value)
                .map(|v| String::from_utf8_lossy(v).into_owned())
        };
        assert_eq!(header("event_id"), Some(envelope.event_id.to_string()));
        assert_eq!(header("event_type"), Some(envelope.event_type.clone()));
        received.push(Received {
            aggregate_id: envelope.aggregate_id,
            version: envelope.version,
        });
    }
    received
}

/// Each aggregate's versions in arrival order.
fn per_aggregate(received: &[Received]) -> HashMap<Uuid, Vec<u64>> {
    let mut out: HashMap<Uuid, Vec<u64>> = HashMap::new();
    for r in received {
        out.entry(r.aggregate_id).or_default().push(r.version);
    }
    out
}

fn summary(received: &[Received]) -> String {
    format!("{:?}", per_aggregate(received))
}

/// The versions in the order they were first seen: what a deduplicating reader applies.
fn first_seen(versions: &[u64]) -> Vec<u64> {
    let mut seen = HashSet::new();
    versions
        .iter()
        .copied()
        .filter(|v| seen.insert(*v))
        .collect()
}

/// True once every stream's last version has arrived.
fn has_all(received: &[Received], streams: &[Stream]) -> bool {
    let by_id = per_aggregate(received);
    streams.iter().all(|s| {
        by_id
            .get(&s.id)
            .is_some_and(|v| v.contains(&s.version) && first_seen(v).len() as u64 == s.version)
    })
}

fn ids(streams: &[Stream]) -> HashSet<Uuid> {
    streams.iter().map(|s| s.id).collect()
}

async fn undispatched(store: &MongoEventStore) -> u64 {
    store
        .commits()
        .count_documents(doc! { "dispatched": false })
        .await
        .expect("count undispatched")
}

/// Asked of the server rather than decoded: the local wire server hands a `$set` boolean back
/// as an integer.
async fn dispatched(store: &MongoEventStore, position: i64) -> bool {
    let commits = store.commits();
    assert_eq!(
        commits
            .count_documents(doc! { "_id": position })
            .await
            .expect("count commit"),
        1,
        "commit {position} exists"
    );
    commits
        .count_documents(doc! { "_id": position, "dispatched": true })
        .await
        .expect("count dispatched")
        == 1
}

/// Polls `check` until it holds, or panics after `within` saying `what` did not happen.
async fn eventually<F, Fut>(within: Duration, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + within;
    while !check().await {
        assert!(
            Instant::now() < deadline,
            "{what} did not happen within {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

struct Running {
    shutdown: CancellationToken,
    task: JoinHandle<()>,
}

fn spawn(relay: Relay) -> Running {
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(relay.run(shutdown.clone()));
    Running { shutdown, task }
}

impl Running {
    /// Cancels and waits for the relay to finish its shutdown (flush, release).
    async fn stop(self) {
        self.shutdown.cancel();
        tokio::time::timeout(Duration::from_secs(10), self.task)
            .await
            .expect("relay stops within 10 s of shutdown")
            .expect("relay task did not panic");
    }
}

async fn lease_document(db: &Database) -> Document {
    db.collection::<Document>(RELAY_LEASES)
        .find_one(doc! { "_id": OUTBOX_LEASE_ID })
        .await
        .expect("read lease")
        .expect("lease document exists")
}

fn expires_at(lease: &Document) -> i64 {
    command_service::store::commit::lenient_i64(lease.get("expires_at"))
        .unwrap_or_else(|| panic!("expires_at is {:?}", lease.get("expires_at")))
}

fn now_millis() -> i64 {
    (OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64
}

#[tokio::test]
async fn relay_publishes_every_stream_in_version_order_then_marks_dispatched() {
    let metrics = service_kit::metrics::handle();
    let (_db, store) = open_store().await;
    // A small batch, so the backlog takes several rounds, full ones back to back.
    let relay = Relay::new(store.clone(), config(&testkit::kafka::brokers(), 4)).expect("relay");
    relay.ensure_topics().await.expect("ensure topics");
    let consumer = testkit::broker::consumer(
        &testkit::kafka::brokers(),
        &test_topics().each_ref().map(String::as_str),
        Start::Now,
    )
    .await;

    let mut streams = [
        Stream::new(Kind::Post),
        Stream::new(Kind::Post),
        Stream::new(Kind::Customer),
        Stream::new(Kind::Order),
    ];
    // Interleaved, so store order mixes the streams; some commits carry several events.
    for round in 0..4_u64 {
        for stream in &mut streams {
            stream.append(&store, 1 + round % 2).await;
        }
    }
    let total_events: u64 = streams.iter().map(|s| s.version).sum();
    assert_eq!(undispatched(&store).await, 16);

    let running = spawn(relay);
    let received = receive_until(&consumer, &ids(&streams), Duration::from_secs(30), |r| {
        has_all(r, &streams)
    })
    .await;

    let by_id = per_aggregate(&received);
    for stream in &streams {
        assert_eq!(
            by_id[&stream.id],
            (1..=stream.version).collect::<Vec<_>>(),
            "{:?} {} arrived exactly once each, in order",
            stream.kind,
            stream.id
        );
    }
    eventually(
        Duration::from_secs(10),
        "every commit dispatched",
        || async { undispatched(&store).await == 0 },
    )
    .await;
    let inspector =
        Relay::new(store.clone(), config(&testkit::kafka::brokers(), 4)).expect("inspecting relay");
    let backlog = inspector.backlog().await.expect("backlog");
    assert_eq!(backlog.commits, 0);
    assert_eq!(backlog.oldest_age, Duration::ZERO);

    let rendered = metrics.render();
    let published = rendered
        .lines()
        .find_map(|l| l.strip_prefix("outbox_published_events_total "))
        .and_then(|v| v.trim().parse::<f64>().ok())
        .unwrap_or_else(|| panic!("no published counter in:\n{rendered}"));
    assert!(published >= total_events as f64, "{rendered}");
    for gauge in [
        "outbox_undispatched_commits",
        "outbox_oldest_undispatched_age_seconds",
        "outbox_lease_held",
    ] {
        assert!(
            rendered.contains(gauge),
            "{gauge} missing from:\n{rendered}"
        );
    }
    running.stop().await;
}

#[tokio::test]
async fn a_crash_between_publish_and_mark_republishes_in_order() {
    let (_db, store) = open_store().await;
    let relay = Relay::new(store.clone(), config(&testkit::kafka::brokers(), 500)).expect("relay");
    relay.ensure_topics().await.expect("ensure topics");
    let consumer = testkit::broker::consumer(
        &testkit::kafka::brokers(),
        &test_topics().each_ref().map(String::as_str),
        Start::Now,
    )
    .await;

    let mut streams = [
        Stream::new(Kind::Post),
        Stream::new(Kind::Customer),
        Stream::new(Kind::Order),
    ];
    let mut positions = Vec::new();
    for round in 0..4_u64 {
        for stream in &mut streams {
            let first = stream.version + 1;
            let position = stream.append(&store, 1 + round % 2).await;
            positions.push((position, stream.id, first..=stream.version));
        }
    }
    positions.sort_by_key(|(position, _, _)| *position);

    // The "crashed" relay published the first 7 commits and never marked them.
    let published = relay
        .publish_without_marking(7)
        .await
        .expect("publish without marking");
    assert_eq!(published, 7);
    assert_eq!(undispatched(&store).await, 12, "nothing was marked");

    // Its successor publishes everything again and marks it.
    let marked = relay.publish_once().await.expect("publish");
    assert_eq!(marked, 12);
    assert_eq!(undispatched(&store).await, 0);

    let mut expected_count: HashMap<(Uuid, u64), usize> = HashMap::new();
    for (index, (_, id, versions)) in positions.iter().enumerate() {
        for version in versions.clone() {
            expected_count.insert((*id, version), if index < 7 { 2 } else { 1 });
        }
    }
    let wanted: usize = expected_count.values().sum();
    let received = receive_until(&consumer, &ids(&streams), Duration::from_secs(30), |r| {
        r.len() >= wanted
    })
    .await;

    let mut counts: HashMap<(Uuid, u64), usize> = HashMap::new();
    for r in &received {
        *counts.entry((r.aggregate_id, r.version)).or_default() += 1;
    }
    assert_eq!(
        counts, expected_count,
        "the republished part arrives twice, the rest once"
    );
    let by_id = per_aggregate(&received);
    for stream in &streams {
        let versions = &by_id[&stream.id];
        assert_eq!(
            first_seen(versions),
            (1..=stream.version).collect::<Vec<_>>(),
            "{:?}: first deliveries in version order, got {versions:?}",
            stream.kind
        );
    }

    // Nothing is left to publish: a further round publishes and marks nothing.
    assert_eq!(relay.publish_once().await.expect("idle round"), 0);
}

#[tokio::test]
async fn a_commit_without_a_topic_blocks_the_outbox_behind_it() {
    let (_db, store) = open_store().await;
    let relay = Relay::new(store.clone(), config(&testkit::kafka::brokers(), 500)).expect("relay");
    relay.ensure_topics().await.expect("ensure topics");

    let mut post = Stream::new(Kind::Post);
    let mut widget = Stream::new(Kind::Order);
    let before = post.append(&store, 1).await;
    let unroutable = widget.append_as(&store, "widget", 1).await;
    let after = post.append(&store, 1).await;

    assert_eq!(relay.publish_once().await.expect("round"), 1);
    assert!(dispatched(&store, before).await);
    assert!(!dispatched(&store, unroutable).await);
    assert!(
        !dispatched(&store, after).await,
        "a commit after the unroutable one must wait"
    );
    assert_eq!(relay.publish_once().await.expect("round"), 0);
    assert_eq!(undispatched(&store).await, 2);
}

#[tokio::test]
async fn the_backlog_drains_when_the_broker_comes_back() {
    let logs = Logs::install();
    let mut broker = PrivateBroker::start().await;
    let (_db, store) = open_store().await;
    let mut relay_config = config(&broker.brokers(), 500);
    relay_config.topic_partitions = 2;
    let relay = Relay::new(store.clone(), relay_config).expect("relay");
    let running = spawn(relay);

    let mut streams = [
        Stream::new(Kind::Post),
        Stream::new(Kind::Customer),
        Stream::new(Kind::Order),
    ];
    for stream in &mut streams {
        stream.append(&store, 1).await;
    }
    eventually(
        Duration::from_secs(20),
        "the first commits dispatched",
        || async { undispatched(&store).await == 0 },
    )
    .await;
    // The relay created the topics itself, with its configured partition count.
    let partitions = {
        let config = broker.client_config();
        tokio::task::spawn_blocking(move || {
            let client: rdkafka::consumer::BaseConsumer = config.create().expect("client");
            let metadata = client
                .fetch_metadata(
                    Some(&format!(
                        "{}{}",
                        testkit::kafka::topic_prefix(),
                        topics::POSTS
                    )),
                    Duration::from_secs(5),
                )
                .expect("metadata");
            metadata.topics()[0].partitions().len()
        })
        .await
        .expect("metadata task")
    };
    assert_eq!(partitions, 2);

    broker.stop().await;
    for round in 0..3_u64 {
        for stream in &mut streams {
            stream.append(&store, 1 + round % 2).await;
        }
    }
    // With the broker gone for longer than a delivery timeout (the lease ttl), rounds fail; the
    // relay keeps its backlog and keeps running.
    let drained = tokio::time::timeout(Duration::from_secs(5), async {
        while undispatched(&store).await > 0 {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await;
    assert!(drained.is_err(), "commits were marked with no broker");
    assert_eq!(undispatched(&store).await, 9);
    assert!(
        !running.task.is_finished(),
        "the relay ended while the broker was down"
    );
    // The outage is logged once, not once per failed round.
    assert_eq!(
        logs.count("kafka broker unavailable"),
        1,
        "{}",
        logs.lines().join("\n")
    );
    let failed_rounds = logs
        .lines()
        .iter()
        .filter(|line| line.contains("command_service::outbox") && line.contains("round failed"))
        .count();
    assert_eq!(failed_rounds, 0, "{}", logs.lines().join("\n"));

    broker.resume().await;
    eventually(
        Duration::from_secs(60),
        "the backlog drained after the broker came back",
        || async { undispatched(&store).await == 0 },
    )
    .await;
    assert_eq!(
        logs.count("kafka broker available again"),
        1,
        "{}",
        logs.lines().join("\n")
    );

    let consumer = testkit::broker::consumer(
        &broker.brokers(),
        &test_topics().each_ref().map(String::as_str),
        Start::Beginning,
    )
    .await;
    let received = receive_until(&consumer, &ids(&streams), Duration::from_secs(30), |r| {
        has_all(r, &streams)
    })
    .await;
    let by_id = per_aggregate(&received);
    for stream in &streams {
        assert_eq!(
            first_seen(&by_id[&stream.id]),
            (1..=stream.version).collect::<Vec<_>>(),
            "{:?}: every version, first deliveries in order",
            stream.kind
        );
    }
    running.stop().await;
}

#[tokio::test]
async fn one_relay_holds_the_lease_and_another_takes_over() {
    let (db, store) = open_store().await;
    let brokers = testkit::kafka::brokers();
    let consumer = {
        let relay = Relay::new(store.clone(), config(&brokers, 500)).expect("relay");
        relay.ensure_topics().await.expect("ensure topics");
        testkit::broker::consumer(
            &brokers,
            &test_topics().each_ref().map(String::as_str),
            Start::Now,
        )
        .await
    };

    let mut relays = Vec::new();
    for _ in 0..2 {
        let relay = Relay::new(store.clone(), config(&brokers, 500)).expect("relay");
        let held = relay.lease_watch();
        let id = relay.instance_id().to_owned();
        relays.push((id, held, spawn(relay)));
    }
    let first = tokio::time::timeout(Duration::from_secs(5), async {
        let (mut a, mut b) = (relays[0].1.clone(), relays[1].1.clone());
        tokio::select! {
            _ = a.wait_for(|held| *held) => 0,
            _ = b.wait_for(|held| *held) => 1,
        }
    })
    .await
    .expect("one relay takes the lease within 5 s");
    let (holder_id, holder_held, holder) = relays.remove(first);
    let (other_id, mut other_held, other) = relays.remove(0);
    assert_eq!(
        lease_document(&db).await.get_str("holder"),
        Ok(holder_id.as_str())
    );

    // For two lease periods the holder keeps renewing and the other never gets in.
    let kept_out = tokio::time::timeout(LEASE_TTL * 2, other_held.wait_for(|held| *held))
        .await
        .is_err();
    assert!(kept_out, "both relays held the lease");
    assert!(*holder_held.borrow(), "the holder lost its lease");
    assert!(lease_document(&db).await.get_str("holder") == Ok(holder_id.as_str()));

    let mut before = Stream::new(Kind::Post);
    before.append(&store, 2).await;
    eventually(Duration::from_secs(10), "the holder publishing", || async {
        undispatched(&store).await == 0
    })
    .await;

    // A graceful stop releases the lease: the other relay takes over within a lease period.
    holder.stop().await;
    tokio::time::timeout(
        LEASE_TTL + Duration::from_secs(2),
        other_held.wait_for(|h| *h),
    )
    .await
    .expect("the other relay takes over")
    .expect("watch open");
    assert_eq!(
        lease_document(&db).await.get_str("holder"),
        Ok(other_id.as_str())
    );

    let mut after = Stream::new(Kind::Customer);
    after.append(&store, 1).await;
    after.append(&store, 2).await;
    eventually(
        Duration::from_secs(10),
        "the successor publishing",
        || async { undispatched(&store).await == 0 },
    )
    .await;
    let streams = [before, after];
    let received = receive_until(&consumer, &ids(&streams), Duration::from_secs(30), |r| {
        has_all(r, &streams)
    })
    .await;
    let by_id = per_aggregate(&received);
    for stream in &streams {
        assert_eq!(
            first_seen(&by_id[&stream.id]),
            (1..=stream.version).collect::<Vec<_>>()
        );
    }

    // A crashed holder releases nothing: a third relay waits until the lease expires.
    let third = Relay::new(store.clone(), config(&brokers, 500)).expect("relay");
    let third_id = third.instance_id().to_owned();
    let mut third_held = third.lease_watch();
    let third = spawn(third);
    other.task.abort();
    let _ = other.task.await;
    let lease_before_crash = expires_at(&lease_document(&db).await);
    tokio::time::timeout(
        LEASE_TTL * 2 + Duration::from_secs(2),
        third_held.wait_for(|h| *h),
    )
    .await
    .expect("the third relay takes over an expired lease")
    .expect("watch open");
    let taken_at = now_millis();
    assert!(
        taken_at >= lease_before_crash,
        "took over at {taken_at}, before the crashed holder's lease expired at {lease_before_crash}"
    );
    assert_eq!(
        lease_document(&db).await.get_str("holder"),
        Ok(third_id.as_str())
    );
    third.stop().await;
    assert!(
        expires_at(&lease_document(&db).await) < now_millis(),
        "a stopped relay releases its lease"
    );
}

#[tokio::test]
async fn an_append_wakes_an_idle_relay_at_once() {
    let (_db, store) = open_store().await;
    let mut relay_config = config(&testkit::kafka::brokers(), 500);
    relay_config.max_poll_interval = Duration::from_secs(60);
    let relay = Relay::new(store.clone(), relay_config).expect("relay");
    let waker = relay.waker();
    let mut held = relay.lease_watch();
    let running = spawn(relay);
    tokio::time::timeout(Duration::from_secs(5), held.wait_for(|h| *h))
        .await
        .expect("the relay takes the lease")
        .expect("watch open");

    // Idle polls back off from 10 ms, doubling: six seconds in, the relay is in a sleep that
    // lasts until about ten seconds, so only the wake-up can get the commit out within two.
    tokio::time::sleep(Duration::from_secs(6)).await;
    let mut stream = Stream::new(Kind::Post);
    stream.append(&store, 1).await;
    waker.notify_one();
    eventually(
        Duration::from_secs(2),
        "the woken relay publishing",
        || async { undispatched(&store).await == 0 },
    )
    .await;
    running.stop().await;
}
