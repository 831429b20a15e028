//! The pure domain of cqrsplus: aggregates, the commands they accept, the events they emit, and the
//! envelope those events travel in.
//!
//! An aggregate is a consistency boundary whose state is only ever the fold of its own events. A
//! command asks it to change; [`Aggregate::handle`] decides, against the current state, which events
//! (past tense, possibly none) record that change or which [`DomainError`] refuses it, and
//! [`Aggregate::apply`] folds an event into the state without judging it. Events leave the domain in
//! an [`EventEnvelope`], which carries the metadata the store, the broker and the read side need.
//!
//! This crate must stay free of I/O: it depends on serde, thiserror, uuid and time only, and never on
//! tokio, database drivers, gRPC or Kafka. It never reads a clock or generates an id either; callers
//! pass both in, so every decision is reproducible in a test.

pub mod aggregate;
pub mod customer;
pub mod envelope;
pub mod error;
pub mod input;
pub mod money;
pub mod month;
pub mod order;
pub mod post;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
pub mod topics;

pub use aggregate::{Actor, Aggregate, CommandContext, DomainEvent};
pub use envelope::{EnvelopeError, EnvelopeMeta, EventEnvelope};
pub use error::DomainError;
pub use input::{FieldError, InvalidInput};
pub use money::{Currency, Money, MoneyError};
pub use month::ReportMonth;
