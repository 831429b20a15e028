//! The MongoDB event store (`MongoEventStore`) and its connection (`connection`).
//!
//! Invariants kept here:
//! - versions are 1-based and dense per stream: a commit appends `first_version = loaded + 1`,
//!   and the unique index (stream_id, first_version) refuses a second writer of that version;
//! - a command id is applied at most once (unique index on command_id);
//! - every commit has a unique position (`_id`), its place in store order: microseconds since the
//!   epoch when it was appended, made strictly greater than the position of the stream's previous
//!   commit (which its writer read) and than any position this process issued before. So version
//!   n+1 of a stream always sorts after version n, whatever the clocks of the instances do, and
//!   an append costs one insert and no round trip to a shared counter (a hot spot every command
//!   would queue on). Two instances drawing the same microsecond collide on `_id`; the loser
//!   draws again;
//! - every operation is bounded by the operation timeout: a server that stops answering (frozen,
//!   partitioned) becomes `StoreError::Unavailable` within it, never a call that hangs until the
//!   caller's own deadline.
//!
//! Must not depend on gRPC types or on the application layer.

mod connection;

use std::{
    future::Future,
    sync::{
        Arc,
        atomic::{AtomicI64, Ordering},
    },
    time::Duration,
};

use cqrsplus_domain::Aggregate;
use futures::TryStreamExt;
use mongodb::{
    Collection, Database, IndexModel,
    bson::{DateTime, Document, doc},
    options::IndexOptions,
};
use time::OffsetDateTime;
use uuid::Uuid;

pub use connection::{ConnectionOptions, classify, connect};

use super::{
    Appended, EventStore, Loaded, NewCommit, StoreError, StreamEnd, StreamRead,
    commit::{
        COMMITS, CommitDocument, EMAIL_RESERVATIONS, EmailReservation, SNAPSHOTS, SnapshotDocument,
        StoredEvent, lenient_i64, millis, to_i64,
    },
    ensure_type, fold_commit, snapshot_due, stream_read,
};

/// How long one store operation may take when nobody configured it (the service's config does).
pub const DEFAULT_OPERATION_TIMEOUT: Duration = Duration::from_secs(3);

/// The MongoDB event store of one database.
#[derive(Clone)]
pub struct MongoEventStore {
    commits: Collection<CommitDocument>,
    snapshots: Collection<SnapshotDocument>,
    reservations: Collection<EmailReservation>,
    snapshot_every: u64,
    /// The longest one operation (with its retries inside the driver) may take.
    operation_timeout: Duration,
    /// The last position this process issued; positions never go back, even if the clock does.
    last_position: Arc<AtomicI64>,
}

impl MongoEventStore {
    /// Opens the store and creates its indexes (idempotent). `snapshot_every` = 0 disables
    /// snapshots. Operations time out after [`DEFAULT_OPERATION_TIMEOUT`] unless
    /// [`Self::with_operation_timeout`] says otherwise.
    pub async fn open(db: &Database, snapshot_every: u64) -> Result<Self, StoreError> {
        let store = Self {
            commits: db.collection(COMMITS),
            snapshots: db.collection(SNAPSHOTS),
            reservations: db.collection(EMAIL_RESERVATIONS),
            snapshot_every,
            operation_timeout: DEFAULT_OPERATION_TIMEOUT,
            last_position: Arc::new(AtomicI64::new(0)),
        };
        let unique = || IndexOptions::builder().unique(true).build();
        store
            .commits
            .create_indexes([
                IndexModel::builder()
                    .keys(doc! { "stream_id": 1, "first_version": 1 })
                    .options(unique())
                    .build(),
                IndexModel::builder()
                    .keys(doc! { "command_id": 1 })
                    .options(unique())
                    .build(),
                // Single-field indexes: a compound one with `_id` breaks inserts on the local
                // wire-compatible server.
                IndexModel::builder().keys(doc! { "position": 1 }).build(),
                IndexModel::builder().keys(doc! { "dispatched": 1 }).build(),
            ])
            .await
            .map_err(|e| classify(e, COMMITS))?;
        store
            .snapshots
            .create_index(
                IndexModel::builder()
                    .keys(doc! { "stream_id": 1, "version": -1 })
                    .build(),
            )
            .await
            .map_err(|e| classify(e, SNAPSHOTS))?;
        Ok(store)
    }

