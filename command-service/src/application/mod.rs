//! Executing commands: the command side's one entry point, [`Commands::execute`].
//!
//! Every command goes the same way: answer with the first result if its command id was applied
//! before; check the rules that need another aggregate; decide on the aggregate (cached or
//! loaded); claim what the decision needs elsewhere (an email); append the commit; wake the relay.
//! The rules that span two aggregates live in one small module per aggregate (`post`, `customer`,
//! `order`), behind [`AggregateRules`], and `execute` is the only public way in, so no caller can
//! skip them.
//!
//! Races are settled here: a decision made on a stale cached state is made again on a fresh load;
//! a command without an expected version that loses an optimistic-concurrency race is decided
//! again on the fresh state (bounded, jittered); only a command naming an expected version is
//! refused with a conflict. Copies of one command id all get the first result.
//!
//! Must not know about gRPC: the transport layer turns requests into [`Command`]s and errors
//! into statuses.

mod customer;
mod order;
mod post;

use std::{future::Future, sync::Arc, time::Duration};

use cqrsplus_domain::{
    Actor, Aggregate, CommandContext, EnvelopeMeta, EventEnvelope,
    customer::{Customer, CustomerCommand},
    order::{Order, OrderCommand},
    post::{Post, PostCommand},
};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use tokio::sync::Notify;
use uuid::Uuid;

use crate::{
    cache::AggregateCache,
    error::ServiceError,
    outage::Outage,
    store::{EventStore, Loaded, NewCommit, StoreError, commit::CommitDocument},
};

/// Which aggregate a command acts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// The aggregate with this id (for creating commands: the client's choice of id).
    Id(Uuid),
    /// A new aggregate whose id the server picks.
    New,
}

/// Every command the service accepts, by aggregate.
#[derive(Debug, Clone)]
pub enum Command {
    Post(Target, PostCommand),
    Customer(Target, CustomerCommand),
    Order(Target, OrderCommand),
}

/// Who asks, and under which ids.
#[derive(Debug, Clone)]
pub struct CommandMeta {
    pub actor: Actor,
    /// Idempotency key: the same id is applied once, and re-sending it returns the first result.
    pub command_id: Uuid,
    /// Whether the client chose `command_id`. A generated one cannot have been applied before,
    /// so the lookups for an earlier result are skipped (one round trip less per command).
    pub client_command_id: bool,
    pub correlation_id: Uuid,
    /// Optimistic check by the caller; `None` = decide against whatever version is current
    /// (and decide again if another writer got there first).
    pub expected_version: Option<u64>,
}

/// The result of a command.
#[derive(Debug, Clone, PartialEq)]
pub struct Executed {
    pub aggregate_id: Uuid,
    /// The aggregate's version after the command (unchanged when it produced no event).
    pub version: u64,
    pub command_id: Uuid,
    /// True when the command id had already been applied and this is the first result again.
    pub already_applied: bool,
    /// The events the command produced (the original ones when already applied).
    pub events: Vec<EventEnvelope>,
}

/// How a command that lost an optimistic-concurrency race is retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConflictRetry {
    /// Most decisions per command (the first one included).
    pub attempts: u32,
    /// The backoff before the first retry; it doubles up to `max_backoff`. Each wait is drawn
    /// at random below the backoff (full jitter), so the losers of one race do not all meet
    /// again in the next.
    pub base_backoff: Duration,
    pub max_backoff: Duration,
}

impl Default for ConflictRetry {
    /// Enough for dozens of writers on one aggregate at once, while the worst case (about 2 s of
    /// waiting) stays well inside a client's deadline.
    fn default() -> Self {
        Self {
            attempts: 12,
            base_backoff: Duration::from_millis(5),
            max_backoff: Duration::from_millis(320),
        }
    }
}

impl ConflictRetry {
    /// The wait before retry number `retry` (1-based).
    fn wait(&self, retry: u32) -> Duration {
        let backoff = self
            .base_backoff
            .saturating_mul(1 << retry.saturating_sub(1).min(16))
            .min(self.max_backoff);
        backoff.mul_f64(fastrand::f64())
    }
}

