//! How command-service failures become gRPC statuses: one place, through the project's code table
//! (`cqrsplus_proto::error_code`). Internals are logged here once and never sent to the client.

use cqrsplus_proto::error_code::ErrorCode;
use tonic::Status;

use crate::store::StoreError;

/// Everything a command-service RPC can fail with.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The event store refused or could not be reached.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl ServiceError {
    /// The project-wide code this error maps to.
    pub fn code(&self) -> ErrorCode {
        match self {
            ServiceError::Store(StoreError::Duplicate { .. }) => ErrorCode::Conflict,
            ServiceError::Store(StoreError::Unavailable(_)) => ErrorCode::Unavailable,
            ServiceError::Store(StoreError::Internal(_)) => ErrorCode::Internal,
        }
    }
}

impl From<ServiceError> for Status {
    fn from(err: ServiceError) -> Self {
        let code = err.code();
        let message = match code {
            // The details of a store failure help an operator, not a caller.
            ErrorCode::Internal | ErrorCode::Unavailable => {
                tracing::error!(error = %err, "command failed");
                match code {
                    ErrorCode::Unavailable => {
                        "the event store is unavailable, retry later".to_owned()
                    }
                    _ => "internal error".to_owned(),
                }
            }
            _ => err.to_string(),
        };
        Status::new(code.grpc_code(), message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicate_key_is_a_conflict() {
        let err = ServiceError::Store(StoreError::Duplicate {
            collection: "commits".into(),
            message: "E11000".into(),
        });
        assert_eq!(Status::from(err).code(), tonic::Code::Aborted);
    }

    #[test]
    fn internal_errors_do_not_leak_their_cause() {
        let err = ServiceError::Store(StoreError::Internal("secret connection string".into()));
        let status = Status::from(err);
        assert_eq!(status.code(), tonic::Code::Internal);
        assert!(!status.message().contains("secret"), "{}", status.message());
    }

    #[test]
    fn an_unreachable_store_is_unavailable() {
        let err = ServiceError::Store(StoreError::Unavailable("no server".into()));
        let status = Status::from(err);
        assert_eq!(status.code(), tonic::Code::Unavailable);
        assert!(!status.message().contains("no server"));
    }
}