    /// The same store with another operation timeout.
    pub fn with_operation_timeout(mut self, timeout: Duration) -> Self {
        self.operation_timeout = timeout;
        self
    }

    /// The commits collection, for the outbox relay.
    pub fn commits(&self) -> &Collection<CommitDocument> {
        &self.commits
    }

    /// Runs one operation within the operation timeout. Dropping the driver's future on timeout
    /// discards its connection, so a late answer cannot be mistaken for another request's.
    async fn bounded<T>(
        &self,
        what: &'static str,
        operation: impl Future<Output = Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
        match tokio::time::timeout(self.operation_timeout, operation).await {
            Ok(done) => done,
            Err(_) => Err(StoreError::Unavailable(format!(
                "{what} got no answer within {:?}",
                self.operation_timeout
            ))),
        }
    }

    async fn load_unbounded<A: Aggregate>(&self, id: Uuid) -> Result<Loaded<A>, StoreError> {
        let stream_id = id.to_string();
        let mut loaded = self
            .latest_snapshot::<A>(&stream_id)
            .await?
            .unwrap_or_else(Loaded::empty);
        let mut cursor = self
            .commits
            .find(doc! { "stream_id": &stream_id, "last_version": { "$gt": to_i64(loaded.version)? } })
            .sort(doc! { "first_version": 1 })
            .await
            .map_err(|e| classify(e, COMMITS))?;
        while let Some(commit) = cursor.try_next().await.map_err(|e| classify(e, COMMITS))? {
            fold_commit(&mut loaded, &commit, &stream_id)?;
        }
        Ok(loaded)
    }

    async fn latest_snapshot<A: Aggregate>(
        &self,
        stream_id: &str,
    ) -> Result<Option<Loaded<A>>, StoreError> {
        if self.snapshot_every == 0 {
            return Ok(None);
        }
        let snapshot = self
            .snapshots
            .find_one(doc! { "stream_id": stream_id })
            .sort(doc! { "version": -1 })
            .await
            .map_err(|e| classify(e, SNAPSHOTS))?;
        let Some(snapshot) = snapshot else {
            return Ok(None);
        };
        ensure_type::<A>(&snapshot.aggregate_type, stream_id)?;
        // A snapshot written by an older shape of the state is just ignored: folding the
        // events from the start gives the same state, only slower.
        match serde_json::from_str::<A>(&snapshot.state) {
            Ok(state) => Ok(Some(Loaded {
                state,
                version: u64::try_from(snapshot.version).unwrap_or(0),
                position: snapshot.position,
            })),
            Err(e) => {
                tracing::warn!(stream_id, error = %e, "ignoring an unreadable snapshot");
                Ok(None)
            }
        }
    }

    async fn append_unbounded(&self, commit: NewCommit) -> Result<Appended, StoreError> {
        // A position clash needs two writers in the same microsecond; a third in a row would
        // mean something else is wrong.
        const POSITION_ATTEMPTS: usize = 3;
        let mut after = commit.after_position;
        for _ in 0..POSITION_ATTEMPTS {
            match self.try_append(&commit, after).await {
                Err(StoreError::PositionTaken(taken)) => after = after.max(taken),
                done => return done,
            }
        }
        Err(StoreError::Internal(format!(
            "no free position for a commit of {} after {POSITION_ATTEMPTS} attempts",
            commit.stream_id
        )))
    }

