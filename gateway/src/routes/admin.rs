//! `/api/v1/admin/...`: the read side's operations (parked events, rebuilds), for callers with the
//! admin role only. The role is checked here, before any call leaves the gateway.

use axum::{Json, extract::State, http::StatusCode};
use cqrsplus_proto::query::v1 as q;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use crate::{
    auth::Admin,
    error::ApiError,
    extract::{ApiJson, ApiPath, ApiQuery},
    grpc::{self, Event, optional_timestamp},
    startup::AppState,
};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_dead_letters))
        .routes(routes!(replay_dead_letters))
        .routes(routes!(skip_dead_letter))
        .routes(routes!(start_rebuild))
        .routes(routes!(latest_rebuild))
        .routes(routes!(get_rebuild))
}

/// An event the projections could not apply and parked.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeadLetter {
    pub dead_letter_id: String,
    /// The parked event; absent when the message was not even an envelope.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event: Option<Event>,
    /// The payload as received, when `event` is absent.
    pub raw_payload: String,
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
    /// The last error applying it.
    pub error: String,
    pub attempts: u32,
    pub parked_at: String,
    pub last_attempt_at: String,
}

/// A page of dead letters, oldest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeadLetterPage {
    pub dead_letters: Vec<DeadLetter>,
    pub next_page_token: String,
    pub total_size: u64,
}

/// A page request.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// Items per page, default 20, at most 100.
    page_size: Option<u32>,
    /// `next_page_token` of the previous page.
    page_token: Option<String>,
}

/// Lists parked events, oldest first.
#[utoipa::path(get, path = "/admin/dead-letters", tag = "admin", params(PageParams),
    security(("bearer" = [])), responses((status = OK, body = DeadLetterPage)))]
#[tracing::instrument(skip_all, fields(actor = %admin.0.subject))]
async fn list_dead_letters(
    State(state): State<AppState>,
    admin: Admin,
    ApiQuery(params): ApiQuery<PageParams>,
) -> Result<Json<DeadLetterPage>, ApiError> {
    let message = q::ListDeadLettersRequest {
        page_size: params.page_size.unwrap_or_default(),
        page_token: params.page_token.unwrap_or_default(),
    };
    let reply = state
        .query_admin
        .clone()
        .list_dead_letters(grpc::request(message, Some(&admin.0), state.call_timeout)?)
        .await
        .map_err(grpc::query_error)?
        .into_inner();
    Ok(Json(DeadLetterPage {
        dead_letters: reply
            .dead_letters
            .into_iter()
            .map(|d| DeadLetter {
                parked_at: optional_timestamp(d.parked_at.as_ref()).unwrap_or_default(),
                last_attempt_at: optional_timestamp(d.last_attempt_at.as_ref()).unwrap_or_default(),
                dead_letter_id: d.dead_letter_id,
                event: d.event.map(Event::from),
                raw_payload: d.raw_payload,
                topic: d.topic,
                partition: d.partition,
                offset: d.offset,
                error: d.error,
                attempts: d.attempts,
            })
            .collect(),
        next_page_token: reply.next_page_token,
        total_size: reply.total_size,
    }))
}

/// Which parked events to apply again: some ids, or all.
#[derive(Debug, Deserialize, ToSchema)]
pub struct Replay {
    #[serde(default)]
    pub dead_letter_ids: Vec<String>,
    #[serde(default)]
    pub all: bool,
}

/// Outcome of a replay.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReplayOutcome {
    /// Applied (or found to be duplicates) and removed.
    pub replayed_count: u64,
    /// Failed again and still parked.
    pub failed_count: u64,
    pub failed_ids: Vec<String>,
}

/// Applies parked events again; those that now succeed leave the dead letters.
#[utoipa::path(post, path = "/admin/dead-letters/replay", tag = "admin", request_body = Replay,
    security(("bearer" = [])), responses((status = OK, body = ReplayOutcome)))]
