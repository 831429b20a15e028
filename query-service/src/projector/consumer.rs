//! The Kafka side of the projector: a consumer group on every event topic, batches of whatever
//! messages are ready, offsets stored only after their Postgres transaction committed, and the
//! projection metrics.
//!
//! Offsets: the truth is `consumer_offsets` in Postgres, written in the same transaction as the
//! events it covers. Whenever partitions are assigned, reading starts at the offsets stored there
//! (from the beginning for a partition this read model never stored one for), so a group's Kafka
//! offsets can neither skip an event the read model never applied nor make a fresh read database
//! miss history. Kafka's auto-commit still commits the offsets stored after each batch, for tools
//! that watch the group. Must not depend on tonic.
//!
//! Wake-ups: the stream is also polled on a timer, not only when librdkafka signals that its queue
//! became non-empty. That signal fires on the empty-to-non-empty edge only, and rust-rdkafka's
//! tracker has reports (issues 638 and 665) of a `StreamConsumer` that stopped waking after a
//! rebalance; an idle poll every 250 ms costs nothing and makes such a stall impossible.

use std::{
    collections::HashMap,
    sync::{
        Arc,
        atomic::{AtomicI64, Ordering},
    },
    time::Duration,
};

use anyhow::Context;
use futures::StreamExt;
use rdkafka::{
    ClientConfig, ClientContext, Message, Offset, TopicPartitionList,
    consumer::{
        BaseConsumer, CommitMode, Consumer, ConsumerContext, RebalanceProtocol, StreamConsumer,
    },
    types::RDKafkaRespErr,
};
use sqlx::{Connection, PgConnection, PgPool, postgres::PgConnectOptions};
use time::OffsetDateTime;
use tokio_util::sync::CancellationToken;

use super::{Delivery, Outcome, Projector, Source, next_offsets};
use crate::outage;

/// How the consumer connects.
#[derive(Debug, Clone)]
pub struct ConsumerConfig {
    pub brokers: String,
    pub group: String,
    pub topic_prefix: String,
}

/// The projector's Kafka consumer.
pub type ProjectorConsumer = StreamConsumer<ProjectorContext>;

/// Longest time the stream goes unpolled while no wake-up came (see the module notes).
const REPOLL_INTERVAL: Duration = Duration::from_millis(250);
/// Longest wait for the stored offsets when partitions are assigned; past it, the group's
/// committed offsets are used (at worst that redelivers events, which the checkpoints skip).
const OFFSET_LOOKUP_TIMEOUT: Duration = Duration::from_secs(5);

/// Creates the group consumer, subscribed to every event topic; assigned partitions start at the
/// offsets stored in `pool`'s database.
pub fn subscribe(config: &ConsumerConfig, pool: &PgPool) -> anyhow::Result<ProjectorConsumer> {
    let context = ProjectorContext {
        offsets: StoredOffsets {
            options: pool.connect_options().as_ref().clone(),
            group: config.group.clone(),
        },
    };
    let consumer: ProjectorConsumer = ClientConfig::new()
        .set("bootstrap.servers", &config.brokers)
        .set("group.id", &config.group)
        .set("client.id", "query-service-projector")
        // A new group projects the whole history: the read model starts empty.
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "true")
        .set("auto.commit.interval.ms", "1000")
        // Only offsets whose events are committed in Postgres may be committed to Kafka.
        .set("enable.auto.offset.store", "false")
        // Low latency from publish to projection: a broker that answers a fetch only when the wait
        // is over (the local one does) adds up to this much to every event (p50 88 ms at 50, 222 ms
        // at 500 in the benchmark); the price is more fetches while idle.
        .set("fetch.wait.max.ms", "50")
        // Topics created after start (by command-service's relay) are picked up soon.
        .set("topic.metadata.refresh.interval.ms", "5000")
        // A crashed instance's partitions move to the others after 10 s, not the default 45 s.
        .set("session.timeout.ms", "10000")
        .set("heartbeat.interval.ms", "2000")
        .create_with_context(context)
        .context("creating the Kafka consumer")?;
    let topics = cqrsplus_domain::topics::prefixed(&config.topic_prefix);
    let names: Vec<&str> = topics.iter().map(String::as_str).collect();
    consumer
        .subscribe(&names)
        .context("subscribing to the event topics")?;
    Ok(consumer)
}

