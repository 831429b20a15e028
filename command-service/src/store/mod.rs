//! The event store: what the command side needs from the place its events are kept.
//!
//! Owns the [`EventStore`] trait and its two implementations: [`mongo::MongoEventStore`] (the real
//! one, with its connection options, timeouts and driver-error classification) and
//! [`memory::InMemoryEventStore`] (for unit tests of the application layer, with no server). Both
//! keep the same documents (`commit`), so the in-memory store also exercises the BSON mapping.
//! Errors come out in the terms the service acts on ("someone appended first", "this command was
//! already applied"), never as server codes. Must not depend on gRPC types or on the application
//! layer.

pub mod commit;
pub mod memory;
pub mod mongo;

use std::future::Future;

use cqrsplus_domain::{Aggregate, DomainEvent, EventEnvelope};
use time::OffsetDateTime;
use uuid::Uuid;

pub use memory::InMemoryEventStore;
pub use mongo::MongoEventStore;

use commit::{CommitDocument, StoredEvent};

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
    CommandAlreadyApplied(Box<CommitDocument>),
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
    /// The server could not be reached or did not answer in time; the command may be retried
    /// (with the same command id: a timed-out append may have landed).
    #[error("event store unavailable: {0}")]
    Unavailable(String),
    /// Anything else the server or driver reported.
    #[error("event store error: {0}")]
    Internal(String),
}

/// An aggregate as loaded: its state and the version it is at (0 = no events yet).
#[derive(Debug, Clone)]
pub struct Loaded<A> {
    pub state: A,
    pub version: u64,
    /// The store position of the commit that brought it to `version` (0 = none, or unknown
    /// for a snapshot written before snapshots kept it); the next commit is placed after it.
    pub position: i64,
}

impl<A: Default> Loaded<A> {
    /// An aggregate with no events yet.
    pub fn empty() -> Self {
        Self {
            state: A::default(),
            version: 0,
            position: 0,
        }
    }
}

/// What a command wants to append.
#[derive(Debug, Clone)]
pub struct NewCommit {
    pub stream_id: Uuid,
    pub aggregate_type: &'static str,
    /// The version the command was decided against; the events get the versions after it.
    pub expected_version: u64,
    /// The position of the stream's commit at `expected_version` (`Loaded::position`; 0 when
    /// unknown): the new commit is placed after it.
    pub after_position: i64,
    pub command_id: Uuid,
    /// Envelopes with versions expected_version + 1, + 2, ...
    pub events: Vec<EventEnvelope>,
    pub committed_at: OffsetDateTime,
}

/// A successful append.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Appended {
    pub position: i64,
    pub last_version: u64,
}

/// Where reading a stream stops.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamEnd {
    /// Everything there is.
    Latest,
    /// Up to and including this version.
    Version(u64),
    /// The events that had occurred at this time (inclusive).
    AsOf(OffsetDateTime),
}

/// What `read_stream` found.
#[derive(Debug, Clone)]
pub struct StreamRead {
    pub aggregate_type: String,
    /// The events up to the requested end.
    pub events: Vec<EventEnvelope>,
    /// The stream's latest version, whatever the requested end.
    pub current_version: u64,
}