/// What one aggregate's commands need beyond the aggregate itself: the rules that read or claim
/// something elsewhere. Each aggregate's module implements it; `Commands::run` calls it on every
/// command of that aggregate.
trait AggregateRules<S: EventStore, A: Aggregate>: Sync {
    /// What `claim` took, to be kept or given back.
    type Claim: Send;

    /// Checks that need another aggregate, before deciding.
    fn check(
        &self,
        store: &S,
        command: &A::Command,
    ) -> impl Future<Output = Result<(), ServiceError>> + Send;

    /// Claims what the decided events need outside the aggregate, before they are committed.
    fn claim(
        &self,
        store: &S,
        id: Uuid,
        before: &A,
        events: &[A::Event],
    ) -> impl Future<Output = Result<Self::Claim, ServiceError>> + Send;

    /// The commit landed.
    fn committed(&self, store: &S, id: Uuid, claim: Self::Claim)
    -> impl Future<Output = ()> + Send;

    /// The commit did not land, or its outcome is unknown (`failure` says which).
    fn abandoned(
        &self,
        store: &S,
        id: Uuid,
        claim: Self::Claim,
        failure: &StoreError,
    ) -> impl Future<Output = ()> + Send;
}

/// What the domain decided, before it is committed.
struct Decision<A: Aggregate> {
    loaded: Loaded<A>,
    events: Vec<A::Event>,
    now: OffsetDateTime,
}

/// The command side's entry point.
#[derive(Clone)]
pub struct Commands<S> {
    store: S,
    relay: Arc<Notify>,
    cache: Arc<AggregateCache>,
    retry: ConflictRetry,
    outage: Arc<Outage>,
}

impl<S: EventStore> Commands<S> {
    /// `relay` is notified after every append, so events leave without waiting for a poll.
    /// `cache_capacity` bounds the aggregates kept in memory (0 = always load from the store).
    pub fn new(store: S, relay: Arc<Notify>, cache_capacity: usize) -> Self {
        Self {
            store,
            relay,
            cache: Arc::new(AggregateCache::new(cache_capacity)),
            retry: ConflictRetry::default(),
            outage: Arc::new(Outage::new("event store")),
        }
    }

    /// The same entry point reporting event store outages through `outage` (shared with the
    /// relay, so one outage is logged once).
    pub fn with_outage(mut self, outage: Arc<Outage>) -> Self {
        self.outage = outage;
        self
    }

    /// The same entry point with another conflict retry.
    pub fn with_conflict_retry(mut self, retry: ConflictRetry) -> Self {
        self.retry = retry;
        self
    }

    /// Decides and commits one command, with every rule of its aggregate.
    pub async fn execute(
        &self,
        command: Command,
        meta: &CommandMeta,
    ) -> Result<Executed, ServiceError> {
        let executed = match command {
            Command::Post(target, command) => {
                self.run::<Post, _>(target, command, meta, &post::PostRules)
                    .await
            }
            Command::Customer(target, command) => {
                self.run::<Customer, _>(target, command, meta, &customer::CustomerRules)
                    .await
            }
            Command::Order(target, command) => {
                self.run::<Order, _>(target, command, meta, &order::OrderRules)
                    .await
            }
        };
        // One log line when the store becomes unreachable and one when it answers again,
        // however many commands fail in between.
        match &executed {
            Err(ServiceError::Store(StoreError::Unavailable(reason))) => {
                self.outage.failed(reason);
            }
            Err(ServiceError::Store(StoreError::Internal(_) | StoreError::Corrupt(_))) => {}
            _ => {
                self.outage.recovered();
            }
        }
        executed
    }

    async fn run<A, R>(
        &self,
        target: Target,
        command: A::Command,
        meta: &CommandMeta,
        rules: &R,
    ) -> Result<Executed, ServiceError>
    where
        A: Aggregate,
        A::Command: Clone + Sync,
        R: AggregateRules<S, A>,
    {
        if let Some(first) = self.prior_result(target, meta).await? {
            return Ok(first);
        }
        let id = self.resolve::<A>(target, meta);
        let outcome = match rules.check(&self.store, &command).await {
            Ok(()) => self.decide_and_commit(id, command, meta, rules).await,
            Err(e) => Err(e),
        };
        match outcome {
            // A copy of this command (same id) may have been applied meanwhile, which is then
            // why this one was refused or lost the race: answer with the copy's result.
            Err(e) if meta.client_command_id && may_hide_a_copy(&e) => {
                match self.prior_result(Target::Id(id), meta).await? {
                    Some(first) => Ok(first),
                    None => Err(e),
                }
            }
            done => done,
        }
    }

