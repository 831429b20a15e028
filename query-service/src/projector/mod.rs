//! The projector: applies events to the Postgres read model, exactly once per aggregate version.
//!
//! A batch of deliveries is applied in one transaction that also advances the checkpoint of every
//! aggregate it touches (and the stored offsets of the partitions it came from): versions at or
//! below the checkpoint are skipped, versions after a gap are held in `held_events` and applied
//! when the gap closes, and events that cannot be applied are parked in `dead_letters`. If a batch
//! fails for a reason retrying cannot cure, its events are applied one by one so only the culprit
//! is parked.
//!
//! Only an event that fails on a healthy database is parked: a read-model invariant the plan
//! broke, or a statement the database refused because of the data (see
//! [`crate::outage::blames_the_data`]). Anything else (the database unreachable or not accepting
//! connections, a connection dropped mid-batch, a lost race) is not the event's fault: the batch
//! is handed back as an error, and [`Projector::apply_until_done`] pauses and retries it with
//! backoff, logging the outage once when it starts and once when it ends.
//!
//! - `plan`: pure decisions and folding; `write`: the SQL; `consumer`: the Kafka loop and metrics;
//!   `dead_letters`: listing and replaying parked events.
//!
//! Must not depend on tonic: the gRPC admin layer and the rebuild call into it.

pub mod consumer;
pub mod dead_letters;
pub mod plan;
pub mod write;

use std::{
    collections::{BTreeMap, HashMap, HashSet},
    sync::Arc,
};

use std::time::Duration;

use cqrsplus_domain::EventEnvelope;
use sqlx::{PgConnection, PgPool};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::outage;

pub use plan::{Delivery, Outcome, Source};
use write::WriteError;

/// Applies batches of deliveries to the read model behind `pool`.
#[derive(Clone)]
pub struct Projector {
    pool: PgPool,
    /// The consumer group whose offsets are stored with each batch; none for rebuilds.
    group: Option<String>,
    /// Ids of events an admin resolved as skipped, for a rebuild to honour; empty when live (the
    /// live read model already advanced past them when they were skipped).
    skip: Arc<HashSet<Uuid>>,
}

impl Projector {
    pub fn new(pool: PgPool, group: Option<String>) -> Self {
        Self {
            pool,
            group,
            skip: Arc::default(),
        }
    }

