//! How command-service failures become gRPC statuses: one place, through the project's code table
//! (`cqrsplus_proto::error_code`). User errors keep their message; store internals are logged
//! here once and answered without their cause.

use cqrsplus_domain::{DomainError, FieldError, InvalidInput};
use cqrsplus_proto::error_code::{self, ErrorCode};
use tonic::Status;

use crate::store::StoreError;

/// How soon a client may retry after UNAVAILABLE (sent as `google.rpc.RetryInfo`).
const UNAVAILABLE_RETRY_AFTER: std::time::Duration = std::time::Duration::from_secs(1);

/// Everything a command-service RPC can fail with.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The request is malformed before it reaches the domain (bad id, missing field).
    #[error("invalid {field}: {message}")]
    InvalidRequest {
        field: &'static str,
        message: String,
    },
    /// No caller identity in the request metadata.
    #[error("{0}")]
    Unauthenticated(String),
    /// The request's fields broke the domain's input rules (every refused field is listed).
    #[error(transparent)]
    Input(#[from] InvalidInput),
    /// The caller's `expected_version` is not the aggregate's version.
    #[error("expected version {expected}, but the aggregate is at version {current}")]
    VersionMismatch { expected: u64, current: u64 },
    /// The aggregate refused the command.
    #[error(transparent)]
    Domain(#[from] DomainError),
    /// The event store refused or could not be reached.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl ServiceError {
    pub fn invalid(field: &'static str, message: impl Into<String>) -> Self {
        Self::InvalidRequest {
            field,
            message: message.into(),
        }
    }

    /// The project-wide code this error maps to.
    pub fn code(&self) -> ErrorCode {
        match self {
            ServiceError::InvalidRequest { .. } | ServiceError::Input(_) => {
                ErrorCode::InvalidArgument
            }
            ServiceError::Unauthenticated(_) => ErrorCode::Unauthenticated,
            ServiceError::VersionMismatch { .. } => ErrorCode::Conflict,
            ServiceError::Domain(e) => match e {
                DomainError::NotFound(_) => ErrorCode::NotFound,
                DomainError::AlreadyExists(_) => ErrorCode::AlreadyExists,
                DomainError::PermissionDenied(_) => ErrorCode::PermissionDenied,
                DomainError::FailedPrecondition(_) => ErrorCode::FailedPrecondition,
            },
            ServiceError::Store(e) => match e {
                StoreError::Conflict { .. } | StoreError::Duplicate { .. } => ErrorCode::Conflict,
                StoreError::CommandAlreadyApplied(_) | StoreError::EmailTaken { .. } => {
                    ErrorCode::AlreadyExists
                }
                StoreError::WrongType { .. } => ErrorCode::NotFound,
                StoreError::Unavailable(_) => ErrorCode::Unavailable,
                StoreError::Corrupt(_) | StoreError::Internal(_) | StoreError::PositionTaken(_) => {
                    ErrorCode::Internal
                }
            },
        }
    }

    /// The aggregate's current version, for conflicts.
    fn current_version(&self) -> Option<u64> {
        match self {
            ServiceError::VersionMismatch { current, .. } => Some(*current),
            ServiceError::Store(StoreError::Conflict {
                current_version, ..
            }) => Some(*current_version),
            _ => None,
        }
    }
}

impl From<FieldError> for ServiceError {
    fn from(error: FieldError) -> Self {
        Self::Input(error.into())
    }
}

impl From<ServiceError> for Status {
    fn from(err: ServiceError) -> Self {
        let code = err.code();
        match &err {
            ServiceError::Input(input) => return error_code::invalid_input(input),
            ServiceError::InvalidRequest { field, message } => {
                return error_code::invalid_fields(
                    err.to_string(),
                    [error_code::FieldViolation::new(*field, message.clone())],
                );
            }
            _ => {}
        }
        match code {
            ErrorCode::Internal => {
                tracing::error!(error = %err, "command failed");
                code.status("internal error")
            }
            ErrorCode::Unavailable => {
                // One line per failed call; the outage itself is logged where it starts and ends.
                tracing::warn!(error = %err, "command failed: event store unavailable");
                error_code::unavailable(
                    "the event store is unavailable, retry later",
                    UNAVAILABLE_RETRY_AFTER,
                )
            }
            ErrorCode::Conflict => match err.current_version() {
                Some(current) => error_code::conflict(err.to_string(), current),
                None => code.status(err.to_string()),
            },
            _ => code.status(err.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_conflict_is_aborted_and_carries_the_current_version() {
        let status = Status::from(ServiceError::Store(StoreError::Conflict {
            stream_id: "s".into(),
            current_version: 7,
        }));
        assert_eq!(status.code(), tonic::Code::Aborted);
        assert_eq!(error_code::current_version(&status), Some(7));
    }

    #[test]
    fn domain_errors_keep_their_kind() {
        let cases = [
            (DomainError::NotFound("post".into()), tonic::Code::NotFound),
            (
                DomainError::AlreadyExists("post".into()),
                tonic::Code::AlreadyExists,
            ),
            (
                DomainError::PermissionDenied("author only".into()),
                tonic::Code::PermissionDenied,
            ),
            (
                DomainError::FailedPrecondition("deleted".into()),
                tonic::Code::FailedPrecondition,
            ),
        ];
        for (err, code) in cases {
            assert_eq!(Status::from(ServiceError::Domain(err)).code(), code);
        }
    }

    #[test]
    fn refused_input_lists_its_fields() {
        let status = Status::from(ServiceError::from(FieldError::new(
            "message",
            "must not contain control characters (found U+0000)",
        )));
        assert_eq!(status.code(), tonic::Code::InvalidArgument);
        let fields = error_code::field_violations(&status);
        assert_eq!(fields.len(), 1);
        assert_eq!(fields[0].field, "message");
    }

    #[test]
    fn every_status_carries_its_code_as_error_info() {
        let errors = [
            ServiceError::invalid("post_id", "not a UUID"),
            ServiceError::Unauthenticated("no actor".into()),
            ServiceError::VersionMismatch {
                expected: 1,
                current: 2,
            },
            ServiceError::Domain(DomainError::NotFound("post".into())),
            ServiceError::Domain(DomainError::FailedPrecondition("deleted".into())),
            ServiceError::Store(StoreError::EmailTaken {
                email: "a@example.com".into(),
            }),
            ServiceError::Store(StoreError::Unavailable("down".into())),
            ServiceError::Store(StoreError::Internal("bug".into())),
        ];
        for err in errors {
            let code = err.code();
            let status = Status::from(err);
            assert_eq!(error_code::error_reason(&status), Some(code), "{status:?}");
        }
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
        let status = Status::from(ServiceError::Store(StoreError::Unavailable(
            "no server".into(),
        )));
        assert_eq!(status.code(), tonic::Code::Unavailable);
        assert!(!status.message().contains("no server"));
    }
}
