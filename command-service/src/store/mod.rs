//! The event store: how command-service talks to MongoDB.
//!
//! Owns the connection and the translation of driver errors into [`StoreError`], so the rest of
//! the service reasons about "someone appended first" instead of server error codes. Must not
//! depend on gRPC types.

pub mod mongo;

/// What can go wrong in the event store, in the terms the service acts on.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A unique index refused the write: another writer got there first (same stream version,
    /// same command id, or same reserved email).
    #[error("duplicate key in {collection}: {message}")]
    Duplicate { collection: String, message: String },
    /// The server could not be reached or timed out; the command may be retried.
    #[error("event store unavailable: {0}")]
    Unavailable(String),
    /// Anything else the server or driver reported.
    #[error("event store error: {0}")]
    Internal(String),
}
