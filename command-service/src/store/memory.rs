//! An event store in memory, for unit tests of the application layer (no server needed).
//!
//! It keeps the same documents as the MongoDB store (events go through the same BSON mapping) and
//! the same invariants (dense versions, a command id applied once, unique email reservations).
//! Tests can also make it misbehave the ways a shared store does: a rival writer that appends
//! just before a command's commit (as another instance would), or an outage. Must not be used by
//! the service itself; it keeps nothing when the process ends.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, MutexGuard, PoisonError},
};

use cqrsplus_domain::Aggregate;
use mongodb::bson::DateTime;
use time::OffsetDateTime;
use uuid::Uuid;

use super::{
    Appended, EventStore, Loaded, NewCommit, StoreError, StreamEnd, StreamRead,
    commit::{CommitDocument, StoredEvent, millis, to_i64},
    fold_commit, stream_read,
};

/// Called before each append with the commit about to be appended; a commit it returns is
/// appended first, as if another instance had won the race.
type Rival = dyn Fn(&NewCommit) -> Option<NewCommit> + Send + Sync;

/// Called after a command-id lookup that found nothing, with the id looked up; a commit it
/// returns is appended right then, as if a copy of the command had just been applied elsewhere.
type Copy = dyn Fn(Uuid) -> Option<NewCommit> + Send + Sync;

/// The in-memory event store; clones share the same data.
#[derive(Clone, Default)]
pub struct InMemoryEventStore {
    inner: Arc<Mutex<Inner>>,
    rival: Arc<Mutex<Option<Arc<Rival>>>>,
    copy: Arc<Mutex<Option<Arc<Copy>>>>,
}

#[derive(Default)]
struct Inner {
    /// In store order.
    commits: Vec<CommitDocument>,
    reservations: HashMap<String, Uuid>,
    last_position: i64,
    unavailable: bool,
    /// How many appends were attempted (including refused ones), for tests.
    append_attempts: u64,
}

impl InMemoryEventStore {
    pub fn new() -> Self {
        Self::default()
    }

    /// Installs a rival writer (see [`Rival`]); `None` removes it.
    pub fn set_rival(
        &self,
        rival: Option<impl Fn(&NewCommit) -> Option<NewCommit> + Send + Sync + 'static>,
    ) {
        *self.rival.lock().unwrap_or_else(PoisonError::into_inner) =
            rival.map(|r| Arc::new(r) as Arc<Rival>);
    }

    /// Installs a copy applied right after a lookup misses (see [`Copy`]); `None` removes it.
    pub fn set_copy_after_lookup(
        &self,
        copy: Option<impl Fn(Uuid) -> Option<NewCommit> + Send + Sync + 'static>,
    ) {
        *self.copy.lock().unwrap_or_else(PoisonError::into_inner) =
            copy.map(|c| Arc::new(c) as Arc<Copy>);
    }

    /// While true, every operation fails as an unreachable server would.
    pub fn set_unavailable(&self, unavailable: bool) {
        self.lock().unavailable = unavailable;
    }

    /// How many appends were attempted so far.
    pub fn append_attempts(&self) -> u64 {
        self.lock().append_attempts
    }

    /// Every commit, in store order.
    pub fn commits(&self) -> Vec<CommitDocument> {
        self.lock().commits.clone()
    }

    /// The customer holding each reserved email.
    pub fn reservations(&self) -> HashMap<String, Uuid> {
        self.lock().reservations.clone()
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The lock, unless the store plays unavailable.
    fn reachable(&self) -> Result<MutexGuard<'_, Inner>, StoreError> {
        let inner = self.lock();
        if inner.unavailable {
            return Err(StoreError::Unavailable(
                "in-memory store set unavailable".into(),
            ));
        }
        Ok(inner)
    }
}

impl Inner {
    fn stream_version(&self, stream_id: &str) -> u64 {
        self.commits
            .iter()
            .filter(|c| c.stream_id == stream_id)
            .map(|c| u64::try_from(c.last_version).unwrap_or(0))
            .max()
            .unwrap_or(0)
    }

    fn append(&mut self, commit: &NewCommit) -> Result<Appended, StoreError> {
        self.append_attempts += 1;
        let count = commit.events.len() as u64;
        if count == 0 {
            return Err(StoreError::Internal(
                "a commit needs at least one event".into(),
            ));
        }
        let command_id = commit.command_id.to_string();
        if let Some(existing) = self.commits.iter().find(|c| c.command_id == command_id) {
            return Err(StoreError::CommandAlreadyApplied(Box::new(
                existing.clone(),
            )));
        }
        let stream_id = commit.stream_id.to_string();
        let current_version = self.stream_version(&stream_id);
        if current_version > commit.expected_version {
            return Err(StoreError::Conflict {
                stream_id,
                current_version,
            });
        }
        if current_version < commit.expected_version {
            return Err(StoreError::Internal(format!(
                "stream {stream_id} is at version {current_version}; a commit after version {} \
                 would leave a gap",
                commit.expected_version
            )));
        }
        let position = self
            .last_position
            .max(commit.after_position)
            .saturating_add(1);
        self.last_position = position;
        let last_version = commit.expected_version + count;
        self.commits.push(CommitDocument {
            id: position,
            position,
            stream_id,
            aggregate_type: commit.aggregate_type.to_owned(),
            first_version: to_i64(commit.expected_version + 1)?,
            last_version: to_i64(last_version)?,
            command_id,
            events: commit
                .events
                .iter()
                .map(StoredEvent::from_envelope)
                .collect::<Result<_, _>>()?,
            committed_at: DateTime::from_millis(millis(commit.committed_at)),
            dispatched: false,
        });
        Ok(Appended {
            position,
            last_version,
        })
    }