    async fn try_append(&self, commit: &NewCommit, after: i64) -> Result<Appended, StoreError> {
        let count = commit.events.len() as u64;
        if count == 0 {
            return Err(StoreError::Internal(
                "a commit needs at least one event".into(),
            ));
        }
        let first_version = commit.expected_version + 1;
        let last_version = commit.expected_version + count;
        let position = self.draw_position(after);
        let document = CommitDocument {
            id: position,
            position,
            stream_id: commit.stream_id.to_string(),
            aggregate_type: commit.aggregate_type.to_owned(),
            first_version: to_i64(first_version)?,
            last_version: to_i64(last_version)?,
            command_id: commit.command_id.to_string(),
            events: commit
                .events
                .iter()
                .map(StoredEvent::from_envelope)
                .collect::<Result<_, _>>()?,
            committed_at: DateTime::from_millis(millis(commit.committed_at)),
            dispatched: false,
        };
        match self.commits.insert_one(&document).await {
            Ok(_) => Ok(Appended {
                position,
                last_version,
            }),
            Err(e) => match classify(e, COMMITS) {
                StoreError::Duplicate { .. } => Err(self.explain_duplicate(&document).await),
                other => Err(other),
            },
        }
    }

    /// A duplicate key is the command id (already applied), the stream version (someone
    /// appended first) or the position (someone drew the same microsecond). Index names are not
    /// reliable across servers, so look.
    async fn explain_duplicate(&self, document: &CommitDocument) -> StoreError {
        match self.find_command(&document.command_id).await {
            Ok(Some(existing)) => StoreError::CommandAlreadyApplied(Box::new(existing)),
            Ok(None) => match self.stream_version(&document.stream_id).await {
                Ok(current_version) if current_version >= to_u64(document.first_version) => {
                    StoreError::Conflict {
                        stream_id: document.stream_id.clone(),
                        current_version,
                    }
                }
                Ok(_) => StoreError::PositionTaken(document.position),
                Err(e) => e,
            },
            Err(e) => e,
        }
    }

    /// A position after `after`, after every position this process issued, and no earlier than
    /// now (in microseconds since the epoch).
    fn draw_position(&self, after: i64) -> i64 {
        let now = i64::try_from(OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000)
            .unwrap_or(i64::MAX / 2);
        let floor = now.max(after.saturating_add(1));
        let next = |last: i64| floor.max(last.saturating_add(1));
        let previous = self
            .last_position
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |last| Some(next(last)))
            .unwrap_or_else(|last| last);
        next(previous)
    }

    async fn find_command(&self, command_id: &str) -> Result<Option<CommitDocument>, StoreError> {
        self.commits
            .find_one(doc! { "command_id": command_id })
            .await
            .map_err(|e| classify(e, COMMITS))
    }

    /// The stream's latest version (0 when it has no commits).
    pub async fn stream_version(&self, stream_id: &str) -> Result<u64, StoreError> {
        let last = self
            .bounded("reading a stream version", async {
                self.commits
                    .find_one(doc! { "stream_id": stream_id })
                    .sort(doc! { "first_version": -1 })
                    .await
                    .map_err(|e| classify(e, COMMITS))
            })
            .await?;
        Ok(last.map_or(0, |c| u64::try_from(c.last_version).unwrap_or(0)))
    }

    /// The oldest `limit` commits not yet dispatched, in store order, leaving out the positions
    /// in `except` (commits the relay published and is marking): the outbox.
    pub async fn undispatched(
        &self,
        limit: i64,
        except: &[i64],
    ) -> Result<Vec<CommitDocument>, StoreError> {
        let filter = if except.is_empty() {
            doc! { "dispatched": false }
        } else {
            doc! { "dispatched": false, "_id": { "$nin": except } }
        };
        self.bounded("reading the outbox", self.in_store_order(filter, limit))
            .await
    }

    /// Marks the commits at `positions` dispatched; returns how many matched.
    pub async fn mark_dispatched(&self, positions: Vec<i64>) -> Result<u64, StoreError> {
        let marked = self
            .bounded("marking commits dispatched", async {
                self.commits
                    .update_many(
                        doc! { "_id": { "$in": positions }, "dispatched": false },
                        doc! { "$set": { "dispatched": true } },
                    )
                    .await
                    .map_err(|e| classify(e, COMMITS))
            })
            .await?;
        Ok(marked.matched_count)
    }

    /// How many commits are not dispatched yet. The `count` command, not `count_documents`: the
    /// driver runs the latter as an aggregation, which some servers answer by scanning every
    /// document (over 100 ms for a few thousand on the local one, against a few ms).
    pub async fn undispatched_count(&self) -> Result<u64, StoreError> {
        let namespace = self.commits.namespace();
        let reply = self
            .bounded("counting the outbox", async {
                self.commits
                    .client()
                    .database(&namespace.db)
                    .run_command(
                        doc! { "count": &namespace.coll, "query": { "dispatched": false } },
                    )
                    .await
                    .map_err(|e| classify(e, COMMITS))
            })
            .await?;
        lenient_i64(reply.get("n"))
            .and_then(|n| u64::try_from(n).ok())
            .ok_or_else(|| StoreError::Corrupt(format!("count answered {reply:?}")))
    }

    async fn in_store_order(
        &self,
        filter: Document,
        limit: i64,
    ) -> Result<Vec<CommitDocument>, StoreError> {
        self.commits
            .find(filter)
            .sort(doc! { "position": 1 })
            .limit(limit)
            .await
            .map_err(|e| classify(e, COMMITS))?
            .try_collect()
            .await
            .map_err(|e| classify(e, COMMITS))
    }

    async fn email_holder_unbounded(&self, email: &str) -> Result<Option<Uuid>, StoreError> {
        let found = self
            .reservations
            .find_one(doc! { "_id": email })
            .await
            .map_err(|e| classify(e, EMAIL_RESERVATIONS))?;
        Ok(found.and_then(|r| Uuid::parse_str(&r.customer_id).ok()))
    }
}