#[tracing::instrument(skip_all, fields(actor = %admin.0.subject))]
async fn replay_dead_letters(
    State(state): State<AppState>,
    admin: Admin,
    ApiJson(body): ApiJson<Replay>,
) -> Result<Json<ReplayOutcome>, ApiError> {
    if body.all != body.dead_letter_ids.is_empty() {
        return Err(ApiError::invalid_field(
            "dead_letter_ids",
            "give either some dead_letter_ids or all: true, exactly one of the two",
        ));
    }
    let message = q::ReplayDeadLettersRequest {
        dead_letter_ids: body.dead_letter_ids,
        all: body.all,
    };
    let reply = state
        .query_admin
        .clone()
        .replay_dead_letters(grpc::request(message, Some(&admin.0), state.call_timeout)?)
        .await
        .map_err(grpc::query_error)?
        .into_inner();
    Ok(Json(ReplayOutcome {
        replayed_count: reply.replayed_count,
        failed_count: reply.failed_count,
        failed_ids: reply.failed_ids,
    }))
}

/// Why a parked event is resolved without being applied. The reason is checked by query-service
/// (required, at most 1000 characters, no control characters but newline and tab).
#[derive(Debug, Deserialize, ToSchema)]
pub struct Skip {
    #[schema(min_length = 1, max_length = 1000)]
    pub reason: String,
}

/// A dead letter resolved for good: who skipped it, when and why.
#[derive(Debug, Serialize, ToSchema)]
pub struct Skipped {
    pub dead_letter_id: String,
    pub resolved_at: String,
    pub resolved_by: String,
    pub reason: String,
    /// Whether the aggregate's projection moved past the skipped version.
    pub checkpoint_advanced: bool,
    /// Events that waited behind it and were applied now.
    pub released_count: u64,
}

/// Resolves a parked event for good without applying it, recording who, when and why; events of
/// the same aggregate held behind it are applied. Skip in version order (422 otherwise).
#[utoipa::path(post, path = "/admin/dead-letters/{id}/skip", tag = "admin", request_body = Skip,
    params(("id" = String, Path, description = "the dead letter's id")),
    security(("bearer" = [])), responses((status = OK, body = Skipped)))]
#[tracing::instrument(skip_all, fields(actor = %admin.0.subject))]
async fn skip_dead_letter(
    State(state): State<AppState>,
    admin: Admin,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<Skip>,
) -> Result<Json<Skipped>, ApiError> {
    let message = q::SkipDeadLetterRequest {
        dead_letter_id: id,
        reason: body.reason,
    };
    let reply = state
        .query_admin
        .clone()
        .skip_dead_letter(grpc::request(message, Some(&admin.0), state.call_timeout)?)
        .await
        .map_err(grpc::query_error)?
        .into_inner();
    Ok(Json(Skipped {
        resolved_at: optional_timestamp(reply.resolved_at.as_ref()).unwrap_or_default(),
        dead_letter_id: reply.dead_letter_id,
        resolved_by: reply.resolved_by,
        reason: reply.reason,
        checkpoint_advanced: reply.checkpoint_advanced,
        released_count: reply.released_count,
    }))
}

/// Where a rebuild is.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RebuildState {
    Idle,
    Running,
    Switching,
    Completed,
    Failed,
    Unknown,
}

impl From<q::RebuildState> for RebuildState {
    fn from(s: q::RebuildState) -> Self {
        match s {
            q::RebuildState::Idle => RebuildState::Idle,
            q::RebuildState::Running => RebuildState::Running,
            q::RebuildState::Switching => RebuildState::Switching,
            q::RebuildState::Completed => RebuildState::Completed,
            q::RebuildState::Failed => RebuildState::Failed,
            q::RebuildState::Unspecified => RebuildState::Unknown,
        }
    }
}