    /// This projector, treating the events `skip` names as done without applying them.
    pub fn skipping(mut self, skip: HashSet<Uuid>) -> Self {
        self.skip = Arc::new(skip);
        self
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Applies `deliveries` (in arrival order) and says what happened to each. An error means
    /// nothing was written and the same batch should be tried again later: it failed for a reason
    /// that is not the fault of any of its events (the database is unreachable, a connection
    /// dropped, a transaction lost a race).
    pub async fn apply(&self, deliveries: &[Delivery]) -> Result<Vec<Outcome>, sqlx::Error> {
        match self.apply_in_one_transaction(deliveries).await {
            Ok(outcomes) => return Ok(outcomes),
            Err(WriteError::Database(e)) if !outage::blames_the_data(&e) => return Err(e),
            Err(err) if deliveries.len() == 1 => {
                let reason = err.to_string();
                tracing::warn!(error = %reason, "parking an event that cannot be applied");
                self.park_alone(&deliveries[0], &reason).await?;
                return Ok(vec![Outcome::Parked(reason)]);
            }
            Err(err) => {
                tracing::warn!(error = %err, size = deliveries.len(), "batch failed; applying its events one by one");
            }
        }
        let mut outcomes = Vec::with_capacity(deliveries.len());
        for delivery in deliveries {
            let one = std::slice::from_ref(delivery);
            match self.apply_in_one_transaction(one).await {
                Ok(mut outcome) => outcomes.append(&mut outcome),
                Err(WriteError::Database(e)) if !outage::blames_the_data(&e) => return Err(e),
                Err(err) => {
                    let reason = err.to_string();
                    tracing::warn!(error = %reason, "parking an event that cannot be applied");
                    self.park_alone(delivery, &reason).await?;
                    outcomes.push(Outcome::Parked(reason));
                }
            }
        }
        Ok(outcomes)
    }

    /// Applies `deliveries` like [`Projector::apply`], retrying with backoff (100 ms doubling to
    /// 5 s) for as long as the batch fails through no fault of its events; `None` when `shutdown`
    /// came first. The outage is logged when it starts and when it ends, not at every retry.
    pub async fn apply_until_done(
        &self,
        deliveries: &[Delivery],
        shutdown: &CancellationToken,
    ) -> Option<Vec<Outcome>> {
        let mut backoff = Duration::from_millis(100);
        loop {
            match self.apply(deliveries).await {
                Ok(outcomes) => {
                    outage::POSTGRES.succeeded();
                    return Some(outcomes);
                }
                Err(e) => {
                    outage::POSTGRES.failed(&e);
                    tracing::debug!(error = %e, retry_in = ?backoff, "projection batch failed; retrying");
                    metrics::counter!("projection_retries_total").increment(1);
                    tokio::select! {
                        () = shutdown.cancelled() => return None,
                        () = tokio::time::sleep(backoff) => {}
                    }
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                }
            }
        }
    }

    /// Applies the events held for `aggregate_id` that its checkpoint now reaches (after an admin
    /// skipped the version they waited for), and says how many were applied.
    pub async fn release_held(&self, aggregate_id: Uuid) -> Result<u64, sqlx::Error> {
        let mut tx = self.pool.begin().await?;
        let (checkpoints, held) = load_state(&mut tx, &[aggregate_id]).await?;
        let plan = plan::plan(&[], &checkpoints, held, &self.skip);
        match write::write(&mut tx, &plan, &[]).await {
            Ok(()) => {}
            Err(WriteError::Database(e)) => return Err(e),
            // A held event that cannot be applied stays held behind the gap; a later replay of it
            // (once it is parked by a redelivery) reports why.
            Err(WriteError::Invariant(e)) => {
                tracing::warn!(error = %e, %aggregate_id, "held events not released");
                return Ok(0);
            }
        }
        tx.commit().await?;
        Ok(plan.done.len() as u64)
    }

    async fn apply_in_one_transaction(
        &self,
        deliveries: &[Delivery],
    ) -> Result<Vec<Outcome>, WriteError> {
        let mut tx = self.pool.begin().await?;
        let mut ids: Vec<Uuid> = deliveries
            .iter()
            .filter_map(|d| d.envelope.as_ref().ok().map(|e| e.aggregate_id))
            .collect();
        ids.sort_unstable();
        ids.dedup();
        let (checkpoints, held) = load_state(&mut tx, &ids).await?;
        let plan = plan::plan(deliveries, &checkpoints, held, &self.skip);
        write::write(&mut tx, &plan, deliveries).await?;
        self.store_offsets(&mut tx, deliveries).await?;
        tx.commit().await?;
        Ok(plan.outcomes)
    }

    /// Parks one delivery that failed on its own, and moves its partition's offset past it.
    async fn park_alone(&self, delivery: &Delivery, reason: &str) -> Result<(), sqlx::Error> {
        let mut tx = self.pool.begin().await?;
        write::park(&mut tx, delivery, reason).await?;
        self.store_offsets(&mut tx, std::slice::from_ref(delivery))
            .await?;
        tx.commit().await
    }

    async fn store_offsets(
        &self,
        conn: &mut PgConnection,
        deliveries: &[Delivery],
    ) -> Result<(), sqlx::Error> {
        let Some(group) = &self.group else {
            return Ok(());
        };
        let next = next_offsets(deliveries);
        if next.is_empty() {
            return Ok(());
        }
        let topics: Vec<&str> = next.keys().map(|(t, _)| t.as_str()).collect();
        let partitions: Vec<i32> = next.keys().map(|(_, p)| *p).collect();
        let offsets: Vec<i64> = next.values().copied().collect();
        sqlx::query(
            "insert into consumer_offsets (consumer_group, topic, partition, next_offset)
             select $1, * from unnest($2::text[], $3::int4[], $4::int8[])
             on conflict (consumer_group, topic, partition) do update
                set next_offset = greatest(consumer_offsets.next_offset, excluded.next_offset),
                    updated_at = now()",
        )
        .bind(group)
        .bind(&topics)
        .bind(&partitions)
        .bind(&offsets)
        .execute(conn)
        .await?;
        Ok(())
    }
}

/// The next offset to read per (topic, partition) after `deliveries`.
pub fn next_offsets(deliveries: &[Delivery]) -> BTreeMap<(String, i32), i64> {
    let mut next = BTreeMap::new();
    for source in deliveries.iter().filter_map(|d| d.source.as_ref()) {
        let slot = next
            .entry((source.topic.clone(), source.partition))
            .or_insert(0);
        *slot = (*slot).max(source.offset + 1);
    }
    next
}

/// Locks and reads the checkpoints of `ids` (sorted, so concurrent batches lock in the same
/// order) and the events held for them.
async fn load_state(
    conn: &mut PgConnection,
    ids: &[Uuid],
) -> Result<(HashMap<Uuid, u64>, Vec<EventEnvelope>), sqlx::Error> {
    if ids.is_empty() {
        return Ok((HashMap::new(), Vec::new()));
    }
    let rows: Vec<(Uuid, i64)> = sqlx::query_as(
        "select aggregate_id, version from projection_checkpoints
          where aggregate_id = any($1) order by aggregate_id for update",
    )
    .bind(ids)
    .fetch_all(&mut *conn)
    .await?;
    let checkpoints = rows
        .into_iter()
        .map(|(id, v)| (id, u64::try_from(v).unwrap_or(0)))
        .collect();
    let payloads: Vec<Vec<u8>> = sqlx::query_scalar(
        "select payload from held_events where aggregate_id = any($1)
          order by aggregate_id, version",
    )
    .bind(ids)
    .fetch_all(&mut *conn)
    .await?;
    // Held payloads parsed when they were held; one that no longer does stays held and reported.
    let held = payloads
        .iter()
        .filter_map(|p| serde_json::from_slice(p).ok())
        .collect();
    Ok((checkpoints, held))
}
