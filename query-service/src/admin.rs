//! The QueryAdmin gRPC service: dead letters (list, replay, skip) and rebuilds (start, progress).
//!
//! Handlers only translate between the contract and `projector::dead_letters` / `rebuild`; the
//! gateway forwards these calls only for admins. Must not talk to Kafka.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use cqrsplus_proto::{
    convert::{envelope_to_pb, timestamp},
    query::v1::{self as pb, query_admin_server::QueryAdmin},
};
use tonic::{Request, Response, Status};
use uuid::Uuid;

use crate::{
    error::ServiceError,
    projector::{Projector, dead_letters},
    queries::paging,
    rebuild::{self, ProgressHandle, Rebuild},
};

/// Serves QueryAdmin for one query-service instance.
#[derive(Clone)]
pub struct AdminApi {
    projector: Projector,
    rebuild: Rebuild,
    /// Rebuilds started by this instance, and the latest one.
    rebuilds: Arc<Mutex<Rebuilds>>,
}

#[derive(Default)]
struct Rebuilds {
    by_id: HashMap<Uuid, ProgressHandle>,
    latest: Option<ProgressHandle>,
}

impl AdminApi {
    pub fn new(projector: Projector, rebuild: Rebuild) -> Self {
        Self {
            projector,
            rebuild,
            rebuilds: Arc::default(),
        }
    }

    fn rebuilds(&self) -> std::sync::MutexGuard<'_, Rebuilds> {
        self.rebuilds.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn progress_to_pb(handle: &ProgressHandle) -> pb::RebuildProgress {
    let p = handle.lock().unwrap_or_else(|e| e.into_inner()).clone();
    pb::RebuildProgress {
        rebuild_id: p.id.to_string(),
        state: match p.state {
            rebuild::State::Running => pb::RebuildState::Running,
            rebuild::State::Switching => pb::RebuildState::Switching,
            rebuild::State::Completed => pb::RebuildState::Completed,
            rebuild::State::Failed => pb::RebuildState::Failed,
        } as i32,
        events_applied: p.events_applied,
        events_total: p.events_total,
        percent: p.percent(),
        started_at: Some(timestamp(p.started_at)),
        finished_at: p.finished_at.map(timestamp),
        error: p.error.clone().unwrap_or_default(),
        target_schema: p.target_schema.clone(),
        events_parked: p.events_parked,
        events_held: p.events_held,
    }
}

fn dead_letter_to_pb(letter: dead_letters::DeadLetter) -> pb::DeadLetter {
    let event = serde_json::from_slice::<cqrsplus_domain::EventEnvelope>(&letter.payload).ok();
    pb::DeadLetter {
        dead_letter_id: letter.id.to_string(),
        raw_payload: match &event {
            Some(_) => String::new(),
            None => String::from_utf8_lossy(&letter.payload).into_owned(),
        },
        event: event.as_ref().map(envelope_to_pb),
        // An event a rebuild parked has no Kafka source: empty topic, offset -1 (the contract).
        topic: letter.topic.unwrap_or_default(),
        partition: letter.partition.unwrap_or_default(),
        offset: letter.offset.unwrap_or(-1),
        error: letter.error,
        attempts: u32::try_from(letter.attempts).unwrap_or(0),
        parked_at: Some(timestamp(letter.parked_at)),
        last_attempt_at: Some(timestamp(letter.last_attempt_at)),
    }
}

/// A skip's reason: required, bounded, and free of control characters other than newline and tab
/// (what Postgres text and a log line can hold as given).
fn skip_reason(value: &str) -> Result<String, ServiceError> {
    let reason = value.trim();
    if reason.is_empty() {
        return Err(ServiceError::invalid("reason", "a skip needs a reason"));
    }
    if reason.chars().count() > dead_letters::MAX_REASON_CHARS {
        return Err(ServiceError::invalid(
            "reason",
            format!("at most {} characters", dead_letters::MAX_REASON_CHARS),
        ));
    }
    if reason
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t')
    {
        return Err(ServiceError::invalid(
            "reason",
            "control characters other than newline and tab are not allowed",
        ));
    }
    Ok(reason.to_owned())
}

#[tonic::async_trait]
impl QueryAdmin for AdminApi {
    async fn list_dead_letters(
        &self,
        request: Request<pb::ListDeadLettersRequest>,
    ) -> Result<Response<pb::ListDeadLettersResponse>, Status> {
        let r = request.into_inner();
        const QUERY: &str = "dead_letters";
        let size = paging::page_size(r.page_size);
        let after: Option<i64> = paging::decode("page_token", QUERY, &r.page_token)?;
        let (rows, total) = dead_letters::list(self.projector.pool(), after, i64::from(size) + 1)
            .await
            .map_err(ServiceError::from)?;
        let (rows, next_page_token) = paging::split_page(rows, size, QUERY, |l| l.id);
        Ok(Response::new(pb::ListDeadLettersResponse {
            dead_letters: rows.into_iter().map(dead_letter_to_pb).collect(),
            next_page_token,
            total_size: total,
        }))
    }

