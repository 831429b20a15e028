//! The transactional-outbox relay: publishes the events of undispatched commits to Kafka, then
//! marks those commits dispatched.
//!
//! Owns the relay loop, its Kafka producer, its lease (`lease`), its supervisor (`supervisor`,
//! which restarts a relay whose task died) and its metrics. Delivery is at
//! least once: a commit is marked only after every one of its events was acknowledged, so a crash
//! between publishing and marking publishes it again, and the read side drops the duplicates.
//! Order per aggregate: commits are published in store order, and a commit is never marked while
//! an earlier one is not, so version n+1 is never marked before version n. (Should a delivery fail
//! while a later event of the same aggregate got through, as a message timeout can, the round is
//! retried, and the read side holds the gap until the missing version arrives.)
//!
//! Must not depend on gRPC types or on the read side; reaches MongoDB only through the event
//! store's collections.

#[allow(dead_code)] // wired into the relay by issue 12; tested here already
mod horizon;
mod lease;
mod supervisor;

use std::{
    sync::{Arc, Mutex, PoisonError},
    time::Duration,
};

use cqrsplus_domain::topics;
use mongodb::bson::Document;
use rdkafka::{
    ClientConfig,
    admin::{AdminClient, AdminOptions, NewTopic, TopicReplication},
    client::DefaultClientContext,
    error::{KafkaError, RDKafkaErrorCode},
    message::{Header, OwnedHeaders},
    producer::{DeliveryFuture, FutureProducer, FutureRecord, Producer},
};
use time::OffsetDateTime;
use tokio::{
    sync::{Notify, watch},
    time::Instant,
};
use tokio_util::sync::CancellationToken;

pub use lease::{OUTBOX_LEASE_ID, RELAY_LEASES};
pub use supervisor::{RelayControl, RelaySupervisor};

use crate::{
    outage::Outage,
    store::{
        MongoEventStore, StoreError,
        commit::{CommitDocument, millis},
    },
};

/// First pause after an idle round or an error; doubled on each further one.
const MIN_BACKOFF: Duration = Duration::from_millis(10);
/// Longest wait for the producer to hand over what it still holds when the relay stops.
const FLUSH_TIMEOUT: Duration = Duration::from_secs(5);
/// How long the relay lets further appends gather after one woke it. Without it, a busy command
/// path wakes a round per commit, and each round's fixed cost (a query and an update on the event
/// store) is paid per commit on the same server the commands need; a few milliseconds of latency
/// buy rounds of many commits.
const APPEND_LINGER: Duration = Duration::from_millis(5);
/// Least time between two measurements of the backlog gauges while the relay is busy.
const BACKLOG_INTERVAL: Duration = Duration::from_secs(2);
/// Longest wait for a topic-creation request.
const ADMIN_TIMEOUT: Duration = Duration::from_secs(10);

/// How the relay connects and paces itself.
#[derive(Debug, Clone)]
pub struct RelayConfig {
    /// Kafka bootstrap servers.
    pub brokers: String,
    /// Partitions of each event topic when the relay creates it.
    pub topic_partitions: i32,
    /// Put before every topic name (empty in most deployments).
    pub topic_prefix: String,
    /// Most commits published in one round.
    pub batch_size: i64,
    /// How long the lease lasts without renewal.
    pub lease_ttl: Duration,
    /// Longest pause between two polls when nothing was appended.
    pub max_poll_interval: Duration,
    /// This instance's name in the lease.
    pub instance_id: String,
}

