//! The one error type every aggregate decision can return.
//!
//! Its variants are the categories the transports map to status codes (gRPC and HTTP), so they say
//! what kind of refusal happened, not where. Infrastructure failures (a store that is down, a
//! concurrency conflict) are deliberately absent: they belong to the services, never to the domain.
//! So is malformed input: commands carry parsed newtypes (`crate::input`), so a decision never
//! meets a blank message or an overflowing price.

/// Why an aggregate refused a command.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DomainError {
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
