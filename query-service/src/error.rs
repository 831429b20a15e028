//! How query-service failures become gRPC statuses, through the project's one code table.
//! Database details are logged here and never sent to the caller.

use cqrsplus_proto::error_code::ErrorCode;
use tonic::Status;

/// Everything a query-service RPC can fail with.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The read database failed or could not be reached.
    #[error("read database error: {0}")]
    Database(#[from] sqlx::Error),
}

impl ServiceError {
    /// The project-wide code this error maps to.
    pub fn code(&self) -> ErrorCode {
        match self {
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