    /// The id a command acts on. A server-picked id is derived from a client-chosen command id,
    /// so every copy of that command targets the same new aggregate (and all but one are
    /// refused there, then answered with the first result); otherwise it is a fresh UUIDv7,
    /// which cannot have a stream yet, so the command is decided without loading one (were the
    /// id taken after all, the store's unique index would refuse the append, and the command
    /// would be decided again on a load).
    fn resolve<A: Aggregate>(&self, target: Target, meta: &CommandMeta) -> Uuid {
        match target {
            Target::Id(id) => id,
            Target::New if meta.client_command_id => derived_id(meta.command_id),
            Target::New => {
                let id = Uuid::now_v7();
                self.cache.put::<A>(id, Loaded::empty());
                id
            }
        }
    }

    /// Decides on the cached aggregate when there is one (never with an expected version, which
    /// is checked against the store); a conflict or a refusal there may come from a stale cache
    /// (another instance appended), so the command is then decided on a fresh load. A conflict
    /// on a fresh load means another writer won the race: without an expected version the
    /// command is decided again after a jittered wait, up to the retry bound.
    async fn decide_and_commit<A, R>(
        &self,
        id: Uuid,
        command: A::Command,
        meta: &CommandMeta,
        rules: &R,
    ) -> Result<Executed, ServiceError>
    where
        A: Aggregate,
        A::Command: Clone + Sync,
        R: AggregateRules<S, A>,
    {
        let mut cached = if meta.expected_version.is_none() {
            self.cache.get::<A>(id)
        } else {
            None
        };
        let mut retries = 0;
        loop {
            let from_cache = cached.is_some();
            let loaded = match cached.take() {
                Some(loaded) => loaded,
                None => self.store.load::<A>(id).await?,
            };
            let attempt = match self.decide_on(loaded, command.clone(), meta) {
                Ok(decision) => self.commit(id, decision, meta, rules).await,
                Err(e) => Err(e),
            };
            match attempt {
                Err(ServiceError::Domain(_) | ServiceError::Store(StoreError::Conflict { .. }))
                    if from_cache =>
                {
                    self.cache.remove(id);
                }
                Err(ServiceError::Store(StoreError::Conflict { .. }))
                    if meta.expected_version.is_none() && retries + 1 < self.retry.attempts =>
                {
                    self.cache.remove(id);
                    retries += 1;
                    metrics::counter!("command_conflict_retries_total").increment(1);
                    tokio::time::sleep(self.retry.wait(retries)).await;
                }
                done => return done,
            }
        }
    }

    /// The first result of this command id, if it was applied before. For `Target::Id`, a
    /// command id applied to another aggregate is a client error, not a result.
    async fn prior_result(
        &self,
        target: Target,
        meta: &CommandMeta,
    ) -> Result<Option<Executed>, ServiceError> {
        if !meta.client_command_id {
            return Ok(None);
        }
        match self.store.commit_by_command_id(meta.command_id).await? {
            Some(commit) => replay_result(target, commit).map(Some),
            None => Ok(None),
        }
    }

    fn decide_on<A: Aggregate>(
        &self,
        loaded: Loaded<A>,
        command: A::Command,
        meta: &CommandMeta,
    ) -> Result<Decision<A>, ServiceError> {
        if let Some(expected) = meta.expected_version
            && expected != loaded.version
        {
            return Err(ServiceError::VersionMismatch {
                expected,
                current: loaded.version,
            });
        }
        let now = now_millis();
        let context = CommandContext::new(meta.actor.clone(), now);
        let events = loaded.state.handle(command, &context)?;
        Ok(Decision {
            loaded,
            events,
            now,
        })
    }

