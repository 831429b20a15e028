//! Executing commands: load the aggregate, let the pure domain decide, append the commit, wake
//! the relay. Also the two rules that need more than one aggregate: a customer's email is unique
//! (a reservation document), and an order needs a registered customer.
//!
//! Must not know about gRPC: the transport layer turns requests into calls here and errors into
//! statuses.

use std::sync::Arc;

use cqrsplus_domain::{
    Actor, Aggregate, CommandContext, EnvelopeMeta, EventEnvelope,
    customer::{Customer, CustomerCommand, CustomerEvent},
    order::{Order, OrderCommand, ensure_customer_may_order},
};
use time::OffsetDateTime;
use tokio::sync::Notify;
use uuid::Uuid;

use crate::{
    cache::AggregateCache,
    error::ServiceError,
    store::{EventStore, Loaded, NewCommit, StoreError, commit::CommitDocument},
};

/// Who asks, and under which ids.
#[derive(Debug, Clone)]
pub struct CommandMeta {
    pub actor: Actor,
    /// Idempotency key: the same id is applied once, and re-sending it returns the first result.
    pub command_id: Uuid,
    /// Whether the client chose `command_id`. A generated one cannot have been applied before,
    /// so the lookup for an earlier result is skipped (one round trip less per command).
    pub client_command_id: bool,
    pub correlation_id: Uuid,
    /// Optimistic check by the caller; `None` = decide against whatever version is current.
    pub expected_version: Option<u64>,
}

/// The result of a command.
#[derive(Debug, Clone)]
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

/// What the domain decided, before it is committed.
struct Decision<A: Aggregate> {
    loaded: Loaded<A>,
    events: Vec<A::Event>,
    now: OffsetDateTime,
}

/// The command side's entry point.
#[derive(Clone)]
pub struct Commands {
    store: EventStore,
    relay: Arc<Notify>,
    cache: Arc<AggregateCache>,
}

impl Commands {
    /// `relay` is notified after every append, so events leave without waiting for a poll.
    /// `cache_capacity` bounds the aggregates kept in memory (0 = always load from the store).
    pub fn new(store: EventStore, relay: Arc<Notify>, cache_capacity: usize) -> Self {
        Self {
            store,
            relay,
            cache: Arc::new(AggregateCache::new(cache_capacity)),
        }
    }

    pub fn store(&self) -> &EventStore {
        &self.store
    }

    /// Notes that `id` was just generated, so no stream can exist for it: the next command on it
    /// is decided on the empty aggregate without a load. Were the id taken after all, the store's
    /// unique index would refuse the append, and the command would be decided again on a load.
    pub fn assume_new<A: Aggregate>(&self, id: Uuid) {
        self.cache.put(
            id,
            Loaded {
                state: A::default(),
                version: 0,
                position: 0,
            },
        );
    }

    /// Executes a command on aggregate `A` with id `id`.
    ///
    /// Decides on the cached aggregate when there is one; if that leads to a conflict or a
    /// refusal, the cache may have been stale (another instance appended), so the command is
    /// decided once more on a fresh load, whose outcome stands.
    pub async fn execute<A: Aggregate>(
        &self,
        id: Uuid,
        command: A::Command,
        meta: &CommandMeta,
    ) -> Result<Executed, ServiceError>
    where
        A::Command: Clone,
    {
        if let Some(first) = self.prior_result(id, meta).await? {
            return Ok(first);
        }
        // An explicit expected version is checked against the store, never against the cache.
        let cached = meta
            .expected_version
            .is_none()
            .then(|| self.cache.get::<A>(id))
            .flatten();
        if let Some(loaded) = cached {
            let attempt = match self.decide_on(loaded, command.clone(), meta) {
                Ok(decision) => self.commit(id, decision, meta).await,
                Err(e) => Err(e),
            };
            match attempt {
                Err(ServiceError::Domain(_) | ServiceError::Store(StoreError::Conflict { .. })) => {
                    self.cache.remove(id);
                }
                done => return done,
            }
        }
        let decision = self.decide::<A>(id, command, meta).await?;
        self.commit(id, decision, meta).await
    }

    /// Places an order after checking that its customer is registered.
    pub async fn place_order(
        &self,
        id: Uuid,
        command: OrderCommand,
        meta: &CommandMeta,
    ) -> Result<Executed, ServiceError> {
        if let Some(first) = self.prior_result(id, meta).await? {
            return Ok(first);
        }
        if let OrderCommand::Place(place) = &command {
            let customer = match self.store.load::<Customer>(place.customer_id).await {
                Ok(loaded) => loaded.state,
                Err(StoreError::WrongType { .. }) => Customer::default(),
                Err(e) => return Err(e.into()),
            };
            ensure_customer_may_order(&customer)?;
        }
        self.execute::<Order>(id, command, meta).await
    }