impl EventStore for MongoEventStore {
    async fn load<A: Aggregate>(&self, id: Uuid) -> Result<Loaded<A>, StoreError> {
        self.bounded("loading an aggregate", self.load_unbounded(id))
            .await
    }

    async fn append(&self, commit: NewCommit) -> Result<Appended, StoreError> {
        self.bounded("appending a commit", self.append_unbounded(commit))
            .await
    }

    async fn commit_by_command_id(
        &self,
        command_id: Uuid,
    ) -> Result<Option<CommitDocument>, StoreError> {
        let command_id = command_id.to_string();
        self.bounded("looking up a command id", self.find_command(&command_id))
            .await
    }

    async fn maybe_snapshot<A: Aggregate>(
        &self,
        id: Uuid,
        state: &A,
        first_version: u64,
        appended: Appended,
        now: OffsetDateTime,
    ) {
        let last_version = appended.last_version;
        if !snapshot_due(self.snapshot_every, first_version, last_version) {
            return;
        }
        let result = self
            .bounded("writing a snapshot", async {
                let document = SnapshotDocument {
                    id: format!("{id}:{last_version}"),
                    stream_id: id.to_string(),
                    aggregate_type: A::TYPE.to_owned(),
                    version: to_i64(last_version)?,
                    position: appended.position,
                    state: serde_json::to_string(state)
                        .map_err(|e| StoreError::Internal(format!("snapshot state: {e}")))?,
                    taken_at: DateTime::from_millis(millis(now)),
                };
                self.snapshots
                    .insert_one(&document)
                    .await
                    .map_err(|e| classify(e, SNAPSHOTS))
            })
            .await;
        match result {
            Ok(_) | Err(StoreError::Duplicate { .. }) => {}
            Err(e) => tracing::warn!(stream_id = %id, error = %e, "snapshot not written"),
        }
    }