/// Consumes until `shutdown`, applying each ready batch through `projector`.
///
/// The caller keeps a handle on `consumer` too: closing a consumer blocks (it leaves the group),
/// so its last handle must be dropped on a blocking thread, also when this future is dropped
/// before it ends (see `crate::supervisor`).
pub async fn run(
    consumer: Arc<ProjectorConsumer>,
    projector: Projector,
    batch_size: usize,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let last_timestamp_ms = Arc::new(AtomicI64::new(0));
    let batches_done = Arc::new(AtomicI64::new(0));
    let lag = tokio::spawn(report_lag(
        consumer.clone(),
        projector.pool().clone(),
        last_timestamp_ms.clone(),
        batches_done.clone(),
        shutdown.clone(),
    ));
    // Reading and parsing the next batch overlaps with writing the current one: under a backlog
    // both take time, and Postgres and Kafka are different servers.
    let (batches_tx, mut batches) = tokio::sync::mpsc::channel(2);
    let reader = tokio::spawn(read_batches(
        consumer.clone(),
        batch_size,
        batches_tx,
        last_timestamp_ms.clone(),
        shutdown.clone(),
    ));
    loop {
        let deliveries: Vec<Delivery> = tokio::select! {
            () = shutdown.cancelled() => break,
            batch = batches.recv() => match batch {
                Some(batch) => batch,
                None => break,
            },
        };
        let Some(outcomes) = projector.apply_until_done(&deliveries, &shutdown).await else {
            break;
        };
        record(&outcomes);
        batches_done.fetch_add(1, Ordering::Relaxed);
        store_kafka_offsets(&consumer, &deliveries);
        if outcomes
            .iter()
            .any(|o| !matches!(o, Outcome::Applied | Outcome::Duplicate))
        {
            refresh_parked_gauges(projector.pool()).await;
        }
    }
    drop(batches);
    let _ = reader.await;
    // The lag task stops at the same cancellation; waiting for it releases its consumer handle.
    let _ = lag.await;
    // Commit what was stored, then leave the group explicitly (the consumer closes when its last
    // handle drops). A member that vanishes without leaving keeps its partitions until the broker
    // times it out, which delays the next instance by the whole session timeout.
    let _ = tokio::task::spawn_blocking(move || {
        if let Err(e) = consumer.commit_consumer_state(CommitMode::Sync) {
            tracing::debug!(error = %e, "nothing to commit on shutdown");
        }
        drop(consumer);
    })
    .await;
    tracing::info!("projector stopped");
    Ok(())
}

/// Hands the next offsets of the partitions `deliveries` came from to auto-commit.
///
/// Through `store_offsets` and a partition list, which stores each offset as given; the
/// single-partition `store_offset` stores `offset + 1` (librdkafka's `rd_kafka_offset_store`),
/// and passing it the next offset made the group's committed offsets skip one message per
/// partition, which any member starting from them then never read.
fn store_kafka_offsets(consumer: &ProjectorConsumer, deliveries: &[Delivery]) {
    let mut next = TopicPartitionList::new();
    for ((topic, partition), offset) in next_offsets(deliveries) {
        if let Err(e) = next.add_partition_offset(&topic, partition, Offset::Offset(offset)) {
            tracing::debug!(error = %e, topic, partition, "offset not stored");
        }
    }
    if let Err(e) = consumer.store_offsets(&next) {
        // A partition may have been revoked meanwhile; its new owner starts from the offsets in
        // Postgres anyway.
        tracing::debug!(error = %e, "offsets not stored for auto-commit");
    }
}

