//! Every setting of command-service, from flags or the environment (the same names as in
//! `.env.example` and `docker-compose.yml`, which a test keeps in step).

use std::net::SocketAddr;

use clap::Parser;
use service_kit::telemetry::TelemetryConfig;

/// command-service: decides commands and appends their events to the event store.
#[derive(Debug, Clone, Parser)]
#[command(name = "command-service", version, about)]
pub struct Config {
    /// Address the gRPC server binds (port 0 picks a free port, as the tests do).
    #[arg(long, env = "COMMAND_GRPC_ADDR", default_value = "127.0.0.1:50051")]
    pub grpc_addr: SocketAddr,

    /// Connection string of the MongoDB event store.
    #[arg(long, env = "MONGODB_URI", default_value = "mongodb://127.0.0.1:27017")]
    pub mongodb_uri: String,

    /// Database that holds the commits, snapshots and reservations collections.
    #[arg(long, env = "MONGODB_DATABASE", default_value = "cqrsplus")]
    pub mongodb_database: String,

    /// Logging options.
    #[command(flatten)]
    pub telemetry: TelemetryConfig,
}
