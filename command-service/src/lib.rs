//! command-service: the write side of CQRS Plus.
//!
//! Commands arrive over gRPC, are decided by the pure aggregates of `cqrsplus-domain`, and their
//! events are appended to the MongoDB event store together with an outbox marker; a relay then
//! publishes them to Kafka. This crate owns the store, the relay and the gRPC surface; it must not
//! know about the read side (Postgres) or HTTP.

pub mod application;
pub mod cache;
pub mod config;
pub mod error;
pub mod grpc;
pub mod outage;
pub mod outbox;
pub mod startup;
pub mod store;
