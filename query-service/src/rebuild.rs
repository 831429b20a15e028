//! Rebuilding the read model without downtime.
//!
//! The whole event store is replayed (command-service's EventStore.ReadAll) into a fresh schema,
//! migrated by the same migrations, while readers and the live projector keep using the current
//! one. The switch then happens in one transaction: it locks the live checkpoints (pausing every
//! projector instance), replays what the store gained meanwhile, carries the dead letters and
//! stored offsets over, and swaps the schema names. The old schema is dropped afterwards.
//!
//! Why this is safe: the live projector applies only events that are already in the store, so
//! the catch-up read made while the live checkpoints are locked covers everything it applied
//! (it starts a few seconds before the first pass's cursor, for commits whose insert was still in
//! flight when the first pass read past their position); whatever it applies after the swap lands
//! in the new schema, where the checkpoints skip what the rebuild already applied. Only one
//! rebuild runs at a time across instances (an advisory lock).
//!
//! An event the rebuild cannot apply never stops it: it is parked in the fresh schema's dead
//! letters (as the live projector would park it, identified by its event id since it has no Kafka
//! source) and the aggregate's later events are held behind it. Events an admin skipped in the live
//! read model are skipped again. At the switch the live dead letters are carried over with their
//! ids; a rebuild-parked event that the live list already holds is kept once, as the live letter
//! (its id and history are what admins know).
//!
//! Must not depend on Kafka; the gRPC admin layer and the CLI drive it.

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use anyhow::{Context, anyhow, bail};
use cqrsplus_proto::{
    command::v1::{ReadAllRequest, event_store_client::EventStoreClient},
    convert::envelope_from_pb,
};
use sqlx::{
    Connection, PgConnection, PgPool,
    postgres::{PgConnectOptions, PgPoolOptions},
};
use time::OffsetDateTime;
use tonic::transport::Channel;
use uuid::Uuid;

use crate::{
    projector::{Delivery, Outcome, Projector, dead_letters},
    read_model::MIGRATOR,
};

/// Key of the advisory lock only one rebuild holds.
const REBUILD_LOCK: i64 = 0x6371_7273_7265_6275; // "cqrsrebu"
/// Commits per ReadAll page (the server's maximum).
const PAGE_SIZE: u32 = 1000;
/// How far before its cursor the final catch-up reads again. Longer than a commit's insert can
/// take (positions are taken just before it), kept short because the live projectors wait
/// while it is read.
const CATCH_UP_OVERLAP_MS: u32 = 5_000;

/// Where a rebuild is (mirrors the admin contract's RebuildState).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Running,
    Switching,
    Completed,
    Failed,
}

/// The progress of one rebuild, as the admin RPC and the CLI show it.
#[derive(Debug, Clone)]
pub struct Progress {
    pub id: Uuid,
    pub state: State,
    pub events_applied: u64,
    pub events_total: u64,
    pub started_at: OffsetDateTime,
    pub finished_at: Option<OffsetDateTime>,
    pub error: Option<String>,
    pub target_schema: String,
    /// Events parked in the fresh schema because they cannot be applied.
    pub events_parked: u64,
    /// Events held behind a parked one (or behind a version the store lacks).
    pub events_held: u64,
}

impl Progress {
    /// Percentage done, capped at 100 (the store may grow during the rebuild); 100 once completed.
    pub fn percent(&self) -> f64 {
        if self.state == State::Completed {
            return 100.0;
        }
        if self.events_total == 0 {
            return 0.0;
        }
        (self.events_applied as f64 / self.events_total as f64 * 100.0).min(100.0)
    }
}

/// Shared view of a rebuild's progress.
pub type ProgressHandle = Arc<Mutex<Progress>>;

fn update(handle: &ProgressHandle, f: impl FnOnce(&mut Progress)) {
    // A poisoned lock only means a reader panicked; the data is still a plain struct.
    let mut guard = handle.lock().unwrap_or_else(|e| e.into_inner());
    f(&mut guard);
}

