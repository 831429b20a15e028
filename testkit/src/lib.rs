//! Support for integration tests against the real servers that `scripts/infra.sh up` starts.
//!
//! Each test gets its own Postgres database, Mongo database or Kafka topic, named with a UUIDv7 so
//! tests run in parallel without seeing each other. Addresses come from `TEST_*` variables, with
//! the local defaults of the project's scripts. Nothing here is a mock: if a server is down, the
//! test fails and says which one.

pub mod broker;
pub mod compose;
pub mod kafka;
pub mod mongo;
pub mod postgres;
pub mod process;

/// A name no other test uses: `prefix` plus a UUIDv7 without dashes (valid for databases, topics
/// and collections alike).
pub fn unique_name(prefix: &str) -> String {
    format!("{prefix}_{}", uuid::Uuid::now_v7().simple())
}

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_owned())
}
