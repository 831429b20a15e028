//! How query-service failures become gRPC statuses, through the project's one code table.
//! Database details are logged here and never sent to the caller.
//!
//! A read database that cannot be reached (see [`crate::outage::is_outage`]) is UNAVAILABLE with
//! the `x-retry-after-ms` metadata of `cqrsplus_proto::error_code`, never INTERNAL: retrying later
//! succeeds. Such failures are counted into the process's outage tracker, which logs the outage
//! once, instead of one error line per failed read.

use std::time::Duration;

use cqrsplus_domain::FieldError;
use cqrsplus_proto::error_code::{self, ErrorCode, FieldViolation};

use crate::outage;

/// What a client is told to wait before retrying a read while the read database is unreachable.
pub const OUTAGE_RETRY_AFTER: Duration = Duration::from_secs(1);
use tonic::Status;

/// Everything a query-service RPC can fail with.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The request is malformed; `field` names the offending request field.
    #[error("{field}: {message}")]
    InvalidArgument {
        field: &'static str,
        message: String,
    },
    /// The named thing is not in the read model (after any consistency wait).
    #[error("{0}")]
    NotFound(String),
    /// A consistency token was not met within the wait: the projection of `aggregate_id` has
    /// reached `projected_version` only.
    #[error("aggregate {aggregate_id} is projected up to version {projected_version} only")]
    NotYetProjected {
        aggregate_id: uuid::Uuid,
        projected_version: u64,
        retry_after: std::time::Duration,
    },
    /// The operation cannot run in the current state (e.g. a rebuild without command-service).
    #[error("{0}")]
    FailedPrecondition(String),
    /// The read database failed or could not be reached.
    #[error("read database error: {0}")]
    Database(#[from] sqlx::Error),
}

impl ServiceError {
    /// An INVALID_ARGUMENT naming the request field at fault.
    pub fn invalid(field: &'static str, message: impl Into<String>) -> Self {
        Self::InvalidArgument {
            field,
            message: message.into(),
        }
    }

    /// A domain parser's refusal of request field `field` (the request's name for it, which may
    /// differ from the domain's: the `author` filter holds an actor).
    pub fn refused(field: &'static str, error: FieldError) -> Self {
        Self::invalid(field, error.reason)
    }
}

impl ServiceError {
    /// The project-wide code this error maps to.
    pub fn code(&self) -> ErrorCode {
        match self {
            ServiceError::InvalidArgument { .. } => ErrorCode::InvalidArgument,
            ServiceError::NotFound(_) => ErrorCode::NotFound,
            ServiceError::NotYetProjected { .. } => ErrorCode::Unavailable,
            ServiceError::FailedPrecondition(_) => ErrorCode::FailedPrecondition,
            ServiceError::Database(e) if outage::is_outage(e) => ErrorCode::Unavailable,
            ServiceError::Database(_) => ErrorCode::Internal,
        }
    }
}

impl From<ServiceError> for Status {
    fn from(err: ServiceError) -> Self {
        let code = err.code();
        match &err {
            // The field in a google.rpc.BadRequest, which is what the gateway reads.
            ServiceError::InvalidArgument { field, message } => {
                return error_code::invalid_fields(
                    err.to_string(),
                    [FieldViolation::new(*field, message.clone())],
                );
            }
            ServiceError::NotFound(_) | ServiceError::FailedPrecondition(_) => {
                return code.status(err.to_string());
            }
            ServiceError::NotYetProjected {
                projected_version,
                retry_after,
                ..
            } => {
                return cqrsplus_proto::error_code::not_yet_projected(
                    err.to_string(),
                    *projected_version,
                    *retry_after,
                );
            }
            ServiceError::Database(e) if code == ErrorCode::Unavailable => {
                outage::POSTGRES.failed(e);
                return error_code::unavailable(
                    "the read database is unavailable, retry later",
                    OUTAGE_RETRY_AFTER,
                );
            }
            ServiceError::Database(_) => {}
        }
        tracing::error!(error = %err, "query failed");
        code.status("internal error")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_details_never_reach_the_caller() {
        let err = ServiceError::Database(sqlx::Error::Protocol("password=hunter2".into()));
        let status = Status::from(err);
        assert_eq!(status.code(), tonic::Code::Internal);
        assert!(!status.message().contains("hunter2"));
    }

    #[test]
    fn an_exhausted_pool_is_unavailable_with_a_retry_hint() {
        let status = Status::from(ServiceError::Database(sqlx::Error::PoolTimedOut));
        assert_eq!(status.code(), tonic::Code::Unavailable);
        assert_eq!(
            status
                .metadata()
                .get(error_code::RETRY_AFTER_MS_METADATA)
                .and_then(|v| v.to_str().ok()),
            Some("1000")
        );
        assert_eq!(error_code::retry_after(&status), Some(OUTAGE_RETRY_AFTER));
    }

    #[test]
    fn invalid_arguments_name_their_field_in_the_details() {
        let status = Status::from(ServiceError::invalid("author", "must not be blank"));
        assert_eq!(status.code(), tonic::Code::InvalidArgument);
        assert_eq!(
            error_code::field_violations(&status),
            vec![FieldViolation::new("author", "must not be blank")]
        );
    }
}