/// What a rebuild needs: the live database and command-service.
#[derive(Clone)]
pub struct Rebuild {
    pub database_url: String,
    pub command_service_url: String,
    /// Events per transaction in the fresh schema.
    pub batch_size: usize,
}

impl Rebuild {
    /// A rebuild of the read model `config` names, through its command-service, in batches of
    /// the projector's size.
    pub fn from_config(config: &crate::config::Config) -> Self {
        Self {
            database_url: config.database_url.clone(),
            command_service_url: config.command_service_url.clone(),
            batch_size: config.projector_batch_size as usize,
        }
    }

    /// Prepares a rebuild: takes the rebuild lock on a dedicated connection (held until the rebuild
    /// ends) and returns its progress handle and the future that runs it. Fails at once if another
    /// rebuild holds the lock.
    pub async fn prepare(
        &self,
    ) -> anyhow::Result<(
        ProgressHandle,
        impl Future<Output = anyhow::Result<()>> + use<>,
    )> {
        let mut lock = PgConnection::connect(&self.database_url)
            .await
            .context("connecting to the read database")?;
        let locked: bool = sqlx::query_scalar("select pg_try_advisory_lock($1)")
            .bind(REBUILD_LOCK)
            .fetch_one(&mut lock)
            .await?;
        if !locked {
            bail!("another rebuild is running");
        }
        let id = Uuid::now_v7();
        let handle = Arc::new(Mutex::new(Progress {
            id,
            state: State::Running,
            events_applied: 0,
            events_total: 0,
            started_at: OffsetDateTime::now_utc(),
            finished_at: None,
            error: None,
            target_schema: format!("rebuild_{}", id.simple()),
            events_parked: 0,
            events_held: 0,
        }));
        let this = self.clone();
        let progress = handle.clone();
        let run = async move {
            let result = this.run(&progress).await;
            update(&progress, |p| {
                p.finished_at = Some(OffsetDateTime::now_utc());
                match &result {
                    Ok(()) => p.state = State::Completed,
                    Err(e) => {
                        p.state = State::Failed;
                        p.error = Some(format!("{e:#}"));
                    }
                }
            });
            // Closing the connection releases the advisory lock.
            let _ = lock.close().await;
            result
        };
        Ok((handle, run))
    }

