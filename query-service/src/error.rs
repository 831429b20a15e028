//! How query-service failures become gRPC statuses, through the project's one code table.
//! Database details are logged here and never sent to the caller.

use cqrsplus_proto::error_code::ErrorCode;
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
            ServiceError::Database(
                sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_),
            ) => ErrorCode::Unavailable,
            ServiceError::Database(_) => ErrorCode::Internal,
        }
    }
}

impl From<ServiceError> for Status {
    fn from(err: ServiceError) -> Self {
        let code = err.code();
        match &err {
            // The field in a google.rpc.BadRequest: clients read it there, not in the message.
            ServiceError::InvalidArgument { field, message } => {
                return cqrsplus_proto::error_code::invalid_fields(
                    err.to_string(),
                    [cqrsplus_proto::error_code::FieldViolation::new(
                        *field,
                        message.as_str(),
                    )],
                );
            }
            ServiceError::NotFound(_) | ServiceError::FailedPrecondition(_) => {
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
            ServiceError::Database(_) => {}
        }
        tracing::error!(error = %err, "query failed");
        let message = match code {
            ErrorCode::Unavailable => "the read database is unavailable, retry later",
            _ => "internal error",
        };
        Status::new(code.grpc_code(), message)
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
    fn an_exhausted_pool_is_unavailable() {
        let status = Status::from(ServiceError::Database(sqlx::Error::PoolTimedOut));
        assert_eq!(status.code(), tonic::Code::Unavailable);
    }
}
