//! Parked events: listing them for operators, replaying them through the projector, and resolving
//! them for good ("skip, with a reason").
//!
//! A replay feeds the parked message to [`Projector::apply`] exactly as if it had just arrived:
//! applied or now merely held behind a gap, it leaves the dead letters; parked again, it stays with
//! the new error and one more attempt.
//!
//! A replay whose version the aggregate has already passed is not taken for a duplicate on the
//! version alone: the event id applied at that version (`projected_events`) must be the letter's.
//! - the same id: the event was applied meanwhile (a redelivery), so the letter leaves the list;
//! - a different id: the read model holds another event at that version, so this message is not
//!   the event the store has there (a stale or foreign publish). Marking it replayed would hide
//!   that; applying it would rewrite history. It stays parked, with an error saying so, for an
//!   admin to skip with a reason once understood;
//! - no record (versions applied before event ids were recorded): the same, since it cannot be
//!   told apart.
//!
//! Skipping resolves a letter (who, when, why are kept) and, when the aggregate waits exactly for
//! that version, counts the version as done and applies the events held behind it. Must not depend
//! on tonic.

use sqlx::PgPool;
use time::OffsetDateTime;
use uuid::Uuid;

use super::{Delivery, Outcome, Projector, Source};

/// A parked event as stored.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DeadLetter {
    pub id: i64,
    pub event_id: Option<Uuid>,
    pub aggregate_id: Option<Uuid>,
    pub version: Option<i64>,
    /// None for an event a rebuild parked (read from the event store, not from Kafka).
    pub topic: Option<String>,
    pub partition: Option<i32>,
    pub offset: Option<i64>,
    pub payload: Vec<u8>,
    pub error: String,
    pub attempts: i32,
    pub parked_at: OffsetDateTime,
    pub last_attempt_at: OffsetDateTime,
}

impl DeadLetter {
    /// The letter as the delivery it was, to apply again.
    fn delivery(&self) -> Delivery {
        let mut delivery = Delivery::from_message(
            Source {
                topic: String::new(),
                partition: 0,
                offset: 0,
            },
            self.payload.clone(),
        );
        delivery.source = match (&self.topic, self.partition, self.offset) {
            (Some(topic), Some(partition), Some(offset)) => Some(Source {
                topic: topic.clone(),
                partition,
                offset,
            }),
            _ => None,
        };
        delivery
    }
}

const COLUMNS: &str = "id, event_id, aggregate_id, version, topic, partition, \"offset\", payload,
                       error, attempts, parked_at, last_attempt_at";
/// Neither replayed nor resolved: what waits for an admin.
const ACTIVE: &str = "replayed_at is null and resolved_at is null";

/// Up to `limit` parked events after id `after` (exclusive), oldest first, and how many wait in
/// all.
pub async fn list(
    pool: &PgPool,
    after: Option<i64>,
    limit: i64,
) -> Result<(Vec<DeadLetter>, u64), sqlx::Error> {
    let rows = sqlx::query_as::<_, DeadLetter>(sqlx::AssertSqlSafe(format!(
        "select {COLUMNS} from dead_letters
          where {ACTIVE} and id > coalesce($1, 0)
          order by id
          limit $2"
    )))
    .bind(after)
    .bind(limit)
    .fetch_all(pool)
    .await?;
    let total: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "select count(*) from dead_letters where {ACTIVE}"
    )))
    .fetch_one(pool)
    .await?;
    Ok((rows, u64::try_from(total).unwrap_or(0)))
}

/// What a replay did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Replayed {
    pub replayed: u64,
    /// Ids that failed again (still parked).
    pub failed: Vec<i64>,
    /// Requested ids that are not parked (unknown, replayed or resolved).
    pub unknown: Vec<i64>,
}