/// The operations the command side needs from an event store.
///
/// Invariants every implementation keeps: versions are 1-based and dense per stream, and a
/// second writer of a version is refused (`Conflict`); a command id is applied at most once
/// (`CommandAlreadyApplied` carries the first commit); positions are unique and increase along
/// each stream; a customer email is reserved by at most one customer.
pub trait EventStore: Clone + Send + Sync + 'static {
    /// Loads an aggregate: its latest usable snapshot, then the commits after it.
    fn load<A: Aggregate>(
        &self,
        id: Uuid,
    ) -> impl Future<Output = Result<Loaded<A>, StoreError>> + Send;

    /// Appends one commit. Errors: `Conflict` when another writer appended that version first,
    /// `CommandAlreadyApplied` when the command id is already in the store.
    fn append(
        &self,
        commit: NewCommit,
    ) -> impl Future<Output = Result<Appended, StoreError>> + Send;

    /// The commit a command id produced, if any.
    fn commit_by_command_id(
        &self,
        command_id: Uuid,
    ) -> impl Future<Output = Result<Option<CommitDocument>, StoreError>> + Send;

    /// Writes a snapshot when a commit crossed the snapshot interval. Best effort: a lost
    /// snapshot only makes the next load fold more events.
    fn maybe_snapshot<A: Aggregate>(
        &self,
        id: Uuid,
        state: &A,
        first_version: u64,
        appended: Appended,
        now: OffsetDateTime,
    ) -> impl Future<Output = ()> + Send;

    /// One stream's events from version 1 up to `end`, in version order (None: no such stream).
    fn read_stream(
        &self,
        id: Uuid,
        end: StreamEnd,
    ) -> impl Future<Output = Result<Option<StreamRead>, StoreError>> + Send;

    /// Up to `limit` commits after `after_position`, in store order.
    fn read_all(
        &self,
        after_position: i64,
        limit: i64,
    ) -> impl Future<Output = Result<Vec<CommitDocument>, StoreError>> + Send;

    /// How many commits the store holds.
    fn commit_count(&self) -> impl Future<Output = Result<u64, StoreError>> + Send;

    /// How many events the store holds.
    fn event_count(&self) -> impl Future<Output = Result<u64, StoreError>> + Send;

    /// Reserves a normalized email for a customer. Idempotent for the same customer;
    /// `EmailTaken` names a reservation held by another one.
    fn reserve_email(
        &self,
        email: &str,
        customer_id: Uuid,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The customer holding a reservation, if any.
    fn email_holder(
        &self,
        email: &str,
    ) -> impl Future<Output = Result<Option<Uuid>, StoreError>> + Send;

    /// Moves a reservation from `from` to `to`, only if `from` still holds it.
    fn take_over_email(
        &self,
        email: &str,
        from: Uuid,
        to: Uuid,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Releases a reservation, only if `customer_id` holds it.
    fn release_email(
        &self,
        email: &str,
        customer_id: Uuid,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// Folds one stored commit into `loaded`, checking that it belongs to `A` and continues the
/// stream densely; events at or below `loaded.version` (already in a snapshot) are skipped.
pub(crate) fn fold_commit<A: Aggregate>(
    loaded: &mut Loaded<A>,
    commit: &CommitDocument,
    stream_id: &str,
) -> Result<(), StoreError> {
    ensure_type::<A>(&commit.aggregate_type, stream_id)?;
    for stored in &commit.events {
        let version = u64::try_from(stored.version)
            .map_err(|_| StoreError::Corrupt(format!("negative version in {stream_id}")))?;
        if version <= loaded.version {
            continue;
        }
        if version != loaded.version + 1 {
            return Err(StoreError::Corrupt(format!(
                "stream {stream_id} jumps from version {} to {version}",
                loaded.version
            )));
        }
        let event: A::Event = decode(stored)?;
        loaded.state.apply(&event);
        loaded.version = version;
    }
    loaded.position = loaded.position.max(commit.position);
    Ok(())
}

pub(crate) fn ensure_type<A: Aggregate>(stored: &str, stream_id: &str) -> Result<(), StoreError> {
    if stored == A::TYPE {
        Ok(())
    } else {
        Err(StoreError::WrongType {
            stream_id: stream_id.to_owned(),
            expected: A::TYPE,
            actual: stored.to_owned(),
        })
    }
}

fn decode<E: DomainEvent>(stored: &StoredEvent) -> Result<E, StoreError> {
    stored
        .to_envelope()?
        .decode::<E>()
        .map_err(|e| StoreError::Corrupt(format!("event {}: {e}", stored.event_id)))
}

/// The events of `commits` (one stream, in version order) up to `end`, with the stream's type
/// and latest version; shared by both implementations so they answer alike.
pub(crate) fn stream_read(
    commits: &[CommitDocument],
    end: StreamEnd,
) -> Result<Option<StreamRead>, StoreError> {
    let Some(aggregate_type) = commits.first().map(|c| c.aggregate_type.clone()) else {
        return Ok(None);
    };
    let mut events = Vec::new();
    for commit in commits {
        for envelope in commit.envelopes()? {
            let included = match end {
                StreamEnd::Latest => true,
                StreamEnd::Version(v) => envelope.version <= v,
                StreamEnd::AsOf(t) => envelope.occurred_at <= t,
            };
            if included {
                events.push(envelope);
            }
        }
    }
    let current_version = commits
        .last()
        .map_or(0, |c| u64::try_from(c.last_version).unwrap_or(0));
    Ok(Some(StreamRead {
        aggregate_type,
        events,
        current_version,
    }))
}

/// Whether a snapshot is due for a commit of versions `first_version..=last_version`.
pub(crate) fn snapshot_due(every: u64, first_version: u64, last_version: u64) -> bool {
    every != 0 && first_version >= 1 && (first_version - 1) / every != last_version / every
}
