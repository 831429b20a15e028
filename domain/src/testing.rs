//! Given/when/then helpers for aggregate tests, exported behind the `testing` feature so the
//! services reuse them instead of growing their own.
//!
//! Owns [`Scenario`], [`Outcome`] and the contract checks for events and snapshots. Must not be
//! compiled into production builds (it panics by design) and must not depend on anything outside
//! this crate.

use std::fmt::{Debug, Write as _};

use serde_json::Value;
use time::OffsetDateTime;
use time::macros::datetime;
use uuid::Uuid;

use crate::{
    Actor, Aggregate, CommandContext, DomainError, DomainEvent, EnvelopeMeta, EventEnvelope,
};

/// The clock every scenario runs at unless told otherwise, so results never depend on today.
pub const FIXED_NOW: OffsetDateTime = datetime!(2024-01-02 03:04:05 UTC);

/// The actor every scenario runs as unless told otherwise.
pub const DEFAULT_ACTOR: &str = "alice";

/// Folds `events` into a fresh aggregate, as loading a stream from the store would.
pub fn fold<'a, A: Aggregate>(events: impl IntoIterator<Item = &'a A::Event>) -> A {
    let mut state = A::default();
    for event in events {
        state.apply(event);
    }
    state
}

/// An aggregate test: `Scenario::<Post>::given(history).as_actor("bob").when(command).then(events)`.
#[derive(Debug)]
pub struct Scenario<A: Aggregate> {
    state: A,
    actor: Actor,
    now: OffsetDateTime,
}

impl<A: Aggregate> Scenario<A> {
    /// Starts from the state `events` fold into; pass an empty history for a new aggregate.
    pub fn given(events: impl IntoIterator<Item = A::Event>) -> Self {
        let events: Vec<A::Event> = events.into_iter().collect();
        Self {
            state: fold(&events),
            actor: Actor::new(DEFAULT_ACTOR).expect("the default actor is valid"),
            now: FIXED_NOW,
        }
    }

    /// Starts from an aggregate that has no events yet.
    pub fn given_nothing() -> Self {
        Self::given(Vec::new())
    }

    /// Runs the command as `actor` (panics if the name is not a valid [`Actor`]).
    pub fn as_actor(mut self, actor: &str) -> Self {
        self.actor = Actor::new(actor)
            .unwrap_or_else(|error| panic!("scenario actor {actor:?} is invalid: {error}"));
        self
    }

    /// Runs the command at `now` instead of [`FIXED_NOW`].
    pub fn at(mut self, now: OffsetDateTime) -> Self {
        self.now = now;
        self
    }

    /// The state the history folded into.
    pub fn state(&self) -> &A {
        &self.state
    }

    pub fn when(self, command: A::Command) -> Outcome<A> {
        let command_text = format!("{command:#?}");
        let ctx = CommandContext::new(self.actor, self.now);
        let result = self.state.handle(command, &ctx);
        Outcome {
            state: self.state,
            command_text,
            result,
        }
    }
}

/// What a scenario's command produced, waiting to be checked.
#[derive(Debug)]
pub struct Outcome<A: Aggregate> {
    state: A,
    command_text: String,
    result: Result<Vec<A::Event>, DomainError>,
}

impl<A: Aggregate> Outcome<A> {
    /// Asserts the command was accepted with exactly `expected`, and returns the state after
    /// applying them, for further checks.
    #[track_caller]
    pub fn then(self, expected: impl IntoIterator<Item = A::Event>) -> A {
        let expected: Vec<A::Event> = expected.into_iter().collect();
        match self.result {
            Ok(actual) if actual == expected => {
                let mut state = self.state;
                for event in &actual {
                    state.apply(event);
                }
                state
            }
            Ok(actual) => panic!(
                "when {}\nthe events differ\n{}",
                self.command_text,
                event_diff(&expected, &actual)
            ),
            Err(error) => panic!(
                "when {}\nexpected events:\n{}\nbut the command was refused: {error:?}",
                self.command_text,
                list(&expected)
            ),
        }
    }

    /// Asserts the command was refused with exactly `expected`.
    #[track_caller]
    pub fn then_error(self, expected: DomainError) {
        match self.result {
            Err(actual) if actual == expected => {}
            Err(actual) => panic!(
                "when {}\nthe errors differ\nexpected: {expected:?}\n  actual: {actual:?}",
                self.command_text
            ),
            Ok(actual) => panic!(
                "when {}\nexpected error: {expected:?}\nbut the command was accepted with:\n{}",
                self.command_text,
                list(&actual)
            ),
        }
    }

    /// The raw result, for checks the helpers above do not cover.
    pub fn result(self) -> Result<Vec<A::Event>, DomainError> {
        self.result
    }
}

fn list<T: Debug>(items: &[T]) -> String {
    if items.is_empty() {
        return "  (none)\n".to_owned();
    }
    let mut out = String::new();
    for (index, item) in items.iter().enumerate() {
        let _ = writeln!(out, "  [{index}] {item:?}");
    }
    out
}

