//! What an aggregate, a command context and a domain event are: the traits every aggregate
//! implements and the caller identity every command is decided for.
//!
//! Owns [`Aggregate`], [`DomainEvent`], [`Actor`] and [`CommandContext`]. Must not depend on any
//! concrete aggregate, nor on storage or transport: the envelope builds on these traits, not the
//! other way round (apart from [`EnvelopeError`], the one error event decoding can return).

use std::fmt;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::DomainError;
use crate::envelope::{self, EnvelopeError};
use crate::input::{self, FieldError, Lines};

/// The authenticated caller a command is decided for.
///
/// It always comes from authentication, never from a request body, so an author cannot be forged.
/// Deserialization is transparent and does not re-validate: actors inside stored events were valid
/// when written, and history must always load.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Actor(String);

impl Actor {
    /// The longest actor name, in characters.
    pub const MAX_CHARS: usize = 128;

    pub const FIELD: &'static str = "actor";

    /// Trims and checks an actor name: one line, no control character, at most
    /// [`Self::MAX_CHARS`].
    pub fn parse(name: &str) -> Result<Self, FieldError> {
        input::text(Self::FIELD, name, Self::MAX_CHARS, Lines::Single).map(Self)
    }

    /// The same as [`Self::parse`].
    pub fn new(name: impl AsRef<str>) -> Result<Self, FieldError> {
        Self::parse(name.as_ref())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

impl fmt::Display for Actor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for Actor {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// Who asks, and when, for one command.
///
/// The time is passed in rather than read from a clock so that decisions stay pure and testable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandContext {
    pub actor: Actor,
    pub now: OffsetDateTime,
}

impl CommandContext {
    pub fn new(actor: Actor, now: OffsetDateTime) -> Self {
        Self { actor, now }
    }
}

/// A fact an aggregate recorded, as one enum per aggregate.
///
/// # Serialized shape
///
/// The provided methods assume the enum is serialized with serde adjacent tagging,
/// `#[serde(tag = "event_type", content = "data")]`, with the variant name as the event type. That
/// way `to_data` and `from_data` are derived rather than written per variant. Unit variants should
/// use [`crate::envelope::unit_data`] so that their `data` is `{}` rather than absent.
///
/// # Schema versions and upcasting
///
/// Every event type has its own schema version, starting at 1. When the shape of an event type
/// changes, bump its number in [`DomainEvent::current_schema_version`] and teach
/// [`DomainEvent::upcast`] the step from the previous version. Decoding then applies the steps one
/// at a time, from the stored version up to the current one, on the way in; stored data is never
/// rewritten. A version newer than the code knows is refused, because guessing would corrupt state.
pub trait DomainEvent:
    Serialize + DeserializeOwned + Clone + fmt::Debug + PartialEq + Send + Sync + 'static
{
    /// The event type as written in envelopes, e.g. `"PostCreated"`; equal to the serde tag.
    fn event_type(&self) -> &'static str;

    /// The current schema version of `event_type`, or `None` if this enum has no such type.
    fn current_schema_version(event_type: &str) -> Option<u32>;

    /// The schema version this event is written with: the current one of its type.
    fn schema_version(&self) -> u32 {
        // `event_type()` only returns names `current_schema_version` knows (checked by
        // `testing::assert_event_contract` for every enum), so the fallback is never taken.
        Self::current_schema_version(self.event_type()).unwrap_or(envelope::FIRST_SCHEMA_VERSION)
    }

    /// Rewrites `data` of `event_type` from schema version `from_version` to `from_version + 1`.
    ///
    /// Only called for versions below the current one. The default knows no steps, which is right
    /// while every type is still at version 1.
    fn upcast(
        event_type: &str,
        from_version: u32,
        data: serde_json::Value,
    ) -> Result<serde_json::Value, EnvelopeError> {
        let _ = data;
        Err(EnvelopeError::unsupported_schema_version::<Self>(
            event_type,
            from_version,
        ))
    }

    /// The envelope's `data`: the event's fields as a JSON object, without its type.
    fn to_data(&self) -> serde_json::Value {
        envelope::untagged_data(self)
    }

    /// Rebuilds an event from envelope parts, upcasting older schema versions first (never
    /// rewriting stored data).
    fn from_data(
        event_type: &str,
        schema_version: u32,
        data: serde_json::Value,
    ) -> Result<Self, EnvelopeError> {
        let data = envelope::upcast_to_current::<Self>(event_type, schema_version, data)?;
        envelope::decode_tagged(event_type, data)
    }
}

/// A consistency boundary whose state is the fold of its events.
///
/// The state is serializable because snapshots store it. Version numbers are not part of it: the
/// event store tracks them.
pub trait Aggregate:
    Default + Clone + fmt::Debug + Serialize + DeserializeOwned + Send + Sync + 'static
{
    /// The aggregate type as written in envelopes: `"post"`, `"customer"` or `"order"`.
    const TYPE: &'static str;

    type Command: fmt::Debug + Send;
    type Event: DomainEvent;

    /// Decides which events a command produces against the current state, without changing it.
    fn handle(
        &self,
        command: Self::Command,
        ctx: &CommandContext,
    ) -> Result<Vec<Self::Event>, DomainError>;

    /// Folds one event into the state. Never fails and never validates: the event already happened.
    fn apply(&mut self, event: &Self::Event);

    /// True once the creating event was applied.
    fn exists(&self) -> bool;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actor_is_trimmed() {
        let actor = Actor::new("  alice ").unwrap();
        assert_eq!(actor.as_str(), "alice");
        assert_eq!(actor.to_string(), "alice");
    }

    #[test]
    fn actor_refuses_blank_and_control_characters() {
        for bad in ["   ", "al\0ice", "al\nice"] {
            assert_eq!(Actor::new(bad).expect_err(bad).field, "actor");
        }
    }

    #[test]
    fn actor_refuses_more_than_128_chars() {
        assert!(Actor::new("a".repeat(128)).is_ok());
        assert_eq!(Actor::new("a".repeat(129)).unwrap_err().field, "actor");
    }

    #[test]
    fn actor_serializes_as_a_plain_string() {
        let actor = Actor::new("bob").unwrap();
        assert_eq!(
            serde_json::to_value(&actor).unwrap(),
            serde_json::json!("bob")
        );
        let back: Actor = serde_json::from_value(serde_json::json!("bob")).unwrap();
        assert_eq!(back, actor);
    }
}