/// Progress of one rebuild.
#[derive(Debug, Serialize, ToSchema)]
pub struct RebuildProgress {
    /// Empty in state `idle`.
    pub rebuild_id: String,
    pub state: RebuildState,
    pub events_applied: u64,
    pub events_total: u64,
    /// 0 to 100.
    pub percent: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub started_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<String>,
    /// What went wrong, in state `failed`.
    pub error: String,
    /// The schema being built.
    pub target_schema: String,
}

impl From<q::RebuildProgress> for RebuildProgress {
    fn from(p: q::RebuildProgress) -> Self {
        Self {
            state: p.state().into(),
            started_at: optional_timestamp(p.started_at.as_ref()),
            finished_at: optional_timestamp(p.finished_at.as_ref()),
            rebuild_id: p.rebuild_id,
            events_applied: p.events_applied,
            events_total: p.events_total,
            percent: p.percent,
            error: p.error,
            target_schema: p.target_schema,
        }
    }
}

/// A started (or already running) rebuild.
#[derive(Debug, Serialize, ToSchema)]
pub struct RebuildStarted {
    pub progress: RebuildProgress,
    /// True when one was already running and no new one started.
    pub already_running: bool,
}

fn progress(p: Option<q::RebuildProgress>) -> Result<RebuildProgress, ApiError> {
    p.map(RebuildProgress::from)
        .ok_or_else(|| ApiError::internal("rebuild reply without progress"))
}

/// Starts rebuilding the read model from the event store into a fresh schema; readers switch to
/// it in one step at the end. While one runs, answers that one.
#[utoipa::path(post, path = "/admin/rebuilds", tag = "admin",
    security(("bearer" = [])), responses((status = ACCEPTED, body = RebuildStarted)))]
#[tracing::instrument(skip_all, fields(actor = %admin.0.subject))]
async fn start_rebuild(
    State(state): State<AppState>,
    admin: Admin,
) -> Result<(StatusCode, Json<RebuildStarted>), ApiError> {
    let reply = state
        .query_admin
        .clone()
        .start_rebuild(grpc::request(
            q::StartRebuildRequest {},
            Some(&admin.0),
            state.call_timeout,
        )?)
        .await
        .map_err(grpc::query_error)?
        .into_inner();
    Ok((
        StatusCode::ACCEPTED,
        Json(RebuildStarted {
            progress: progress(reply.progress)?,
            already_running: reply.already_running,
        }),
    ))
}

async fn rebuild_progress(
    state: &AppState,
    admin: &Admin,
    rebuild_id: String,
) -> Result<Json<RebuildProgress>, ApiError> {
    let reply = state
        .query_admin
        .clone()
        .get_rebuild_progress(grpc::request(
            q::GetRebuildProgressRequest { rebuild_id },
            Some(&admin.0),
            state.call_timeout,
        )?)
        .await
        .map_err(grpc::query_error)?
        .into_inner();
    progress(reply.progress).map(Json)
}

/// Progress of the latest rebuild (state `idle` if none was ever started).
#[utoipa::path(get, path = "/admin/rebuilds/latest", tag = "admin",
    security(("bearer" = [])), responses((status = OK, body = RebuildProgress)))]
#[tracing::instrument(skip_all, fields(actor = %admin.0.subject))]
async fn latest_rebuild(
    State(state): State<AppState>,
    admin: Admin,
) -> Result<Json<RebuildProgress>, ApiError> {
    rebuild_progress(&state, &admin, String::new()).await
}

/// Progress of one rebuild.
#[utoipa::path(get, path = "/admin/rebuilds/{id}", tag = "admin",
    params(("id" = Uuid, Path, description = "rebuild id from starting it")),
    security(("bearer" = [])), responses((status = OK, body = RebuildProgress)))]
#[tracing::instrument(skip_all, fields(actor = %admin.0.subject, rebuild_id = %id))]
async fn get_rebuild(
    State(state): State<AppState>,
    admin: Admin,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Json<RebuildProgress>, ApiError> {
    rebuild_progress(&state, &admin, id.to_string()).await
}