/// Collects whatever messages are ready (up to `batch_size`) into parsed deliveries and hands
/// them to the writer, until shutdown or until the writer is gone.
async fn read_batches(
    consumer: Arc<ProjectorConsumer>,
    batch_size: usize,
    batches: tokio::sync::mpsc::Sender<Vec<Delivery>>,
    last_timestamp_ms: Arc<AtomicI64>,
    shutdown: CancellationToken,
) {
    let mut chunks = consumer.stream().ready_chunks(batch_size.max(1));
    loop {
        // Dropping an unfinished `next` loses nothing: ready_chunks hands over what it collected
        // within the same poll.
        let chunk = tokio::select! {
            () = shutdown.cancelled() => return,
            chunk = tokio::time::timeout(REPOLL_INTERVAL, chunks.next()) => match chunk {
                Ok(Some(chunk)) => chunk,
                Ok(None) => return,
                Err(_) => continue,
            },
        };
        let mut deliveries = Vec::with_capacity(chunk.len());
        for message in chunk {
            match message {
                Ok(message) => {
                    outage::KAFKA.succeeded();
                    if let Some(ms) = message.timestamp().to_millis() {
                        last_timestamp_ms.store(ms, Ordering::Relaxed);
                    }
                    deliveries.push(Delivery::from_message(
                        Source {
                            topic: message.topic().to_owned(),
                            partition: message.partition(),
                            offset: message.offset(),
                        },
                        message.payload().unwrap_or_default().to_vec(),
                    ));
                }
                // Broker hiccups surface here; librdkafka reconnects by itself. An outage is
                // logged when it starts and when it ends, not for every failed fetch.
                Err(e) => outage::KAFKA.failed(&e),
            }
        }
        if !deliveries.is_empty() && batches.send(deliveries).await.is_err() {
            return;
        }
    }
}

fn record(outcomes: &[Outcome]) {
    let (mut applied, mut duplicate, mut held, mut parked) = (0_u64, 0_u64, 0_u64, 0_u64);
    for outcome in outcomes {
        match outcome {
            Outcome::Applied | Outcome::Skipped => applied += 1,
            Outcome::Duplicate => duplicate += 1,
            Outcome::Held { waiting_for } => {
                held += 1;
                tracing::warn!(waiting_for, "event held: an earlier version is missing");
            }
            Outcome::Parked(reason) => {
                parked += 1;
                tracing::warn!(%reason, "event parked in dead_letters");
            }
        }
    }
    for (outcome, n) in [
        ("applied", applied),
        ("duplicate", duplicate),
        ("held", held),
        ("parked", parked),
    ] {
        if n > 0 {
            metrics::counter!("projection_events_total", "outcome" => outcome).increment(n);
        }
    }
}

/// Sets the dead-letter and held-event gauges from the tables.
pub async fn refresh_parked_gauges(pool: &PgPool) {
    let counts: Result<(i64, i64), _> = sqlx::query_as(
        "select (select count(*) from dead_letters where replayed_at is null and resolved_at is null),
                (select count(*) from held_events)",
    )
    .fetch_one(pool)
    .await;
    match counts {
        Ok((dead, held)) => {
            // Also the projector's probe of the read database while no events arrive: an outage
            // ends here as well as with the next applied batch.
            outage::POSTGRES.succeeded();
            metrics::gauge!("projection_dead_letters").set(dead as f64);
            metrics::gauge!("projection_held_events").set(held as f64);
        }
        Err(e) if outage::is_outage(&e) => outage::POSTGRES.failed(&e),
        Err(e) => tracing::debug!(error = %e, "parked-event gauges not refreshed"),
    }
}