    fn stream(&self, stream_id: &str) -> Vec<CommitDocument> {
        let mut commits: Vec<CommitDocument> = self
            .commits
            .iter()
            .filter(|c| c.stream_id == stream_id)
            .cloned()
            .collect();
        commits.sort_by_key(|c| c.first_version);
        commits
    }
}

impl EventStore for InMemoryEventStore {
    async fn load<A: Aggregate>(&self, id: Uuid) -> Result<Loaded<A>, StoreError> {
        // Each operation yields first, as a round trip would, so concurrent commands interleave.
        tokio::task::yield_now().await;
        let stream_id = id.to_string();
        let commits = self.reachable()?.stream(&stream_id);
        let mut loaded = Loaded::empty();
        for commit in &commits {
            fold_commit(&mut loaded, commit, &stream_id)?;
        }
        Ok(loaded)
    }

    async fn append(&self, commit: NewCommit) -> Result<Appended, StoreError> {
        tokio::task::yield_now().await;
        let rival = self
            .rival
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        let mut inner = self.reachable()?;
        if let Some(rival) = rival.and_then(|rival| rival(&commit)) {
            inner.append(&rival)?;
        }
        inner.append(&commit)
    }

    async fn commit_by_command_id(
        &self,
        command_id: Uuid,
    ) -> Result<Option<CommitDocument>, StoreError> {
        tokio::task::yield_now().await;
        let copy = self
            .copy
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        let key = command_id.to_string();
        let mut inner = self.reachable()?;
        let found = inner.commits.iter().find(|c| c.command_id == key).cloned();
        if found.is_none()
            && let Some(commit) = copy.and_then(|copy| copy(command_id))
        {
            inner.append(&commit)?;
        }
        Ok(found)
    }

    /// Loading folds every event here, so snapshots would only cost memory.
    async fn maybe_snapshot<A: Aggregate>(
        &self,
        _id: Uuid,
        _state: &A,
        _first_version: u64,
        _appended: Appended,
        _now: OffsetDateTime,
    ) {
    }

    async fn read_stream(
        &self,
        id: Uuid,
        end: StreamEnd,
    ) -> Result<Option<StreamRead>, StoreError> {
        let commits = self.reachable()?.stream(&id.to_string());
        stream_read(&commits, end)
    }

    async fn read_all(
        &self,
        after_position: i64,
        limit: i64,
    ) -> Result<Vec<CommitDocument>, StoreError> {
        let limit = usize::try_from(limit).unwrap_or(0);
        Ok(self
            .reachable()?
            .commits
            .iter()
            .filter(|c| c.position > after_position)
            .take(limit)
            .cloned()
            .collect())
    }

    async fn commit_count(&self) -> Result<u64, StoreError> {
        Ok(self.reachable()?.commits.len() as u64)
    }

    async fn event_count(&self) -> Result<u64, StoreError> {
        Ok(self
            .reachable()?
            .commits
            .iter()
            .map(|c| c.events.len() as u64)
            .sum())
    }

    async fn reserve_email(&self, email: &str, customer_id: Uuid) -> Result<(), StoreError> {
        tokio::task::yield_now().await;
        let mut inner = self.reachable()?;
        match inner.reservations.get(email) {
            Some(holder) if *holder == customer_id => Ok(()),
            Some(_) => Err(StoreError::EmailTaken {
                email: email.to_owned(),
            }),
            None => {
                inner.reservations.insert(email.to_owned(), customer_id);
                Ok(())
            }
        }
    }

    async fn email_holder(&self, email: &str) -> Result<Option<Uuid>, StoreError> {
        Ok(self.reachable()?.reservations.get(email).copied())
    }

    async fn take_over_email(&self, email: &str, from: Uuid, to: Uuid) -> Result<bool, StoreError> {
        let mut inner = self.reachable()?;
        match inner.reservations.get_mut(email) {
            Some(holder) if *holder == from => {
                *holder = to;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn release_email(&self, email: &str, customer_id: Uuid) -> Result<(), StoreError> {
        let mut inner = self.reachable()?;
        if inner.reservations.get(email) == Some(&customer_id) {
            inner.reservations.remove(email);
        }
        Ok(())
    }
}