/// Replays the given parked events, or all of them (oldest first) when `ids` is `None`.
pub async fn replay(projector: &Projector, ids: Option<&[i64]>) -> Result<Replayed, sqlx::Error> {
    let pool = projector.pool();
    let letters: Vec<DeadLetter> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {COLUMNS} from dead_letters
          where {ACTIVE} and ($1::int8[] is null or id = any($1))
          order by id"
    )))
    .bind(ids)
    .fetch_all(pool)
    .await?;
    let mut result = Replayed::default();
    if let Some(ids) = ids {
        result.unknown = ids
            .iter()
            .filter(|id| !letters.iter().any(|l| l.id == **id))
            .copied()
            .collect();
        if !result.unknown.is_empty() {
            return Ok(result);
        }
    }
    for letter in letters {
        let delivery = letter.delivery();
        let outcome = projector
            .apply(std::slice::from_ref(&delivery))
            .await?
            .pop();
        let done = match outcome {
            Some(Outcome::Parked(_)) | None => false,
            Some(Outcome::Applied | Outcome::Held { .. } | Outcome::Skipped) => true,
            Some(Outcome::Duplicate) => same_event_applied(pool, &letter).await?,
        };
        if done {
            sqlx::query("update dead_letters set replayed_at = now() where id = $1")
                .bind(letter.id)
                .execute(pool)
                .await?;
            result.replayed += 1;
        } else {
            result.failed.push(letter.id);
        }
    }
    Ok(result)
}

/// For a replayed letter whose version the aggregate has passed: whether the event applied at
/// that version is this letter's event. When it is not (or cannot be told), the letter stays
/// parked with an error that says so.
async fn same_event_applied(pool: &PgPool, letter: &DeadLetter) -> Result<bool, sqlx::Error> {
    let (Some(event_id), Some(aggregate_id), Some(version)) =
        (letter.event_id, letter.aggregate_id, letter.version)
    else {
        return Ok(false);
    };
    let applied: Option<Uuid> = sqlx::query_scalar(
        "select event_id from projected_events where aggregate_id = $1 and version = $2",
    )
    .bind(aggregate_id)
    .bind(version)
    .fetch_optional(pool)
    .await?;
    let error = match applied {
        Some(applied) if applied == event_id => return Ok(true),
        Some(applied) => format!(
            "version {version} of {aggregate_id} was applied from event {applied}; this is event \
             {event_id}, which the store does not hold at that version. Left parked rather than \
             taken for a duplicate: skip it with a reason if it is obsolete"
        ),
        None => format!(
            "version {version} of {aggregate_id} was applied before the read model recorded event \
             ids, so whether it was this event {event_id} cannot be told. Left parked rather than \
             taken for a duplicate: skip it with a reason once checked"
        ),
    };
    sqlx::query(
        "update dead_letters set error = $2, attempts = attempts + 1, last_attempt_at = now()
          where id = $1",
    )
    .bind(letter.id)
    .bind(&error)
    .execute(pool)
    .await?;
    Ok(false)
}

/// The longest skip reason kept, in characters.
pub const MAX_REASON_CHARS: usize = 1000;

/// What skipping a dead letter did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    pub id: i64,
    pub resolved_at: OffsetDateTime,
    pub resolved_by: String,
    pub reason: String,
    /// Whether the aggregate's checkpoint moved past the skipped version.
    pub checkpoint_advanced: bool,
    /// Events held behind the skipped one and applied now.
    pub released: u64,
}

