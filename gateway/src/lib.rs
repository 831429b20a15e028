//! gateway: the HTTP face of CQRS Plus.
//!
//! Translates REST/JSON into gRPC calls on command-service and query-service, maps their statuses
//! to HTTP through the project's one code table, authenticates callers (bearer JWT), streams
//! published events to browsers, and serves the web UI. It holds no state of its own and must not
//! talk to any store directly; its only broker use is reading the event topics for live updates.

pub mod auth;
pub mod backend;
pub mod config;
pub mod edge;
pub mod error;
pub mod extract;
pub mod grpc;
pub mod live;
pub mod metrics;
pub mod openapi;
pub mod routes;
pub mod startup;
pub mod validate;
