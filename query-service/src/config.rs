//! Every setting of query-service, from flags or the environment (the same names as in
//! `.env.example` and `docker-compose.yml`, which a test keeps in step).

use std::net::SocketAddr;

use clap::{Parser, Subcommand};
use service_kit::telemetry::TelemetryConfig;

/// query-service: projects events into Postgres and answers queries.
#[derive(Debug, Clone, Parser)]
#[command(name = "query-service", version, about)]
pub struct Config {
    /// What to do; `serve` when omitted.
    #[command(subcommand)]
    pub command: Option<Command>,

    /// Address the gRPC server binds (port 0 picks a free port, as the tests do).
    #[arg(
        long,
        env = "QUERY_GRPC_ADDR",
        default_value = "127.0.0.1:50052",
        global = true
    )]
    pub grpc_addr: SocketAddr,

    /// Connection string of the Postgres read database (created if missing).
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "postgres://postgres:postgres@127.0.0.1:5432/cqrsplus",
        global = true
    )]
    pub database_url: String,

    /// Apply pending migrations when `serve` starts. Turn off where a separate step migrates.
    #[arg(long, env = "MIGRATE_ON_START", default_value_t = true, action = clap::ArgAction::Set, global = true)]
    pub migrate_on_start: bool,

    /// Logging options.
    #[command(flatten)]
    pub telemetry: TelemetryConfig,
}

/// The things the binary can do.
#[derive(Debug, Clone, Copy, Subcommand)]
pub enum Command {
    /// Serve gRPC queries (the default).
    Serve,
    /// Create the read database if needed, apply pending migrations, and exit.
    Migrate,
}
