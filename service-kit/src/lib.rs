//! Plumbing shared by the three binaries, so each service's `startup.rs` only wires its own parts.
//!
//! Owns: log set-up, the shutdown signal, the gRPC health + reflection services, and bearer-token
//! verification for every door (`auth`).
//! Must not depend on any store, broker or domain crate: it is the same for every service.

pub mod auth;
pub mod config;
pub mod grpc;
pub mod metrics;
pub mod shutdown;
pub mod telemetry;
