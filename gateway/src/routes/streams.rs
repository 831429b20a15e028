//! `/api/v1/streams/{id}/events`: the audit history of any aggregate, straight from the event
//! store (EventStore.ReadStream), optionally as of a version or a time, with the state folded up
//! to that point.

use axum::{Json, extract::State};
use cqrsplus_proto::command::v1 as cmd;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use crate::{
    auth::MaybeCaller,
    error::ApiError,
    extract::{ApiPath, ApiQuery},
    grpc::{self, Event},
    startup::AppState,
    validate::Violations,
};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(read_stream))
}

/// Which part of the history to read.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StreamParams {
    /// First version to return (inclusive); the state is always folded from the first event.
    from_version: Option<u64>,
    /// Last version to include (inclusive). Not together with `as_of`.
    to_version: Option<u64>,
    /// Only events that occurred at or before this RFC 3339 time: the aggregate as of then.
    as_of: Option<String>,
}

/// An aggregate's events and its state at the end of the requested range.
#[derive(Debug, Serialize, ToSchema)]
pub struct Stream {
    pub aggregate_id: String,
    /// `post`, `customer` or `order`.
    pub aggregate_type: String,
    /// The events in the range, in version order.
    pub events: Vec<Event>,
    /// The version of `state`: the last event folded, 0 when `as_of` is before the first.
    pub version: u64,
    /// The aggregate's state at `version`; null at version 0.
    #[schema(value_type = Object, nullable = true)]
    pub state: serde_json::Value,
    /// The aggregate's latest version now, to tell history from the present.
    pub current_version: u64,
}

/// Reads one aggregate's history from the event store.
#[utoipa::path(get, path = "/streams/{id}/events", tag = "history", security((), ("bearer" = [])),
    params(("id" = Uuid, Path, description = "aggregate id (post, customer or order)"), StreamParams),
    responses((status = OK, body = Stream)))]
#[tracing::instrument(skip_all, fields(aggregate_id = %id))]
async fn read_stream(
    State(state): State<AppState>,
    MaybeCaller(caller): MaybeCaller,
    ApiPath(id): ApiPath<Uuid>,
    ApiQuery(params): ApiQuery<StreamParams>,
) -> Result<Json<Stream>, ApiError> {
    let mut v = Violations::new();
    let until = match (params.to_version, params.as_of.as_deref()) {
        (Some(_), Some(_)) => {
            v.add("as_of", "give either to_version or as_of, not both");
            None
        }
        (Some(version), None) => Some(cmd::read_stream_request::Until::ToVersion(version)),
        (None, Some(as_of)) => match grpc::parse_timestamp(as_of) {
            Some(ts) => Some(cmd::read_stream_request::Until::AsOf(ts)),
            None => {
                v.add(
                    "as_of",
                    "must be an RFC 3339 time, e.g. 2025-01-31T12:00:00Z",
                );
                None
            }
        },
        (None, None) => None,
    };
    v.finish()?;
    let message = cmd::ReadStreamRequest {
        aggregate_id: id.to_string(),
        from_version: params.from_version.unwrap_or_default(),
        until,
    };
    let reply = state
        .event_store
        .clone()
        .read_stream(grpc::request(message, caller.as_ref(), state.call_timeout)?)
        .await?
        .into_inner();
    Ok(Json(Stream {
        aggregate_id: reply.aggregate_id,
        aggregate_type: reply.aggregate_type,
        events: reply.events.into_iter().map(Event::from).collect(),
        version: reply.version,
        // Before the first event there is no state, whatever the fold of nothing serializes to.
        state: if reply.version == 0 {
            serde_json::Value::Null
        } else {
            serde_json::from_str(&reply.state_json).unwrap_or(serde_json::Value::Null)
        },
        current_version: reply.current_version,
    }))
}
