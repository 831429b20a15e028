//! query-service: the read side of CQRS Plus.
//!
//! Consumes the event topics, projects events into the Postgres read model (schema in the
//! workspace's `migrations/`), and answers queries over gRPC. It must not reach into the event
//! store directly: everything it knows arrives as events (or, for rebuilds, through
//! command-service's stream-reading RPC).

pub mod admin;
pub mod config;
pub mod error;
pub mod grpc;
pub mod outage;
pub mod projector;
pub mod queries;
pub mod read_model;
pub mod rebuild;
pub mod startup;
pub mod supervisor;