/// What can stop a relay round; the loop logs it and backs off, it never ends the relay.
#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    #[error("invalid relay configuration: {0}")]
    Config(String),
    #[error("kafka client could not be created: {0}")]
    Client(#[source] KafkaError),
    #[error("kafka request failed: {0}")]
    Kafka(#[source] KafkaError),
    #[error("creating topic {topic} failed: {code}")]
    CreateTopic {
        topic: String,
        code: RDKafkaErrorCode,
    },
    #[error("{failed} of {total} events were not acknowledged by kafka (first error: {first})")]
    Delivery {
        failed: usize,
        total: usize,
        first: String,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The outbox backlog, as the metrics report it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backlog {
    /// Commits not yet dispatched.
    pub commits: u64,
    /// How long ago the oldest of them was committed (zero when there is none).
    pub oldest_age: Duration,
}

/// What one round did.
#[derive(Debug, Clone, Copy, Default)]
struct Round {
    /// Undispatched commits read.
    read: usize,
    /// Commits whose events were all acknowledged, with every earlier commit of the round too.
    acknowledged: usize,
    /// Commits marked dispatched (0 in a pipelined round, whose marking ends in the next one).
    marked: usize,
}

/// What publishing a round's commits achieved.
#[derive(Debug, Default)]
struct Published {
    /// Events in the commits that could be routed.
    total: usize,
    /// Events acknowledged.
    events: usize,
    /// Leading commits whose events were all acknowledged: the ones that may be marked.
    acknowledged: usize,
    first_failure: Option<String>,
}

impl Published {
    fn into_result(self, round: Round) -> Result<Round, RelayError> {
        match self.first_failure {
            Some(first) => Err(RelayError::Delivery {
                failed: self.total - self.events,
                total: self.total,
                first,
            }),
            None => Ok(round),
        }
    }
}

/// A round's commits being marked dispatched in the background.
struct Marking {
    positions: Vec<i64>,
    task: tokio::task::JoinHandle<Result<u64, StoreError>>,
}

impl Marking {
    fn start(store: &MongoEventStore, positions: Vec<i64>) -> Self {
        let store = store.clone();
        let marked = positions.clone();
        Self {
            positions,
            task: tokio::spawn(async move { store.mark_dispatched(marked).await }),
        }
    }

    async fn finish(self) -> Result<(), RelayError> {
        match self.task.await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(e.into()),
            Err(e) => Err(RelayError::Store(StoreError::Internal(format!(
                "marking task failed: {e}"
            )))),
        }
    }
}

fn positions(commits: &[CommitDocument]) -> Vec<i64> {
    commits.iter().map(|commit| commit.position).collect()
}

/// Publishes the outbox to Kafka while it holds the lease.
pub struct Relay {
    store: MongoEventStore,
    config: RelayConfig,
    lease: lease::Lease,
    /// Replaced when librdkafka reports a fatal error: such a producer refuses every message.
    producer: Mutex<FutureProducer>,
    notify: Arc<Notify>,
    lease_held: watch::Sender<bool>,
    /// Outages of MongoDB and of the broker are logged when they start and end, not per retry.
    store_outage: Arc<Outage>,
    broker_outage: Arc<Outage>,
}

impl Relay {
    /// Prepares the relay and its idempotent producer without waiting for the broker: it may be
    /// down at start, and the relay publishes the backlog when it comes back.
    pub fn new(store: MongoEventStore, config: RelayConfig) -> Result<Self, RelayError> {
        if config.batch_size < 1 {
            return Err(RelayError::Config("batch size must be at least 1".into()));
        }
        // Renewal runs every third of the ttl; below this the lease would be all renewal.
        if config.lease_ttl < Duration::from_millis(300) {
            return Err(RelayError::Config(
                "lease ttl must be at least 300ms".into(),
            ));
        }
        if config.instance_id.trim().is_empty() {
            return Err(RelayError::Config("instance id must not be blank".into()));
        }
        let producer = create_producer(&config)?;
        let ttl_millis = i64::try_from(config.lease_ttl.as_millis())
            .map_err(|_| RelayError::Config("lease ttl is too long".into()))?;
        let commits = store.commits();
        let namespace = commits.namespace();
        let leases = commits
            .client()
            .database(&namespace.db)
            .collection::<Document>(RELAY_LEASES);
        Ok(Self {
            lease: lease::Lease::new(leases, config.instance_id.clone(), ttl_millis),
            store,
            config,
            producer: Mutex::new(producer),
            notify: Arc::new(Notify::new()),
            lease_held: watch::Sender::new(false),
            store_outage: Arc::new(Outage::new("event store")),
            broker_outage: Arc::new(Outage::new("kafka broker")),
        })
    }

    /// The same relay reporting event store outages through `outage` (shared with the command
    /// path, so one outage is logged once).
    pub fn with_store_outage(mut self, outage: Arc<Outage>) -> Self {
        self.store_outage = outage;
        self
    }

    /// Logs a failed relay operation: an unreachable server through its outage (once per
    /// outage), anything else (a bug or bad data, which retrying will not fix) each time.
    fn failed(&self, what: &'static str, error: &RelayError) {
        match error {
            RelayError::Store(StoreError::Unavailable(_)) => {
                self.store_outage.failed(&format_args!("{what}: {error}"));
            }
            RelayError::Client(_)
            | RelayError::Kafka(_)
            | RelayError::CreateTopic { .. }
            | RelayError::Delivery { .. } => {
                self.broker_outage.failed(&format_args!("{what}: {error}"));
            }
            RelayError::Store(_) | RelayError::Config(_) => {
                tracing::warn!(error = %error, "{what}");
            }
        }
    }

    /// The same relay woken by `waker` (a restarted relay keeps the command path's waker).
    pub fn with_waker(mut self, waker: Arc<Notify>) -> Self {
        self.notify = waker;
        self
    }

    /// The wake-up the command path pokes (`notify_one`) after each append, so a new commit is
    /// published at once rather than at the next poll.
    pub fn waker(&self) -> Arc<Notify> {
        self.notify.clone()
    }

    /// Whether this relay holds the lease, as `run` sees it; take it before calling `run`.
    pub fn lease_watch(&self) -> watch::Receiver<bool> {
        self.lease_held.subscribe()
    }

    /// This instance's name in the lease.
    pub fn instance_id(&self) -> &str {
        &self.config.instance_id
    }

    /// The instance named in the unexpired lease, if any (by this instance's clock).
    pub async fn lease_holder(&self) -> Result<Option<String>, RelayError> {
        Ok(self.lease.holder(now_millis()).await?)
    }

    /// Creates the event topics that do not exist yet; existing ones are left as they are.
    pub async fn ensure_topics(&self) -> Result<(), RelayError> {
        let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
            .set("bootstrap.servers", &self.config.brokers)
            .create()
            .map_err(RelayError::Client)?;
        let names = topics::prefixed(&self.config.topic_prefix);
        let new_topics: Vec<NewTopic<'_>> = names
            .iter()
            .map(|name| {
                NewTopic::new(
                    name,
                    self.config.topic_partitions,
                    TopicReplication::Fixed(1),
                )
            })
            .collect();
        let options = AdminOptions::new()
            .operation_timeout(Some(ADMIN_TIMEOUT))
            .request_timeout(Some(ADMIN_TIMEOUT));
        let results = admin.create_topics(&new_topics, &options).await;
        // Dropping an admin client joins its thread; keep that off the async workers.
        drop_blocking(admin);
        for result in results.map_err(RelayError::Kafka)? {
            match result {
                Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
                Err((topic, code)) => return Err(RelayError::CreateTopic { topic, code }),
            }
        }
        Ok(())
    }

    /// One round, assuming the lease is held: publishes up to `batch_size` undispatched commits
    /// and marks the acknowledged prefix dispatched. Returns how many commits it marked; when
    /// some events were not acknowledged, the prefix before them is still marked and the error
    /// is returned.
    pub async fn publish_once(&self) -> Result<usize, RelayError> {
        self.round(self.config.batch_size, true)
            .await
            .map(|round| round.marked)
    }

    /// Publishes up to `limit` undispatched commits WITHOUT marking them: simulates a relay that
    /// crashed between publish and mark; for tests. Returns how many commits were fully
    /// acknowledged.
    pub async fn publish_without_marking(&self, limit: i64) -> Result<usize, RelayError> {
        self.round(limit.max(1), false)
            .await
            .map(|round| round.acknowledged)
    }

    /// How many commits wait to be dispatched, and for how long the oldest has.
    pub async fn backlog(&self) -> Result<Backlog, RelayError> {
        let count = self.store.undispatched_count().await?;
        let oldest = self.store.undispatched(1, &[]).await?;
        let oldest_age = oldest.first().map_or(Duration::ZERO, |commit| {
            let age = now_millis().saturating_sub(commit.committed_at.timestamp_millis());
            Duration::from_millis(u64::try_from(age).unwrap_or(0))
        });
        Ok(Backlog {
            commits: count,
            oldest_age,
        })
    }

    /// Runs until `shutdown` is cancelled: keeps (or waits for) the lease and, while holding it,
    /// publishes the outbox. Errors are logged and retried with backoff; nothing ends the loop
    /// but `shutdown`. On the way out the producer is flushed and the lease released.
    #[tracing::instrument(
        name = "outbox_relay",
        skip_all,
        fields(instance = %self.config.instance_id)
    )]
    pub async fn run(self, shutdown: CancellationToken) {
        tracing::info!("outbox relay started");
        tokio::join!(
            self.keep_lease(&shutdown),
            self.publish_while_held(&shutdown)
        );

        let producer = self.producer();
        match tokio::task::spawn_blocking(move || producer.flush(FLUSH_TIMEOUT)).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::warn!(error = %e, "producer not flushed before stopping"),
            Err(e) => tracing::warn!(error = %e, "producer flush task failed"),
        }
        if *self.lease_held.borrow() {
            match self.lease.release().await {
                Ok(()) => tracing::info!("outbox lease released"),
                Err(e) => tracing::warn!(error = %e, "outbox lease not released; it will expire"),
            }
        }
        self.set_lease_held(false);
        tracing::info!("outbox relay stopped");
        drop_blocking(self);
    }

    /// Acquires the lease when free and renews it while held, every third of the ttl: one failed
    /// renewal is survived, and after a second the relay stops claiming a lease that may lapse
    /// before it could try again.
    async fn keep_lease(&self, shutdown: &CancellationToken) {
        let renew_every = self.config.lease_ttl / 3;
        let mut valid_until: Option<Instant> = None;
        loop {
            let started = Instant::now();
            let attempt =
                tokio::time::timeout(renew_every, self.lease.acquire_or_renew(now_millis()));
            let attempt = tokio::select! {
                () = shutdown.cancelled() => break,
                attempt = attempt => attempt,
            };
            match attempt {
                Ok(Ok(true)) => {
                    self.store_outage.recovered();
                    valid_until = Some(started + self.config.lease_ttl);
                }
                Ok(Ok(false)) => {
                    self.store_outage.recovered();
                    valid_until = None;
                }
                Ok(Err(e)) => self.failed("outbox lease not renewed", &e.into()),
                Err(_) => self.failed(
                    "outbox lease not renewed",
                    &RelayError::Store(StoreError::Unavailable("lease request timed out".into())),
                ),
            }
            // Give up a renewal period early: by the next check the lease may have lapsed.
            let held = valid_until.is_some_and(|until| Instant::now() + renew_every < until);
            if !held {
                valid_until = None;
            }
            self.set_lease_held(held);
            tokio::select! {
                () = shutdown.cancelled() => break,
                () = tokio::time::sleep_until(started + renew_every) => {}
            }
        }
    }

    async fn publish_while_held(&self, shutdown: &CancellationToken) {
        let mut held = self.lease_held.subscribe();
        let mut backoff = MIN_BACKOFF;
        let mut topics_ready = false;
        let mut backlog_measured: Option<Instant> = None;
        let mut marking: Option<Marking> = None;
        loop {
            if !*held.borrow_and_update() {
                tokio::select! {
                    () = shutdown.cancelled() => return,
                    changed = held.changed() => if changed.is_err() { return },
                }
                continue;
            }
            // Until the topics exist with the configured partitions, publishing would let the
            // broker auto-create them with its defaults instead.
            if !topics_ready {
                // The backlog grows while the broker is away (and each topic attempt then
                // waits for its timeout): keep the gauges current meanwhile.
                if !self.refresh_backlog(shutdown, &mut backlog_measured).await {
                    return;
                }
                let ensured = tokio::select! {
                    () = shutdown.cancelled() => return,
                    ensured = self.ensure_topics() => ensured,
                };
                match ensured {
                    Ok(()) => {
                        self.broker_outage.recovered();
                        topics_ready = true;
                    }
                    Err(e) => {
                        self.failed("event topics not ensured; retrying", &e);
                        if !self.pause(shutdown, &mut backoff, false).await {
                            return;
                        }
                        continue;
                    }
                }
            }
            // An unfinished round is simply dropped on shutdown: nothing it published was marked,
            // so the next holder publishes it again.
            let round = tokio::select! {
                () = shutdown.cancelled() => return,
                round = self.pipelined_round(self.config.batch_size, &mut marking) => round,
            };
            if matches!(&round, Ok(r) if r.read == 0) {
                record_empty_backlog();
                backlog_measured = Some(Instant::now());
            } else if !self.refresh_backlog(shutdown, &mut backlog_measured).await {
                return;
            }
            if let Ok(round) = &round {
                self.store_outage.recovered();
                if round.acknowledged > 0 {
                    self.broker_outage.recovered();
                }
            }
            let wake_on_append = match round {
                Ok(round)
                    if round.read as i64 >= self.config.batch_size
                        && round.acknowledged == round.read =>
                {
                    backoff = MIN_BACKOFF;
                    continue;
                }
                Ok(round) => {
                    if round.acknowledged > 0 {
                        backoff = MIN_BACKOFF;
                    }
                    true
                }
                Err(e) => {
                    self.failed("outbox round failed; backing off", &e);
                    self.replace_producer_if_fatal();
                    // Appends must not cut short the backoff from a failing broker or store.
                    false
                }
            };
            if !self.pause(shutdown, &mut backoff, wake_on_append).await {
                return;
            }
        }
    }

    /// Waits for the backoff (or an append, when `wake_on_append`), then doubles the backoff up
    /// to the poll interval. False when shutdown came first.
    async fn pause(
        &self,
        shutdown: &CancellationToken,
        backoff: &mut Duration,
        wake_on_append: bool,
    ) -> bool {
        let wait = *backoff;
        *backoff = (*backoff * 2).min(self.config.max_poll_interval.max(MIN_BACKOFF));
        let appended = async {
            if wake_on_append {
                self.notify.notified().await;
            } else {
                std::future::pending::<()>().await;
            }
        };
        tokio::select! {
            () = shutdown.cancelled() => false,
            () = appended => tokio::select! {
                () = shutdown.cancelled() => false,
                () = tokio::time::sleep(APPEND_LINGER) => true,
            },
            () = tokio::time::sleep(wait) => true,
        }
    }

    /// Publishes up to `limit` undispatched commits in store order and, when `mark`, marks the
    /// acknowledged prefix dispatched.
    async fn round(&self, limit: i64, mark: bool) -> Result<Round, RelayError> {
        let commits = self.store.undispatched(limit, &[]).await?;
        let published = self.publish(&commits).await;
        let mut round = Round {
            read: commits.len(),
            acknowledged: published.acknowledged,
            marked: 0,
        };
        if mark && published.acknowledged > 0 {
            let marked = self
                .store
                .mark_dispatched(positions(&commits[..published.acknowledged]))
                .await?;
            round.marked = usize::try_from(marked).unwrap_or(published.acknowledged);
        }
        published.into_result(round)
    }

    /// A round that overlaps with the previous one: the commits whose marking is still under way
    /// are left out of the read, the previous marking finishes while this round's events are
    /// being acknowledged, and this round's marking is left running for the next round to wait
    /// for. Mongo then reads and marks while Kafka acknowledges, instead of each waiting for the
    /// other. Per-stream order holds as in `round`: everything left out was published already.
    async fn pipelined_round(
        &self,
        limit: i64,
        marking: &mut Option<Marking>,
    ) -> Result<Round, RelayError> {
        let in_flight = marking.as_ref().map_or(&[][..], |m| &m.positions[..]);
        let commits = self.store.undispatched(limit, in_flight).await?;
        let previous = marking.take();
        let (published, previous) = tokio::join!(self.publish(&commits), async move {
            match previous {
                Some(previous) => previous.finish().await,
                None => Ok(()),
            }
        });
        let round = Round {
            read: commits.len(),
            acknowledged: published.acknowledged,
            marked: 0,
        };
        if published.acknowledged > 0 {
            *marking = Some(Marking::start(
                &self.store,
                positions(&commits[..published.acknowledged]),
            ));
        }
        // A failed marking leaves those commits undispatched: they are read (and published)
        // again, duplicates the read side drops.
        previous?;
        published.into_result(round)
    }

    /// Publishes the events of `commits` in order and waits for their acknowledgements.
    async fn publish(&self, commits: &[CommitDocument]) -> Published {
        let mut published = Published::default();
        if commits.is_empty() {
            return published;
        }
        let routed = route(commits, &self.config.topic_prefix);
        let producer = self.producer();
        let mut pending: Vec<Vec<DeliveryFuture>> = Vec::with_capacity(routed.len());
        'commits: for messages in &routed {
            let mut deliveries = Vec::with_capacity(messages.len());
            for message in messages {
                match self.enqueue(&producer, message).await {
                    Ok(delivery) => deliveries.push(delivery),
                    Err(e) => {
                        // Later events must not overtake this one: stop the round here.
                        published.first_failure = Some(e.to_string());
                        pending.push(deliveries);
                        break 'commits;
                    }
                }
            }
            pending.push(deliveries);
        }

        published.total = routed.iter().map(Vec::len).sum();
        let mut prefix_intact = true;
        for (index, deliveries) in pending.into_iter().enumerate() {
            let expected = routed[index].len();
            let mut all_acknowledged = deliveries.len() == expected;
            for delivery in deliveries {
                match delivery.await {
                    Ok(Ok(_)) => published.events += 1,
                    Ok(Err((e, _))) => {
                        all_acknowledged = false;
                        published.first_failure.get_or_insert_with(|| e.to_string());
                    }
                    Err(_) => {
                        all_acknowledged = false;
                        published
                            .first_failure
                            .get_or_insert_with(|| "delivery was cancelled".to_owned());
                    }
                }
            }
            prefix_intact &= all_acknowledged;
            if prefix_intact {
                published.acknowledged += 1;
            }
        }
        metrics::counter!("outbox_published_events_total").increment(published.events as u64);
        published
    }

    /// Hands one event to the producer, waiting while its queue is full (never reordering).
    async fn enqueue(
        &self,
        producer: &FutureProducer,
        message: &Outgoing,
    ) -> Result<DeliveryFuture, RelayError> {
        let deadline = Instant::now() + self.config.lease_ttl;
        loop {
            let headers = OwnedHeaders::new()
                .insert(Header {
                    key: "event_id",
                    value: Some(&message.event_id),
                })
                .insert(Header {
                    key: "event_type",
                    value: Some(&message.event_type),
                });
            let record = FutureRecord::to(&message.topic)
                .key(&message.key)
                .payload(&message.payload)
                .headers(headers);
            match producer.send_result(record) {
                Ok(delivery) => return Ok(delivery),
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), _))
                    if Instant::now() < deadline =>
                {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
                Err((e, _)) => return Err(RelayError::Kafka(e)),
            }
        }
    }

    /// Refreshes the backlog gauges unless they were measured less than BACKLOG_INTERVAL ago:
    /// counting can cost as much as a round (a full scan on some servers). False on shutdown.
    async fn refresh_backlog(
        &self,
        shutdown: &CancellationToken,
        measured: &mut Option<Instant>,
    ) -> bool {
        if measured.is_some_and(|at| at.elapsed() < BACKLOG_INTERVAL) {
            return true;
        }
        tokio::select! {
            () = shutdown.cancelled() => return false,
            () = self.record_backlog() => {}
        }
        *measured = Some(Instant::now());
        true
    }

    async fn record_backlog(&self) {
        match self.backlog().await {
            Ok(backlog) => {
                metrics::gauge!("outbox_undispatched_commits").set(backlog.commits as f64);
                metrics::gauge!("outbox_oldest_undispatched_age_seconds")
                    .set(backlog.oldest_age.as_secs_f64());
            }
            Err(e) => self.failed("outbox backlog not measured", &e),
        }
    }

    fn set_lease_held(&self, held: bool) {
        let changed = self.lease_held.send_if_modified(|current| {
            let changed = *current != held;
            *current = held;
            changed
        });
        if changed {
            if held {
                tracing::info!("outbox lease acquired; publishing");
            } else {
                tracing::info!("outbox lease not held; standing by");
            }
        }
        metrics::gauge!("outbox_lease_held").set(if held { 1.0 } else { 0.0 });
    }

    fn producer(&self) -> FutureProducer {
        self.producer
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// After a fatal error (e.g. the idempotent producer's sequence could not be recovered)
    /// librdkafka refuses every further message from that producer: start a new one.
    fn replace_producer_if_fatal(&self) {
        let current = self.producer();
        let Some((code, reason)) = current.client().fatal_error() else {
            return;
        };
        tracing::error!(%code, %reason, "kafka producer failed fatally; creating a new one");
        match create_producer(&self.config) {
            Ok(fresh) => {
                let old = std::mem::replace(
                    &mut *self.producer.lock().unwrap_or_else(PoisonError::into_inner),
                    fresh,
                );
                drop_blocking(old);
            }
            Err(e) => tracing::error!(error = %e, "kafka producer not recreated"),
        }
        drop_blocking(current);
    }
}

