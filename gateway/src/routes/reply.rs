//! What every mutation answers: the command's outcome with the aggregate's new version (also as
//! `ETag`), so the client can read its own write with `min_version` and send `If-Match` next time;
//! and the same `ETag` on single-resource reads.

use axum::{
    Json,
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use cqrsplus_proto::command::v1 as pb;
use serde::Serialize;
use utoipa::ToSchema;

use crate::{
    error::{ApiError, etag},
    extract::CommandHeaders,
};

/// The outcome of an accepted command.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CommandReply {
    /// The aggregate written (the new id for creations).
    pub aggregate_id: String,
    /// The aggregate's version after the command; pass it as `min_version` to read your write.
    pub version: u64,
    /// The command id the write is stored under (the `Idempotency-Key` when one was sent).
    pub command_id: String,
    /// True when this `Idempotency-Key` had been applied before: nothing new was written and this
    /// is the first outcome.
    pub already_applied: bool,
    /// The new comment's id (adding a comment only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comment_id: Option<String>,
}

/// The command options the headers ask for.
pub fn options(headers: &CommandHeaders) -> Option<pb::CommandOptions> {
    Some(pb::CommandOptions {
        command_id: headers.command_id.clone(),
        correlation_id: None,
        expected_version: headers.expected_version,
    })
}

/// The HTTP answer to an accepted command.
pub struct Accepted {
    pub reply: CommandReply,
    /// Set for creations: where the new resource is read (201 Created).
    pub location: Option<String>,
}

impl Accepted {
    pub fn new(result: Option<pb::CommandResult>) -> Result<Self, ApiError> {
        let result = result.ok_or_else(|| ApiError::internal("command reply without a result"))?;
        Ok(Self {
            reply: CommandReply {
                aggregate_id: result.aggregate_id,
                version: result.version,
                command_id: result.command_id,
                already_applied: result.already_applied,
                comment_id: None,
            },
            location: None,
        })
    }

    /// A creation, readable at `location`.
    pub fn created(mut self, location: String) -> Self {
        self.location = Some(location);
        self
    }
}

impl IntoResponse for Accepted {
    fn into_response(self) -> Response {
        let etag = etag(self.reply.version);
        match self.location.and_then(|l| HeaderValue::from_str(&l).ok()) {
            Some(location) => (
                StatusCode::CREATED,
                [(header::ETAG, etag), (header::LOCATION, location)],
                Json(self.reply),
            )
                .into_response(),
            None => (StatusCode::OK, [(header::ETAG, etag)], Json(self.reply)).into_response(),
        }
    }
}

/// The headers a mutation accepts, for the OpenAPI document (read by [`CommandHeaders`]).
#[derive(Debug, utoipa::IntoParams)]
#[into_params(parameter_in = Header)]
#[allow(dead_code)] // only its derived parameter descriptions are used
pub struct CommandHeaderDocs {
    /// A UUID identifying this command: a request retried with the same key is applied once and
    /// answers the first outcome (`already_applied: true`).
    #[param(rename = "Idempotency-Key", value_type = Option<uuid::Uuid>)]
    idempotency_key: Option<String>,
    /// The version (ETag) the client last saw; if the aggregate moved on since, the command fails
    /// with 409 and `details.current_version`.
    #[param(rename = "If-Match", value_type = Option<String>, example = "\"3\"")]
    if_match: Option<String>,
}

/// A read answer with the aggregate's version as its ETag, for a later `If-Match`.
pub fn with_etag(version: u64, body: impl IntoResponse) -> impl IntoResponse {
    ([(header::ETAG, etag(version))], body)
}
