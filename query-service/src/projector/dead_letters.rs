//! Parked events: listing them for operators and replaying them through the projector.
//!
//! A replay feeds the parked message to [`Projector::apply`] exactly as if it had just arrived:
//! applied, duplicate or now merely held behind a gap, it leaves the dead letters; parked again,
//! it stays with the new error and one more attempt. Must not depend on tonic.

use sqlx::PgPool;
use time::OffsetDateTime;

use super::{Delivery, Outcome, Projector, Source};

/// A parked event as stored.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DeadLetter {
    pub id: i64,
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
    pub payload: Vec<u8>,
    pub error: String,
    pub attempts: i32,
    pub parked_at: OffsetDateTime,
    pub last_attempt_at: OffsetDateTime,
}

/// Up to `limit` parked events after id `after` (exclusive), oldest first, and how many wait in
/// all.
pub async fn list(
    pool: &PgPool,
    after: Option<i64>,
    limit: i64,
) -> Result<(Vec<DeadLetter>, u64), sqlx::Error> {
    let rows = sqlx::query_as::<_, DeadLetter>(
        "select id, topic, partition, \"offset\", payload, error, attempts, parked_at,
                last_attempt_at
           from dead_letters
          where replayed_at is null and id > coalesce($1, 0)
          order by id
          limit $2",
    )
    .bind(after)
    .bind(limit)
    .fetch_all(pool)
    .await?;
    let total: i64 =
        sqlx::query_scalar("select count(*) from dead_letters where replayed_at is null")
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
    /// Requested ids that are not parked (unknown, or already replayed).
    pub unknown: Vec<i64>,
}

/// Replays the given parked events, or all of them (oldest first) when `ids` is `None`.
pub async fn replay(projector: &Projector, ids: Option<&[i64]>) -> Result<Replayed, sqlx::Error> {
    let pool = projector.pool();
    let letters: Vec<DeadLetter> = sqlx::query_as(
        "select id, topic, partition, \"offset\", payload, error, attempts, parked_at,
                last_attempt_at
           from dead_letters
          where replayed_at is null and ($1::int8[] is null or id = any($1))
          order by id",
    )
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
        let delivery = Delivery::from_message(
            Source {
                topic: letter.topic.clone(),
                partition: letter.partition,
                offset: letter.offset,
            },
            letter.payload.clone(),
        );
        let outcome = projector
            .apply(std::slice::from_ref(&delivery))
            .await?
            .pop();
        match outcome {
            Some(Outcome::Parked(_)) | None => result.failed.push(letter.id),
            Some(Outcome::Applied | Outcome::Duplicate | Outcome::Held { .. }) => {
                sqlx::query("update dead_letters set replayed_at = now() where id = $1")
                    .bind(letter.id)
                    .execute(pool)
                    .await?;
                result.replayed += 1;
            }
        }
    }
    Ok(result)
}