/// One event ready to produce.
struct Outgoing {
    topic: String,
    key: String,
    payload: Vec<u8>,
    event_id: String,
    event_type: String,
}

/// The messages of each commit, up to (not including) the first commit that cannot be published:
/// stopping there keeps every later version of its stream, and the store order, behind it.
fn route(commits: &[CommitDocument], prefix: &str) -> Vec<Vec<Outgoing>> {
    let mut routed = Vec::with_capacity(commits.len());
    for commit in commits {
        match messages_of(commit, prefix) {
            Ok(messages) => routed.push(messages),
            Err(reason) => {
                tracing::error!(
                    position = commit.position,
                    stream_id = %commit.stream_id,
                    aggregate_type = %commit.aggregate_type,
                    %reason,
                    "outbox blocked: this commit cannot be published (a deploy or data bug); \
                     later commits wait behind it"
                );
                break;
            }
        }
    }
    routed
}

fn messages_of(commit: &CommitDocument, prefix: &str) -> Result<Vec<Outgoing>, String> {
    let topic = topics::topic_for(&commit.aggregate_type)
        .map(|topic| format!("{prefix}{topic}"))
        .ok_or_else(|| format!("no topic for aggregate type {:?}", commit.aggregate_type))?;
    commit
        .events
        .iter()
        .map(|stored| {
            let envelope = stored.to_envelope().map_err(|e| e.to_string())?;
            let payload = serde_json::to_vec(&envelope)
                .map_err(|e| format!("event {} to json: {e}", envelope.event_id))?;
            Ok(Outgoing {
                topic: topic.clone(),
                key: envelope.aggregate_id.to_string(),
                payload,
                event_id: envelope.event_id.to_string(),
                event_type: envelope.event_type,
            })
        })
        .collect()
}

