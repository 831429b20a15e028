//! Read-your-writes: waiting until the projection has applied the versions named by a request's
//! consistency tokens, for a bounded time, before a query reads the read model.
//!
//! Owns only the wait over `projection_checkpoints` (which the projector advances in the same
//! transaction as the rows it covers, so a met checkpoint means the rows are there). Must not
//! depend on tonic: the gRPC layer reads the caller's deadline and passes it in.

use std::time::Duration;

use cqrsplus_proto::common::v1::ConsistencyToken;
use sqlx::PgPool;
use tokio::time::Instant;
use uuid::Uuid;

use crate::error::ServiceError;

/// Pause between two looks at the checkpoints: short enough that a read waits little longer than
/// the projection needs, long enough that many waiting readers stay cheap for Postgres.
pub const POLL_INTERVAL: Duration = Duration::from_millis(25);

/// The retry delay suggested to a caller whose token was not met in time.
pub const RETRY_AFTER: Duration = Duration::from_millis(200);

/// Kept free before the caller's deadline, so the "not yet projected" answer (with its retry
/// hint) reaches the caller before its own DEADLINE_EXCEEDED does.
const DEADLINE_MARGIN: Duration = Duration::from_millis(100);

/// One aggregate version a read must reflect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Requirement {
    aggregate_id: Uuid,
    min_version: i64,
}

/// Waits until every token's aggregate is projected at least up to its `min_version`, for at
/// most `wait`, and never beyond `deadline` (the time the caller has left). Tokens with
/// `min_version` 0 ask for nothing. A token not met in time fails with
/// [`ServiceError::NotYetProjected`] for the first such token, in request order.
pub async fn wait_for(
    pool: &PgPool,
    field: &'static str,
    tokens: &[ConsistencyToken],
    wait: Duration,
    deadline: Option<Duration>,
) -> Result<(), ServiceError> {
    let requirements = requirements(field, tokens)?;
    if requirements.is_empty() {
        return Ok(());
    }
    let budget = match deadline {
        Some(left) => wait.min(left.saturating_sub(DEADLINE_MARGIN)),
        None => wait,
    };
    let ids: Vec<Uuid> = requirements.iter().map(|r| r.aggregate_id).collect();
    let give_up_at = Instant::now() + budget;
    loop {
        let projected: Vec<(Uuid, i64)> = sqlx::query_as(
            "select aggregate_id, version from projection_checkpoints \
             where aggregate_id = any($1)",
        )
        .bind(&ids)
        .fetch_all(pool)
        .await?;
        let Some((unmet, reached)) = first_unmet(&requirements, &projected) else {
            return Ok(());
        };
        let now = Instant::now();
        if now >= give_up_at {
            if let Some(parked) = parked_on_the_way(pool, unmet, reached, &requirements).await? {
                return Err(parked);
            }
            return Err(ServiceError::NotYetProjected {
                aggregate_id: unmet,
                projected_version: u64::try_from(reached).unwrap_or(0),
                retry_after: RETRY_AFTER,
            });
        }
        tokio::time::sleep(POLL_INTERVAL.min(give_up_at - now)).await;
    }
}

/// When a version the caller waits for is parked in the dead letters, waiting and retrying cannot
/// help until an admin replays or skips it: that is said plainly (FAILED_PRECONDITION) instead of
/// an endless "not yet projected".
async fn parked_on_the_way(
    pool: &PgPool,
    aggregate_id: Uuid,
    reached: i64,
    requirements: &[Requirement],
) -> Result<Option<ServiceError>, ServiceError> {
    let wanted = requirements
        .iter()
        .find(|r| r.aggregate_id == aggregate_id)
        .map_or(i64::MAX, |r| r.min_version);
    let parked: Option<(i64, i64)> = sqlx::query_as(
        "select id, version from dead_letters
          where aggregate_id = $1 and version > $2 and version <= $3
            and replayed_at is null and resolved_at is null
          order by version limit 1",
    )
    .bind(aggregate_id)
    .bind(reached)
    .bind(wanted)
    .fetch_optional(pool)
    .await?;
    Ok(parked.map(|(id, version)| {
        ServiceError::FailedPrecondition(format!(
            "version {version} of {aggregate_id} cannot be projected: it is parked as dead \
             letter {id} until an admin replays or skips it; retrying will not help before that"
        ))
    }))
}