/// Why a skip was refused.
#[derive(Debug, thiserror::Error)]
pub enum SkipError {
    #[error("no parked event with id {0}")]
    NotParked(i64),
    /// The aggregate has not reached the version just before this one: skipping now would leave a
    /// gap nobody fills.
    #[error(
        "version {version} of {aggregate_id} cannot be skipped yet: the read model has it at \
         version {checkpoint}{blocker}"
    )]
    NotNext {
        aggregate_id: Uuid,
        version: i64,
        checkpoint: i64,
        blocker: String,
    },
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// Resolves parked event `id` for good: recorded as skipped by `actor` with `reason`, it leaves
/// the active list. If its aggregate waits exactly for its version, that version counts as done
/// (the event itself is never applied) and the events held behind it are applied.
pub async fn skip(
    projector: &Projector,
    id: i64,
    actor: &str,
    reason: &str,
) -> Result<Skipped, SkipError> {
    let pool = projector.pool();
    let mut tx = pool.begin().await?;
    let letter: Option<DeadLetter> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {COLUMNS} from dead_letters where id = $1 and {ACTIVE} for update"
    )))
    .bind(id)
    .fetch_optional(&mut *tx)
    .await?;
    let letter = letter.ok_or(SkipError::NotParked(id))?;
    let mut advance = None;
    if let (Some(event_id), Some(aggregate_id), Some(version)) =
        (letter.event_id, letter.aggregate_id, letter.version)
    {
        let checkpoint: Option<(i64, String)> = sqlx::query_as(
            "select version, aggregate_type from projection_checkpoints
              where aggregate_id = $1 for update",
        )
        .bind(aggregate_id)
        .fetch_optional(&mut *tx)
        .await?;
        let at = checkpoint.as_ref().map_or(0, |(v, _)| *v);
        if at == version - 1 {
            advance = Some((event_id, aggregate_id, version));
        } else if at < version - 1 {
            let earlier: Option<i64> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                "select id from dead_letters
                  where aggregate_id = $1 and version < $2 and {ACTIVE}
                  order by version limit 1"
            )))
            .bind(aggregate_id)
            .bind(version)
            .fetch_optional(&mut *tx)
            .await?;
            return Err(SkipError::NotNext {
                aggregate_id,
                version,
                checkpoint: at,
                blocker: match earlier {
                    Some(earlier) => format!("; resolve dead letter {earlier} first"),
                    None => format!("; version {} has not arrived yet", at + 1),
                },
            });
        }
        // Past it already (applied by a redelivery): resolving changes nothing else.
    }
    let (resolved_at,): (OffsetDateTime,) = sqlx::query_as(
        "update dead_letters set resolved_at = now(), resolved_by = $2, resolution = $3
          where id = $1 returning resolved_at",
    )
    .bind(id)
    .bind(actor)
    .bind(reason)
    .fetch_one(&mut *tx)
    .await?;
    if let Some((event_id, aggregate_id, version)) = advance {
        let aggregate_type =
            serde_json::from_slice::<cqrsplus_domain::EventEnvelope>(&letter.payload)
                .map(|e| e.aggregate_type)
                .unwrap_or_default();
        sqlx::query(
            "insert into projection_checkpoints (aggregate_id, aggregate_type, version)
             values ($1, $2, $3)
             on conflict (aggregate_id) do update set version = excluded.version, updated_at = now()",
        )
        .bind(aggregate_id)
        .bind(&aggregate_type)
        .bind(version)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "insert into projected_events (aggregate_id, version, event_id) values ($1, $2, $3)
             on conflict (aggregate_id, version) do nothing",
        )
        .bind(aggregate_id)
        .bind(version)
        .bind(event_id)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    tracing::info!(id, actor, reason, "dead letter skipped");
    let released = match advance {
        Some((_, aggregate_id, _)) => projector.release_held(aggregate_id).await?,
        None => 0,
    };
    Ok(Skipped {
        id,
        resolved_at,
        resolved_by: actor.to_owned(),
        reason: reason.to_owned(),
        checkpoint_advanced: advance.is_some(),
        released,
    })
}

/// Ids of the events admins skipped, for a rebuild to skip too.
pub async fn skipped_event_ids(pool: &PgPool) -> Result<Vec<Uuid>, sqlx::Error> {
    sqlx::query_scalar(
        "select event_id from dead_letters where resolved_at is not null and event_id is not null",
    )
    .fetch_all(pool)
    .await
}