/// Every few seconds: lag in offsets (high watermark minus the consumer position, summed over
/// the assigned partitions) and in seconds (age of the last message consumed while lagging).
/// A lag that does not shrink while no batch completes for 30 s is reported as a stall (metric
/// `projection_stalled` and an error log), so an operator or an alert sees it.
async fn report_lag(
    consumer: Arc<ProjectorConsumer>,
    pool: PgPool,
    last_timestamp_ms: Arc<AtomicI64>,
    batches_done: Arc<AtomicI64>,
    shutdown: CancellationToken,
) {
    const STALL_CHECKS: u32 = 6;
    let mut idle_checks = 0;
    let mut last_batches = batches_done.load(Ordering::Relaxed);
    refresh_parked_gauges(&pool).await;
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(Duration::from_secs(5)) => {}
        }
        let probe = consumer.clone();
        let lag = tokio::task::spawn_blocking(move || offset_lag(&probe)).await;
        let Ok(Some(lag)) = lag else { continue };
        metrics::gauge!("projection_lag_offsets").set(lag as f64);
        let batches = batches_done.load(Ordering::Relaxed);
        idle_checks = if lag > 0 && batches == last_batches {
            idle_checks + 1
        } else {
            0
        };
        last_batches = batches;
        let stalled = idle_checks >= STALL_CHECKS;
        if idle_checks == STALL_CHECKS {
            tracing::error!(
                lag,
                "projector stalled: messages wait but none arrived for 30 s"
            );
        }
        metrics::gauge!("projection_stalled").set(if stalled { 1.0 } else { 0.0 });
        let last = last_timestamp_ms.load(Ordering::Relaxed);
        // Nothing consumed yet in this process: the age is unknown, not 56 years.
        let seconds = if lag == 0 || last == 0 {
            0.0
        } else {
            let now = OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000;
            ((now as i64 - last).max(0) as f64) / 1000.0
        };
        metrics::gauge!("projection_lag_seconds").set(seconds);
        refresh_parked_gauges(&pool).await;
    }
}

/// Blocking: asks the broker for each assigned partition's high watermark.
fn offset_lag(consumer: &ProjectorConsumer) -> Option<i64> {
    let assignment = consumer.assignment().ok()?;
    let positions = consumer.position().ok()?;
    // A partition nothing was read from since it was assigned has no position yet: where the
    // group committed is where reading will start.
    let committed = consumer
        .committed_offsets(assignment.clone(), Duration::from_secs(2))
        .ok();
    let known = |list: Option<&rdkafka::TopicPartitionList>, topic: &str, partition: i32| {
        list.and_then(|l| l.find_partition(topic, partition))
            .and_then(|p| p.offset().to_raw())
            .filter(|o| *o >= 0)
    };
    let mut lag = 0;
    for element in assignment.elements() {
        let (low, high) = consumer
            .fetch_watermarks(element.topic(), element.partition(), Duration::from_secs(2))
            .ok()?;
        let (topic, partition) = (element.topic(), element.partition());
        let position = known(Some(&positions), topic, partition)
            .or_else(|| known(committed.as_ref(), topic, partition))
            .unwrap_or(low);
        lag += (high - position).max(0);
    }
    Some(lag)
}

/// The consumer's hooks: partitions being assigned start at the offsets the read model stored.
pub struct ProjectorContext {
    offsets: StoredOffsets,
}

impl ClientContext for ProjectorContext {
    /// librdkafka reports every failed connection attempt; while the broker is down that is one
    /// line per retry. The outage is logged once through [`outage::KAFKA`] instead, and
    /// librdkafka's own lines go to debug level.
    fn log(&self, level: rdkafka::config::RDKafkaLogLevel, fac: &str, log_message: &str) {
        use rdkafka::config::RDKafkaLogLevel as L;
        match level {
            L::Emerg | L::Alert | L::Critical => {
                tracing::error!(target: "librdkafka", facility = fac, "{log_message}");
            }
            _ => tracing::debug!(target: "librdkafka", facility = fac, "{log_message}"),
        }
    }

    fn error(&self, error: rdkafka::error::KafkaError, reason: &str) {
        outage::KAFKA.failed(&format_args!("{error}: {reason}"));
    }
}

