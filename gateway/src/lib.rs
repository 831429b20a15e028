//! gateway: the HTTP face of CQRS Plus.
//!
//! Translates REST/JSON into gRPC calls on command-service and query-service, maps their statuses
//! to HTTP through the project's one code table, and serves the web UI. It holds no state of its
//! own and must not talk to any store or broker directly.

pub mod config;
pub mod error;
pub mod routes;
pub mod startup;