    async fn commit<A, R>(
        &self,
        id: Uuid,
        decision: Decision<A>,
        meta: &CommandMeta,
        rules: &R,
    ) -> Result<Executed, ServiceError>
    where
        A: Aggregate,
        R: AggregateRules<S, A>,
    {
        let Decision {
            loaded:
                Loaded {
                    mut state,
                    version,
                    position,
                },
            events,
            now,
        } = decision;
        if events.is_empty() {
            return Ok(Executed {
                aggregate_id: id,
                version,
                command_id: meta.command_id,
                already_applied: false,
                events: Vec::new(),
            });
        }
        let claim = rules.claim(&self.store, id, &state, &events).await?;
        let envelope_meta = EnvelopeMeta {
            aggregate_type: A::TYPE.to_owned(),
            aggregate_id: id,
            command_id: meta.command_id,
            correlation_id: meta.correlation_id,
            actor: meta.actor.as_str().to_owned(),
            occurred_at: now,
        };
        let envelopes: Vec<EventEnvelope> = events
            .iter()
            .zip(version + 1..)
            .map(|(event, v)| EventEnvelope::new(Uuid::now_v7(), v, &envelope_meta, event))
            .collect();
        let appended = self
            .store
            .append(NewCommit {
                stream_id: id,
                aggregate_type: A::TYPE,
                expected_version: version,
                after_position: position,
                command_id: meta.command_id,
                events: envelopes.clone(),
                committed_at: now,
            })
            .await;
        match appended {
            Ok(appended) => {
                rules.committed(&self.store, id, claim).await;
                self.relay.notify_one();
                for event in &events {
                    state.apply(event);
                }
                self.store
                    .maybe_snapshot(id, &state, version + 1, appended, now)
                    .await;
                self.cache.put(
                    id,
                    Loaded {
                        state,
                        version: appended.last_version,
                        position: appended.position,
                    },
                );
                Ok(Executed {
                    aggregate_id: id,
                    version: appended.last_version,
                    command_id: meta.command_id,
                    already_applied: false,
                    events: envelopes,
                })
            }
            Err(e) => {
                rules.abandoned(&self.store, id, claim, &e).await;
                match e {
                    // The same command raced with itself (a client retry): answer with the
                    // winner's result.
                    StoreError::CommandAlreadyApplied(commit) => {
                        replay_result(Target::Id(id), *commit)
                    }
                    e => Err(e.into()),
                }
            }
        }
    }
}

/// Kept apart from any other use of the same hash on command ids.
const NEW_AGGREGATE_NAMESPACE: &[u8] = b"cqrsplus.new-aggregate.v1:";

/// The id of the aggregate a creating command with this command id makes when the client did
/// not choose one: the same on every instance and in every release (a UUIDv8 from SHA-256), so
/// the copies of one command meet on one aggregate.
fn derived_id(command_id: Uuid) -> Uuid {
    let digest = Sha256::new()
        .chain_update(NEW_AGGREGATE_NAMESPACE)
        .chain_update(command_id.as_bytes())
        .finalize();
    let mut bytes = [0_u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_custom_bytes(bytes).into_uuid()
}

/// Whether a refusal may only mean that a copy of the command (same command id) won.
fn may_hide_a_copy(error: &ServiceError) -> bool {
    matches!(
        error,
        ServiceError::Domain(_)
            | ServiceError::VersionMismatch { .. }
            | ServiceError::Store(StoreError::Conflict { .. } | StoreError::EmailTaken { .. })
    )
}

/// The result of a command that was applied before, rebuilt from its commit.
fn replay_result(target: Target, commit: CommitDocument) -> Result<Executed, ServiceError> {
    let stream_id = Uuid::parse_str(&commit.stream_id)
        .map_err(|_| StoreError::Corrupt(format!("stream id {}", commit.stream_id)))?;
    if matches!(target, Target::Id(id) if id != stream_id) {
        return Err(StoreError::CommandAlreadyApplied(Box::new(commit)).into());
    }
    let command_id = Uuid::parse_str(&commit.command_id)
        .map_err(|_| StoreError::Corrupt(format!("command id {}", commit.command_id)))?;
    Ok(Executed {
        aggregate_id: stream_id,
        version: u64::try_from(commit.last_version).unwrap_or(0),
        command_id,
        already_applied: true,
        events: commit.envelopes()?,
    })
}

/// Now, at the millisecond precision the store keeps, so an event reads back exactly as written.
fn now_millis() -> OffsetDateTime {
    let now = OffsetDateTime::now_utc();
    now.replace_nanosecond(now.nanosecond() / 1_000_000 * 1_000_000)
        .unwrap_or(now)
}

#[cfg(test)]
mod tests;