fn event_diff<T: Debug + PartialEq>(expected: &[T], actual: &[T]) -> String {
    let mut out = format!("expected:\n{}  actual:\n{}", list(expected), list(actual));
    let first = expected.iter().zip(actual).position(|(e, a)| e != a);
    match first {
        Some(index) => {
            let _ = write!(
                out,
                "first difference at [{index}]\nexpected: {:#?}\n  actual: {:#?}",
                expected[index], actual[index]
            );
        }
        None => {
            let _ = write!(
                out,
                "expected {} events, got {}",
                expected.len(),
                actual.len()
            );
        }
    }
    out
}

/// Checks what the envelope relies on, for every given event (pass one of each variant):
/// `event_type()` equals the serde tag, the type has a current schema version, `data` is a JSON
/// object, and encoding into an envelope, through JSON and back yields the same event.
#[track_caller]
pub fn assert_event_contract<E: DomainEvent>(events: &[E]) {
    let meta = EnvelopeMeta {
        aggregate_type: "contract".to_owned(),
        aggregate_id: Uuid::nil(),
        command_id: Uuid::nil(),
        correlation_id: Uuid::nil(),
        actor: DEFAULT_ACTOR.to_owned(),
        occurred_at: FIXED_NOW,
    };
    for (index, event) in events.iter().enumerate() {
        let tagged = serde_json::to_value(event).expect("events serialize");
        assert_eq!(
            tagged.get("event_type").and_then(Value::as_str),
            Some(event.event_type()),
            "event_type() differs from the serde tag for {event:?}"
        );
        assert_eq!(
            E::current_schema_version(event.event_type()),
            Some(event.schema_version()),
            "{} has no current schema version",
            event.event_type()
        );
        assert!(
            event.to_data().is_object(),
            "data of {event:?} is not a JSON object: {}",
            event.to_data()
        );

        let version = u64::try_from(index).expect("few events") + 1;
        let envelope = EventEnvelope::new(Uuid::nil(), version, &meta, event);
        let json = serde_json::to_string(&envelope).expect("envelopes serialize");
        let back: EventEnvelope = serde_json::from_str(&json).expect("envelopes deserialize");
        assert_eq!(back, envelope, "envelope of {event:?} changed through JSON");
        assert_eq!(
            back.decode::<E>().as_ref(),
            Ok(event),
            "{event:?} did not survive its envelope"
        );
    }
}

/// Checks that a snapshot taken anywhere in `history` (state serialized to JSON and back) followed
/// by the rest of the history gives the same state as folding the whole history.
#[track_caller]
pub fn assert_snapshot_round_trip<A: Aggregate + PartialEq>(history: &[A::Event]) -> A {
    let full: A = fold(history);
    for split in 0..=history.len() {
        let (before, after) = history.split_at(split);
        let snapshot = serde_json::to_string(&fold::<A>(before)).expect("state serializes");
        let mut state: A = serde_json::from_str(&snapshot).expect("snapshot deserializes");
        for event in after {
            state.apply(event);
        }
        assert_eq!(
            state, full,
            "snapshot after {split} events then the rest differs from the full fold"
        );
    }
    full
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::post::{CreatePost, Post, PostCommand, PostEvent, PostMessage};

    fn create() -> PostCommand {
        PostCommand::Create(CreatePost {
            message: PostMessage::parse("hi").expect("valid"),
        })
    }

    #[test]
    #[should_panic(expected = "first difference at [0]")]
    fn then_points_at_the_first_differing_event() {
        Scenario::<Post>::given_nothing()
            .as_actor("bob")
            .when(create())
            .then([PostEvent::PostCreated {
                author: "alice".to_owned(),
                message: "hi".to_owned(),
            }]);
    }

    #[test]
    #[should_panic(expected = "but the command was refused")]
    fn then_reports_a_refusal() {
        Scenario::<Post>::given_nothing()
            .when(PostCommand::Like)
            .then([]);
    }

    #[test]
    #[should_panic(expected = "but the command was accepted")]
    fn then_error_reports_an_acceptance() {
        Scenario::<Post>::given_nothing()
            .when(create())
            .then_error(DomainError::NotFound("post".to_owned()));
    }

    #[test]
    #[should_panic(expected = "the errors differ")]
    fn then_error_reports_a_different_error() {
        Scenario::<Post>::given_nothing()
            .when(PostCommand::Like)
            .then_error(DomainError::AlreadyExists("post".to_owned()));
    }

    #[test]
    fn scenarios_run_at_the_fixed_clock_unless_told() {
        let scenario = Scenario::<Post>::given_nothing();
        assert_eq!(scenario.now, FIXED_NOW);
        let later = datetime!(2030-01-01 0:00 UTC);
        assert_eq!(scenario.at(later).now, later);
    }
}