fn create_producer(config: &RelayConfig) -> Result<FutureProducer, RelayError> {
    // A round that cannot deliver gives up after about one lease period, so a relay stuck on an
    // unreachable broker still notices shutdown or a lost lease between rounds.
    let delivery_timeout_ms = config.lease_ttl.as_millis().max(1_000).to_string();
    ClientConfig::new()
        .set("bootstrap.servers", &config.brokers)
        .set("client.id", format!("outbox-relay-{}", config.instance_id))
        // Retries never duplicate or reorder a partition's messages.
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .set("message.timeout.ms", delivery_timeout_ms)
        // A broker that comes back is noticed within a second, not librdkafka's default ten.
        .set("reconnect.backoff.max.ms", "1000")
        .create()
        .map_err(RelayError::Client)
}

/// Drops a Kafka client (or something holding one) on a blocking thread: librdkafka's destructors
/// flush and join threads.
fn drop_blocking<T: Send + 'static>(value: T) {
    match tokio::runtime::Handle::try_current() {
        Ok(runtime) => {
            runtime.spawn_blocking(move || drop(value));
        }
        Err(_) => drop(value),
    }
}

fn now_millis() -> i64 {
    millis(OffsetDateTime::now_utc())
}

/// The gauges when a round found no undispatched commit.
fn record_empty_backlog() {
    metrics::gauge!("outbox_undispatched_commits").set(0.0);
    metrics::gauge!("outbox_oldest_undispatched_age_seconds").set(0.0);
}
