//! The one error type every aggregate decision can return.
//!
//! Its variants are the categories the transports map to status codes (gRPC and HTTP), so they say
//! what kind of refusal happened, not where. Infrastructure failures (a store that is down, a
//! concurrency conflict) are deliberately absent: they belong to the services, never to the domain.

/// Why an aggregate refused a command.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DomainError {
    /// The command's input has the wrong shape (blank, too long, malformed, out of range), whatever
    /// the state.
    #[error("invalid {field}: {message}")]
    InvalidArgument {
        field: &'static str,
        message: String,
    },
    /// The aggregate, or an entity inside it such as a comment, does not exist.
    #[error("not found: {0}")]
    NotFound(String),
    /// A create command hit an aggregate, or an entity id, that already exists.
    #[error("already exists: {0}")]
    AlreadyExists(String),
    /// The actor is not allowed to do this, e.g. is not the author.
    #[error("permission denied: {0}")]
    PermissionDenied(String),
    /// The current state forbids the command, e.g. a deleted post or a shipped order being cancelled.
    #[error("failed precondition: {0}")]
    FailedPrecondition(String),
}

impl DomainError {
    pub(crate) fn invalid(field: &'static str, message: impl Into<String>) -> Self {
        Self::InvalidArgument {
            field,
            message: message.into(),
        }
    }
}