/// The tokens that ask for something, in request order (which decides the token reported when
/// several are not met).
fn requirements(
    field: &'static str,
    tokens: &[ConsistencyToken],
) -> Result<Vec<Requirement>, ServiceError> {
    let mut requirements: Vec<Requirement> = Vec::with_capacity(tokens.len());
    for token in tokens {
        // An empty token (both fields default) is what a client sends when it has nothing to
        // wait for; a named aggregate is checked even at version 0, as a typo there is a bug.
        if token.min_version == 0 && token.aggregate_id.trim().is_empty() {
            continue;
        }
        let aggregate_id = Uuid::parse_str(token.aggregate_id.trim()).map_err(|_| {
            ServiceError::invalid(
                field,
                format!(
                    "aggregate_id {:?} of a consistency token is not a UUID",
                    token.aggregate_id
                ),
            )
        })?;
        if token.min_version == 0 {
            continue;
        }
        requirements.push(Requirement {
            aggregate_id,
            // Versions beyond i64 can never be projected; asking for one waits, then says so.
            min_version: i64::try_from(token.min_version).unwrap_or(i64::MAX),
        });
    }
    Ok(requirements)
}

/// The first requirement the checkpoints do not meet, with the version projected so far (0 for
/// an aggregate the projection has never seen).
fn first_unmet(requirements: &[Requirement], projected: &[(Uuid, i64)]) -> Option<(Uuid, i64)> {
    requirements.iter().find_map(|r| {
        let reached = projected
            .iter()
            .find(|(id, _)| *id == r.aggregate_id)
            .map_or(0, |(_, version)| *version);
        (reached < r.min_version).then_some((r.aggregate_id, reached))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(aggregate_id: &str, min_version: u64) -> ConsistencyToken {
        ConsistencyToken {
            aggregate_id: aggregate_id.to_owned(),
            min_version,
        }
    }

    #[test]
    fn empty_and_zero_version_tokens_ask_for_nothing() {
        let id = Uuid::now_v7().to_string();
        let r = requirements("consistency", &[token("", 0), token(&id, 0)]).unwrap();
        assert!(r.is_empty());
    }

    #[test]
    fn malformed_ids_name_the_field() {
        for bad in [token("nope", 3), token("", 3), token("nope", 0)] {
            let err = requirements("consistency", &[bad]).unwrap_err();
            assert!(
                matches!(
                    err,
                    ServiceError::InvalidArgument {
                        field: "consistency",
                        ..
                    }
                ),
                "{err}"
            );
        }
    }

    #[test]
    fn requirements_keep_request_order() {
        let a = Uuid::now_v7();
        let b = Uuid::now_v7();
        let r = requirements(
            "consistency",
            &[token(&a.to_string(), 2), token(&b.to_string(), u64::MAX)],
        )
        .unwrap();
        assert_eq!(
            r,
            [
                Requirement {
                    aggregate_id: a,
                    min_version: 2
                },
                Requirement {
                    aggregate_id: b,
                    min_version: i64::MAX
                }
            ]
        );
    }

    #[test]
    fn the_first_unmet_token_reports_what_was_projected() {
        let a = Uuid::now_v7();
        let b = Uuid::now_v7();
        let wanted = [
            Requirement {
                aggregate_id: a,
                min_version: 3,
            },
            Requirement {
                aggregate_id: b,
                min_version: 1,
            },
        ];
        assert_eq!(first_unmet(&wanted, &[(a, 2), (b, 1)]), Some((a, 2)));
        assert_eq!(first_unmet(&wanted, &[(a, 3)]), Some((b, 0)));
        assert_eq!(first_unmet(&wanted, &[(b, 7), (a, 4)]), None);
    }
}
