//! The event store: how command-service keeps events in MongoDB.
//!
//! Owns the documents (`commit`), the driver-error classification (`mongo`) and the operations
//! the service needs (`event_store`): append a commit, load an aggregate, read streams and the
//! whole store, the outbox queries, email reservations. Errors come out in the terms the service
//! acts on ("someone appended first", "this command was already applied"), never as server codes.
//! Must not depend on gRPC types.

pub mod commit;
pub mod event_store;
pub mod mongo;

pub use event_store::{Appended, EventStore, Loaded, NewCommit, StreamEnd, StreamRead};

/// What can go wrong in the event store, in the terms the service acts on.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A unique index refused the write (low level; `append` turns it into one of the three
    /// below).
    #[error("duplicate key in {collection}: {message}")]
    Duplicate { collection: String, message: String },
    /// Another writer appended to the stream first; the caller may reload and retry.
    #[error("stream {stream_id} is at version {current_version}, not the expected one")]
    Conflict {
        stream_id: String,
        current_version: u64,
    },
    /// Another commit took the position drawn for this one (same microsecond); `append` draws
    /// again, so callers never see it.
    #[error("store position {0} is taken")]
    PositionTaken(i64),
    /// The command id was already applied; here is the commit it produced.
    #[error("command {} was already applied", .0.command_id)]
    CommandAlreadyApplied(Box<commit::CommitDocument>),
    /// The email is reserved by another customer.
    #[error("email {email} is already registered")]
    EmailTaken { email: String },
    /// The id belongs to an aggregate of another type (ids are shared by all types).
    #[error("{stream_id} is a {actual}, not a {expected}")]
    WrongType {
        stream_id: String,
        expected: &'static str,
        actual: String,
    },
    /// A stored document does not decode: a bug or a manual edit, never the caller's fault.
    #[error("corrupt event store data: {0}")]
    Corrupt(String),
    /// The server could not be reached or timed out; the command may be retried.
    #[error("event store unavailable: {0}")]
    Unavailable(String),
    /// Anything else the server or driver reported.
    #[error("event store error: {0}")]
    Internal(String),
}