impl ConsumerContext for ProjectorContext {
    fn rebalance(
        &self,
        base_consumer: &BaseConsumer<Self>,
        err: RDKafkaRespErr,
        tpl: &mut TopicPartitionList,
    ) {
        let cooperative = matches!(
            base_consumer.rebalance_protocol(),
            RebalanceProtocol::Cooperative
        );
        let result = match err {
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS => {
                self.offsets.seed(tpl);
                tracing::info!(partitions = %describe(tpl), "partitions assigned");
                if cooperative {
                    base_consumer.incremental_assign(tpl)
                } else {
                    base_consumer.assign(tpl)
                }
            }
            other => {
                if other != RDKafkaRespErr::RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS {
                    tracing::warn!(error = ?other, "rebalance error; giving up the assignment");
                } else {
                    tracing::info!(partitions = %describe(tpl), "partitions revoked");
                }
                if cooperative {
                    base_consumer.incremental_unassign(tpl)
                } else {
                    base_consumer.unassign()
                }
            }
        };
        if let Err(e) = result {
            tracing::error!(error = %e, "applying the rebalance failed");
        }
    }
}

/// `topic/partition@offset, ...` for logs.
fn describe(tpl: &TopicPartitionList) -> String {
    tpl.elements()
        .iter()
        .map(|e| format!("{}/{}@{:?}", e.topic(), e.partition(), e.offset()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Where the read model says each partition continues.
struct StoredOffsets {
    options: PgConnectOptions,
    group: String,
}

impl StoredOffsets {
    /// Sets each partition of `tpl` to its stored next offset, or to the beginning when none is
    /// stored. When the database cannot be read, `tpl` is left as it is (the group's committed
    /// offsets), which can only redeliver.
    fn seed(&self, tpl: &mut TopicPartitionList) {
        let partitions: Vec<(String, i32)> = tpl
            .elements()
            .iter()
            .map(|e| (e.topic().to_owned(), e.partition()))
            .collect();
        if partitions.is_empty() {
            return;
        }
        let stored = match self.lookup(&partitions) {
            Ok(stored) => stored,
            Err(e) => {
                tracing::warn!(error = %e, "stored offsets not read; starting at the group's committed offsets");
                return;
            }
        };
        for (topic, partition) in partitions {
            let offset = stored
                .get(&(topic.clone(), partition))
                .map_or(Offset::Beginning, |next| Offset::Offset(*next));
            if let Err(e) = tpl.set_partition_offset(&topic, partition, offset) {
                tracing::warn!(error = %e, topic, partition, "start offset not set");
            }
        }
    }

    /// Blocking. The rebalance callback runs inside librdkafka's poll, on whatever thread polls
    /// the stream (possibly the only thread of a runtime), so the query runs on a thread and
    /// connection of its own rather than on the caller's runtime.
    fn lookup(&self, partitions: &[(String, i32)]) -> anyhow::Result<HashMap<(String, i32), i64>> {
        let options = self.options.clone();
        let group = self.group.clone();
        let (topics, numbers): (Vec<String>, Vec<i32>) = partitions.iter().cloned().unzip();
        std::thread::scope(|scope| {
            scope
                .spawn(move || {
                    let runtime = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                        .context("starting the offset lookup")?;
                    runtime.block_on(async move {
                        let query = async {
                            let mut conn = PgConnection::connect_with(&options).await?;
                            let rows: Vec<(String, i32, i64)> = sqlx::query_as(
                                "select o.topic, o.partition, o.next_offset
                                   from consumer_offsets o
                                   join unnest($2::text[], $3::int4[]) as p(topic, partition)
                                     on p.topic = o.topic and p.partition = o.partition
                                  where o.consumer_group = $1",
                            )
                            .bind(&group)
                            .bind(&topics)
                            .bind(&numbers)
                            .fetch_all(&mut conn)
                            .await?;
                            let _ = conn.close().await;
                            Ok::<_, sqlx::Error>(rows)
                        };
                        let rows = tokio::time::timeout(OFFSET_LOOKUP_TIMEOUT, query)
                            .await
                            .context("reading the stored offsets timed out")?
                            .context("reading the stored offsets")?;
                        Ok(rows
                            .into_iter()
                            .map(|(topic, partition, next)| ((topic, partition), next))
                            .collect())
                    })
                })
                .join()
                .unwrap_or_else(|_| Err(anyhow::anyhow!("the offset lookup panicked")))
        })
    }
}
