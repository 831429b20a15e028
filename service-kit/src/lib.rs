//! Plumbing shared by the three binaries, so each service's `startup.rs` only wires its own parts.
//!
//! Owns: log set-up, the shutdown signal, and the gRPC health + reflection services.
//! Must not depend on any store, broker or domain crate: it is the same for every service.

pub mod config;
pub mod grpc;
pub mod metrics;
pub mod shutdown;
pub mod telemetry;