    /// Registers or updates a customer, keeping emails unique across customers: the new email
    /// is reserved before the commit and the old one released after it.
    pub async fn execute_customer(
        &self,
        id: Uuid,
        command: CustomerCommand,
        meta: &CommandMeta,
    ) -> Result<Executed, ServiceError> {
        if let Some(first) = self.prior_result(id, meta).await? {
            return Ok(first);
        }
        let decision = self.decide::<Customer>(id, command, meta).await?;
        let old_email = decision.loaded.state.email().map(str::to_owned);
        // Every customer event carries the full details, so the last one has the new email.
        let new_email = decision.events.last().map(|e| match e {
            CustomerEvent::CustomerRegistered { email, .. }
            | CustomerEvent::CustomerUpdated { email, .. } => email.clone(),
        });
        let reserved = match &new_email {
            Some(email) if Some(email) != old_email.as_ref() => {
                self.reserve_email(email, id).await?;
                Some(email.clone())
            }
            _ => None,
        };
        match self.commit(id, decision, meta).await {
            Ok(executed) => {
                if let (Some(_), Some(old)) = (&reserved, &old_email) {
                    // Best effort: a leftover reservation is reclaimed when someone asks for it.
                    if let Err(e) = self.store.release_email(old, id).await {
                        tracing::warn!(customer = %id, error = %e, "old email not released");
                    }
                }
                Ok(executed)
            }
            Err(err) => {
                // A racing command for the same customer may have committed this email with the
                // same reservation: keep it then.
                if let Some(email) = &reserved {
                    let in_use = matches!(
                        self.store.load::<Customer>(id).await,
                        Ok(loaded) if loaded.state.email() == Some(email.as_str())
                    );
                    if !in_use {
                        let _ = self.store.release_email(email, id).await;
                    }
                }
                Err(err)
            }
        }
    }

    /// Reserves `email` for `customer`, reclaiming a reservation whose holder does not use the
    /// email (anymore): left by a crash between reserving and committing, or by a failed release.
    async fn reserve_email(&self, email: &str, customer: Uuid) -> Result<(), ServiceError> {
        match self.store.reserve_email(email, customer).await {
            Err(StoreError::EmailTaken { .. }) => {
                let Some(holder) = self.store.email_holder(email).await? else {
                    // Released in between: try once more.
                    return Ok(self.store.reserve_email(email, customer).await?);
                };
                let holder_uses_it = match self.store.load::<Customer>(holder).await {
                    Ok(loaded) => loaded.state.email() == Some(email),
                    Err(StoreError::WrongType { .. }) => false,
                    Err(e) => return Err(e.into()),
                };
                if !holder_uses_it && self.store.take_over_email(email, holder, customer).await? {
                    return Ok(());
                }
                Err(StoreError::EmailTaken {
                    email: email.to_owned(),
                }
                .into())
            }
            other => Ok(other?),
        }
    }

    /// The first result of this command id, if it was applied before.
    async fn prior_result(
        &self,
        id: Uuid,
        meta: &CommandMeta,
    ) -> Result<Option<Executed>, ServiceError> {
        if !meta.client_command_id {
            return Ok(None);
        }
        match self
            .store
            .commit_by_command_id(&meta.command_id.to_string())
            .await?
        {
            Some(commit) => replay_result(id, commit).map(Some),
            None => Ok(None),
        }
    }

    async fn decide<A: Aggregate>(
        &self,
        id: Uuid,
        command: A::Command,
        meta: &CommandMeta,
    ) -> Result<Decision<A>, ServiceError> {
        let loaded = self.store.load::<A>(id).await?;
        self.decide_on(loaded, command, meta)
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

    async fn commit<A: Aggregate>(
        &self,
        id: Uuid,
        decision: Decision<A>,
        meta: &CommandMeta,
    ) -> Result<Executed, ServiceError> {
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
            // The same command raced with itself (a client retry): answer with the winner's result.
            Err(StoreError::CommandAlreadyApplied(commit)) => replay_result(id, *commit),
            Err(e) => Err(e.into()),
        }
    }
}

/// The result of a command that was applied before, rebuilt from its commit.
fn replay_result(id: Uuid, commit: CommitDocument) -> Result<Executed, ServiceError> {
    if commit.stream_id != id.to_string() {
        return Err(StoreError::CommandAlreadyApplied(Box::new(commit)).into());
    }
    let command_id = Uuid::parse_str(&commit.command_id)
        .map_err(|_| StoreError::Corrupt(format!("command id {}", commit.command_id)))?;
    Ok(Executed {
        aggregate_id: id,
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