    async fn run(&self, progress: &ProgressHandle) -> anyhow::Result<()> {
        let schema = progress
            .lock()
            .map(|p| p.target_schema.clone())
            .unwrap_or_else(|e| e.into_inner().target_schema.clone());
        let live = PgPoolOptions::new()
            .max_connections(2)
            .connect(&self.database_url)
            .await
            .context("connecting to the read database")?;
        drop_leftovers(&live).await?;
        let result = self.build_and_switch(&live, &schema, progress).await;
        if result.is_err() {
            // The live schema was never touched; only the half-built one goes.
            let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
                "drop schema if exists {schema} cascade"
            )))
            .execute(&live)
            .await;
        }
        live.close().await;
        result
    }

    async fn build_and_switch(
        &self,
        live: &PgPool,
        schema: &str,
        progress: &ProgressHandle,
    ) -> anyhow::Result<()> {
        sqlx::query(sqlx::AssertSqlSafe(format!("create schema {schema}")))
            .execute(live)
            .await
            .context("creating the rebuild schema")?;
        let options: PgConnectOptions = self
            .database_url
            .parse::<PgConnectOptions>()
            .context("parsing DATABASE_URL")?
            .options([("search_path", schema)]);
        let fresh = PgPoolOptions::new()
            .max_connections(2)
            .connect_with(options)
            .await
            .context("connecting to the rebuild schema")?;
        MIGRATOR
            .run(&fresh)
            .await
            .context("migrating the rebuild schema")?;
        let skipped = dead_letters::skipped_event_ids(live)
            .await
            .context("reading the skipped dead letters")?;
        let projector = Projector::new(fresh.clone(), None).skipping(skipped.into_iter().collect());
        let mut store = EventStoreClient::connect(self.command_service_url.clone())
            .await
            .with_context(|| {
                format!(
                    "connecting to command-service at {}",
                    self.command_service_url
                )
            })?
            // A page is up to 1000 commits, and a commit may carry many events.
            .max_decoding_message_size(256 * 1024 * 1024);

        tracing::info!(%schema, "rebuild: replaying the event store");
        let cursor = self
            .replay(&mut store, &projector, String::new(), 0, progress)
            .await?;

        update(progress, |p| p.state = State::Switching);
        tracing::info!(%schema, "rebuild: switching readers");
        let mut tx = live.begin().await?;
        let live_schema: String = sqlx::query_scalar("select current_schema()")
            .fetch_one(&mut *tx)
            .await?;
        // Every projector instance's next checkpoint lock waits here until the swap commits.
        sqlx::query("lock table projection_checkpoints in exclusive mode")
            .execute(&mut *tx)
            .await
            .context("pausing the live projectors")?;
        // Re-read a margin before the cursor: a commit whose insert was in flight while the first
        // pass read past its position is in the store now, and the live projector may have
        // applied it. What the fresh schema already has, its checkpoints skip.
        self.replay(
            &mut store,
            &projector,
            cursor,
            CATCH_UP_OVERLAP_MS,
            progress,
        )
        .await?;
        // Counted while running per attempt (the catch-up may meet a parked event again); the
        // exact figures are what the fresh schema holds now.
        let (parked, held): (i64, i64) = sqlx::query_as(
            "select (select count(*) from dead_letters), (select count(*) from held_events)",
        )
        .fetch_one(&fresh)
        .await?;
        update(progress, |p| {
            p.events_parked = u64::try_from(parked).unwrap_or_default();
            p.events_held = u64::try_from(held).unwrap_or_default();
        });
        fresh.close().await;
        let retired = format!("retired_{}", Uuid::now_v7().simple());
        // The rebuild's own dead letters move aside while the live ones come over with their ids,
        // then come back under new ids after them (minus those the live list already holds).
        let rebuild_parked = format!("rebuild_parked_{}", Uuid::now_v7().simple());
        for statement in [
            format!(
                "delete from {schema}.dead_letters f using {live_schema}.dead_letters l
                  where f.event_id = l.event_id
                    and l.replayed_at is null and l.resolved_at is null"
            ),
            format!(
                "create temporary table {rebuild_parked} on commit drop as
                 select * from {schema}.dead_letters"
            ),
            format!("delete from {schema}.dead_letters"),
            format!(
                "insert into {schema}.dead_letters overriding system value select * from {live_schema}.dead_letters"
            ),
            format!(
                "select setval(pg_get_serial_sequence('{schema}.dead_letters', 'id'),
                               greatest((select max(id) from {schema}.dead_letters), 1))"
            ),
            format!(
                "insert into {schema}.dead_letters
                        (event_id, event_type, aggregate_type, aggregate_id, version, topic,
                         partition, \"offset\", payload, error, attempts, parked_at, replayed_at,
                         last_attempt_at, resolved_at, resolved_by, resolution)
                 select event_id, event_type, aggregate_type, aggregate_id, version, topic,
                        partition, \"offset\", payload, error, attempts, parked_at, replayed_at,
                        last_attempt_at, resolved_at, resolved_by, resolution
                   from {rebuild_parked} order by id"
            ),
            format!(
                "insert into {schema}.consumer_offsets select * from {live_schema}.consumer_offsets"
            ),
            format!("alter schema {live_schema} rename to {retired}"),
            format!("alter schema {schema} rename to {live_schema}"),
        ] {
            sqlx::query(sqlx::AssertSqlSafe(statement))
                .execute(&mut *tx)
                .await
                .context("switching to the rebuilt schema")?;
        }
        tx.commit()
            .await
            .context("switching to the rebuilt schema")?;
        tracing::info!(%retired, "rebuild: readers switched; dropping the old schema");
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "drop schema {retired} cascade"
        )))
        .execute(live)
        .await
        .context("dropping the old schema")?;
        Ok(())
    }

    /// Applies every commit after `cursor` (and those up to `overlap_ms` before it) to the fresh
    /// schema, and returns the cursor at the end.
    async fn replay(
        &self,
        store: &mut EventStoreClient<Channel>,
        projector: &Projector,
        mut cursor: String,
        mut overlap_ms: u32,
        progress: &ProgressHandle,
    ) -> anyhow::Result<String> {
        let mut batch: Vec<Delivery> = Vec::with_capacity(self.batch_size);
        loop {
            let page = store
                .read_all(ReadAllRequest {
                    cursor: cursor.clone(),
                    page_size: PAGE_SIZE,
                    aggregate_types: Vec::new(),
                    overlap_ms: std::mem::take(&mut overlap_ms),
                })
                .await
                .map_err(|s| anyhow!("reading the event store: {}", s.message()))?
                .into_inner();
            if cursor.is_empty() {
                update(progress, |p| p.events_total = page.total_event_count);
            }
            for commit in page.commits {
                for event in commit.events {
                    batch.push(Delivery::from_envelope(envelope_from_pb(event)?));
                }
                if batch.len() >= self.batch_size {
                    apply(projector, &mut batch, progress).await?;
                }
            }
            cursor = page.next_cursor;
            if page.end_of_store {
                apply(projector, &mut batch, progress).await?;
                return Ok(cursor);
            }
        }
    }
}