    async fn replay_dead_letters(
        &self,
        request: Request<pb::ReplayDeadLettersRequest>,
    ) -> Result<Response<pb::ReplayDeadLettersResponse>, Status> {
        let r = request.into_inner();
        let ids = match (r.all, r.dead_letter_ids.is_empty()) {
            (true, true) => None,
            (false, false) => Some(
                r.dead_letter_ids
                    .iter()
                    .map(|id| {
                        id.trim().parse::<i64>().map_err(|_| {
                            ServiceError::invalid(
                                "dead_letter_ids",
                                format!("{id:?} is not a dead letter id"),
                            )
                        })
                    })
                    .collect::<Result<Vec<_>, _>>()?,
            ),
            _ => {
                return Err(ServiceError::invalid(
                    "dead_letter_ids",
                    "give either some dead_letter_ids or all = true, not both or neither",
                )
                .into());
            }
        };
        let replayed = dead_letters::replay(&self.projector, ids.as_deref())
            .await
            .map_err(ServiceError::from)?;
        if !replayed.unknown.is_empty() {
            return Err(ServiceError::NotFound(format!(
                "no parked event with id {}",
                replayed
                    .unknown
                    .iter()
                    .map(i64::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
            .into());
        }
        crate::projector::consumer::refresh_parked_gauges(self.projector.pool()).await;
        Ok(Response::new(pb::ReplayDeadLettersResponse {
            replayed_count: replayed.replayed,
            failed_count: replayed.failed.len() as u64,
            failed_ids: replayed.failed.iter().map(i64::to_string).collect(),
        }))
    }

    async fn skip_dead_letter(
        &self,
        request: Request<pb::SkipDeadLetterRequest>,
    ) -> Result<Response<pb::SkipDeadLetterResponse>, Status> {
        // The gateway forwards admin calls with the admin's identity; a skip without one would be
        // unattributable.
        let actor = cqrsplus_proto::error_code::actor(request.metadata())
            .map(str::to_owned)
            .ok_or_else(|| Status::unauthenticated("a skip must name its admin (x-actor)"))?;
        let r = request.into_inner();
        let id = r.dead_letter_id.trim().parse::<i64>().map_err(|_| {
            ServiceError::invalid(
                "dead_letter_id",
                format!("{:?} is not a dead letter id", r.dead_letter_id),
            )
        })?;
        let reason = skip_reason(&r.reason)?;
        let skipped = dead_letters::skip(&self.projector, id, &actor, &reason)
            .await
            .map_err(|e| match e {
                dead_letters::SkipError::NotParked(_) => ServiceError::NotFound(e.to_string()),
                dead_letters::SkipError::NotNext { .. } => {
                    ServiceError::FailedPrecondition(e.to_string())
                }
                dead_letters::SkipError::Database(e) => ServiceError::Database(e),
            })?;
        crate::projector::consumer::refresh_parked_gauges(self.projector.pool()).await;
        Ok(Response::new(pb::SkipDeadLetterResponse {
            dead_letter_id: skipped.id.to_string(),
            resolved_at: Some(timestamp(skipped.resolved_at)),
            resolved_by: skipped.resolved_by,
            reason: skipped.reason,
            checkpoint_advanced: skipped.checkpoint_advanced,
            released_count: skipped.released,
        }))
    }

    async fn start_rebuild(
        &self,
        _request: Request<pb::StartRebuildRequest>,
    ) -> Result<Response<pb::StartRebuildResponse>, Status> {
        let running = self.rebuilds().latest.clone().filter(|h| {
            let state = h.lock().unwrap_or_else(|e| e.into_inner()).state;
            matches!(state, rebuild::State::Running | rebuild::State::Switching)
        });
        if let Some(handle) = running {
            return Ok(Response::new(pb::StartRebuildResponse {
                progress: Some(progress_to_pb(&handle)),
                already_running: true,
            }));
        }
        let (handle, run) = self.rebuild.prepare().await.map_err(|e| {
            ServiceError::FailedPrecondition(format!("cannot start a rebuild: {e:#}"))
        })?;
        {
            let mut rebuilds = self.rebuilds();
            let id = handle.lock().unwrap_or_else(|e| e.into_inner()).id;
            rebuilds.by_id.insert(id, handle.clone());
            rebuilds.latest = Some(handle.clone());
        }
        tokio::spawn(async move {
            match run.await {
                Ok(()) => tracing::info!("rebuild completed"),
                Err(e) => tracing::error!(error = %format!("{e:#}"), "rebuild failed"),
            }
        });
        Ok(Response::new(pb::StartRebuildResponse {
            progress: Some(progress_to_pb(&handle)),
            already_running: false,
        }))
    }

    async fn get_rebuild_progress(
        &self,
        request: Request<pb::GetRebuildProgressRequest>,
    ) -> Result<Response<pb::GetRebuildProgressResponse>, Status> {
        let r = request.into_inner();
        let handle = if r.rebuild_id.trim().is_empty() {
            self.rebuilds().latest.clone()
        } else {
            let id = crate::queries::parse_id("rebuild_id", &r.rebuild_id)?;
            Some(
                self.rebuilds()
                    .by_id
                    .get(&id)
                    .cloned()
                    .ok_or_else(|| ServiceError::NotFound(format!("no rebuild {id}")))?,
            )
        };
        let progress = match handle {
            Some(handle) => progress_to_pb(&handle),
            None => pb::RebuildProgress {
                state: pb::RebuildState::Idle as i32,
                ..Default::default()
            },
        };
        Ok(Response::new(pb::GetRebuildProgressResponse {
            progress: Some(progress),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_skip_reason_is_required_bounded_and_printable() {
        assert_eq!(
            skip_reason("  replayed by hand\n(ticket 42)\t ").ok(),
            Some("replayed by hand\n(ticket 42)".to_owned())
        );
        for bad in [
            String::new(),
            " \n ".to_owned(),
            "nul \0 inside".to_owned(),
            "bell \u{7}".to_owned(),
            "x".repeat(dead_letters::MAX_REASON_CHARS + 1),
        ] {
            assert!(
                matches!(
                    skip_reason(&bad),
                    Err(ServiceError::InvalidArgument {
                        field: "reason",
                        ..
                    })
                ),
                "{bad:?}"
            );
        }
    }
}