    async fn read_stream(
        &self,
        id: Uuid,
        end: StreamEnd,
    ) -> Result<Option<StreamRead>, StoreError> {
        let stream_id = id.to_string();
        let commits: Vec<CommitDocument> = self
            .bounded("reading a stream", async {
                self.commits
                    .find(doc! { "stream_id": &stream_id })
                    .sort(doc! { "first_version": 1 })
                    .await
                    .map_err(|e| classify(e, COMMITS))?
                    .try_collect()
                    .await
                    .map_err(|e| classify(e, COMMITS))
            })
            .await?;
        stream_read(&commits, end)
    }

    async fn read_all(
        &self,
        after_position: i64,
        limit: i64,
    ) -> Result<Vec<CommitDocument>, StoreError> {
        self.bounded(
            "reading the store",
            self.in_store_order(doc! { "position": { "$gt": after_position } }, limit),
        )
        .await
    }

    async fn commit_count(&self) -> Result<u64, StoreError> {
        self.bounded("counting commits", async {
            self.commits
                .count_documents(doc! {})
                .await
                .map_err(|e| classify(e, COMMITS))
        })
        .await
    }

    /// The sum of every commit's version span.
    async fn event_count(&self) -> Result<u64, StoreError> {
        let pipeline = [doc! { "$group": {
            "_id": null,
            "n": { "$sum": { "$add": [{ "$subtract": ["$last_version", "$first_version"] }, 1] } },
        } }];
        let row = self
            .bounded("counting events", async {
                let mut cursor = self
                    .commits
                    .aggregate(pipeline)
                    .await
                    .map_err(|e| classify(e, COMMITS))?;
                cursor.try_next().await.map_err(|e| classify(e, COMMITS))
            })
            .await?;
        let Some(row) = row else {
            return Ok(0);
        };
        lenient_i64(row.get("n"))
            .map(|n| u64::try_from(n).unwrap_or(0))
            .ok_or_else(|| {
                StoreError::Corrupt(format!("event count came back as {:?}", row.get("n")))
            })
    }

    async fn reserve_email(&self, email: &str, customer_id: Uuid) -> Result<(), StoreError> {
        let reservation = EmailReservation {
            email: email.to_owned(),
            customer_id: customer_id.to_string(),
            reserved_at: DateTime::now(),
        };
        self.bounded("reserving an email", async {
            match self.reservations.insert_one(&reservation).await {
                Ok(_) => Ok(()),
                Err(e) => match classify(e, EMAIL_RESERVATIONS) {
                    StoreError::Duplicate { .. } => {
                        match self.email_holder_unbounded(email).await? {
                            Some(holder) if holder == customer_id => Ok(()),
                            _ => Err(StoreError::EmailTaken {
                                email: email.to_owned(),
                            }),
                        }
                    }
                    other => Err(other),
                },
            }
        })
        .await
    }

    async fn email_holder(&self, email: &str) -> Result<Option<Uuid>, StoreError> {
        self.bounded(
            "reading an email reservation",
            self.email_holder_unbounded(email),
        )
        .await
    }

    async fn take_over_email(&self, email: &str, from: Uuid, to: Uuid) -> Result<bool, StoreError> {
        let result = self
            .bounded("taking over an email reservation", async {
                self.reservations
                    .update_one(
                        doc! { "_id": email, "customer_id": from.to_string() },
                        doc! { "$set": { "customer_id": to.to_string(), "reserved_at": DateTime::now() } },
                    )
                    .await
                    .map_err(|e| classify(e, EMAIL_RESERVATIONS))
            })
            .await?;
        Ok(result.modified_count == 1)
    }

    async fn release_email(&self, email: &str, customer_id: Uuid) -> Result<(), StoreError> {
        self.bounded("releasing an email reservation", async {
            self.reservations
                .delete_one(doc! { "_id": email, "customer_id": customer_id.to_string() })
                .await
                .map_err(|e| classify(e, EMAIL_RESERVATIONS))
        })
        .await?;
        Ok(())
    }
}

fn to_u64(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}