async fn apply(
    projector: &Projector,
    batch: &mut Vec<Delivery>,
    progress: &ProgressHandle,
) -> anyhow::Result<()> {
    if batch.is_empty() {
        return Ok(());
    }
    let mut backoff = Duration::from_millis(100);
    let outcomes = loop {
        match projector.apply(batch).await {
            Ok(outcomes) => break outcomes,
            Err(e) if backoff < Duration::from_secs(10) => {
                tracing::warn!(error = %e, "rebuild batch failed; retrying");
                tokio::time::sleep(backoff).await;
                backoff *= 2;
            }
            Err(e) => return Err(e).context("applying events to the rebuild schema"),
        }
    };
    let (mut parked, mut held) = (0, 0);
    for (delivery, outcome) in batch.iter().zip(&outcomes) {
        let event = delivery.envelope.as_ref().ok();
        let name = || {
            event.map_or_else(String::new, |e| {
                format!("{} v{} of {}", e.event_type, e.version, e.aggregate_id)
            })
        };
        match outcome {
            Outcome::Applied | Outcome::Duplicate | Outcome::Skipped => {}
            Outcome::Held { waiting_for } => {
                held += 1;
                tracing::debug!(event = %name(), waiting_for, "rebuild: event held behind a gap");
            }
            Outcome::Parked(reason) => {
                parked += 1;
                tracing::warn!(event = %name(), %reason, "rebuild: event parked");
            }
        }
    }
    update(progress, |p| {
        p.events_parked += parked;
        p.events_held += held;
    });
    // Duplicates are the final catch-up's margin read again: already counted.
    let applied = outcomes
        .iter()
        .filter(|o| matches!(o, Outcome::Applied | Outcome::Skipped))
        .count() as u64;
    update(progress, |p| p.events_applied += applied);
    batch.clear();
    Ok(())
}

/// Drops schemas a crashed rebuild left behind. Only called with the rebuild lock held.
async fn drop_leftovers(live: &PgPool) -> anyhow::Result<()> {
    let leftovers: Vec<String> = sqlx::query_scalar(
        "select nspname::text from pg_namespace
          where nspname ~ '^(rebuild|retired)_[0-9a-f]{32}$'",
    )
    .fetch_all(live)
    .await?;
    for schema in leftovers {
        tracing::info!(%schema, "dropping a schema left by an interrupted rebuild");
        sqlx::query(sqlx::AssertSqlSafe(format!("drop schema {schema} cascade")))
            .execute(live)
            .await?;
    }
    Ok(())
}
