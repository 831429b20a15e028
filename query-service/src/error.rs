//! How query-service failures become gRPC statuses, through the project's one code table.
//! Database details are logged here and never sent to the caller.
//!
//! A read database that cannot be reached (see [`crate::outage::is_outage`]) is UNAVAILABLE with
//! the `x-retry-after-ms` metadata of `cqrsplus_proto::error_code`, never INTERNAL: retrying later
//! succeeds. Such failures are counted into the process's outage tracker, which logs the outage
//! once, instead of one error line per failed read.

use std::time::Duration;

use cqrsplus_proto::error_code::{ErrorCode, RETRY_AFTER_MS_METADATA};

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
            ServiceError::InvalidArgument { .. }
            | ServiceError::NotFound(_)
            | ServiceError::FailedPrecondition(_) => {
                return Status::new(code.grpc_code(), err.to_string());
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
                let mut status = Status::new(
                    code.grpc_code(),
                    "the read database is unavailable, retry later",
                );
                status.metadata_mut().insert(
                    RETRY_AFTER_MS_METADATA,
                    u64::try_from(OUTAGE_RETRY_AFTER.as_millis())
                        .unwrap_or(u64::MAX)
                        .into(),
                );
                return status;
            }
            ServiceError::Database(_) => {}
        }
        tracing::error!(error = %err, "query failed");
        Status::new(code.grpc_code(), "internal error")
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
                .get(RETRY_AFTER_MS_METADATA)
                .and_then(|v| v.to_str().ok()),
            Some("1000")
        );
    }
}
