//! Every setting of query-service, from flags or the environment (the same names as in
//! `.env.example` and `docker-compose.yml`, which a test keeps in step).

use std::{net::SocketAddr, time::Duration};

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

    /// How long a query with a consistency token waits for the projection to reach it before
    /// answering UNAVAILABLE ("not yet projected"); never beyond the caller's deadline.
    #[arg(long, env = "CONSISTENCY_WAIT", default_value = "2s", value_parser = service_kit::config::parse_duration, global = true)]
    pub consistency_wait: Duration,

    /// Kafka bootstrap servers the projector consumes from.
    #[arg(
        long,
        env = "KAFKA_BROKERS",
        default_value = "127.0.0.1:9092",
        global = true
    )]
    pub kafka_brokers: String,

    /// Put before every event topic name; must match command-service's.
    #[arg(long, env = "KAFKA_TOPIC_PREFIX", default_value = "", global = true)]
    pub kafka_topic_prefix: String,

    /// Consumer group of the projector; instances sharing it share the partitions.
    #[arg(
        long,
        env = "CONSUMER_GROUP",
        default_value = "query-service",
        global = true
    )]
    pub consumer_group: String,

    /// Run the projector in this process. Off only for instances that should answer queries
    /// without consuming (and for tests that feed the read model themselves).
    #[arg(long, env = "PROJECTOR_ENABLED", default_value_t = true, action = clap::ArgAction::Set, global = true)]
    pub projector_enabled: bool,

    /// Most events the projector applies in one Postgres transaction. Batches hold only what is
    /// already fetched, so this bounds catch-up batches without delaying single events; 5000
    /// measured about 1.5 times faster than 1000 over a 100k backlog.
    #[arg(long, env = "PROJECTOR_BATCH_SIZE", default_value_t = 5000, value_parser = clap::value_parser!(u32).range(1..=50_000), global = true)]
    pub projector_batch_size: u32,

    /// command-service's gRPC address; a rebuild replays the event store through its
    /// EventStore.ReadAll.
    #[arg(
        long,
        env = "COMMAND_SERVICE_URL",
        default_value = "http://127.0.0.1:50051",
        global = true
    )]
    pub command_service_url: String,

    /// Address of the Prometheus /metrics endpoint (projection lag, dead letters).
    #[arg(
        long,
        env = "QUERY_METRICS_ADDR",
        default_value = "127.0.0.1:9465",
        global = true
    )]
    pub metrics_addr: SocketAddr,

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
    /// Rebuild the read model from the event store (through command-service) into a fresh
    /// schema, showing progress, then switch readers to it and drop the old schema. Serving
    /// instances keep answering meanwhile.
    Rebuild,
}

impl Config {
    /// Free loopback ports (port 0) against the given servers, defaults otherwise: the
    /// query-service that tests and benchmarks start in-process. The consumer group is unique, so
    /// each test's projector reads every topic from the start on its own.
    pub fn ephemeral(database_url: &str, kafka_brokers: &str, command_service_url: &str) -> Self {
        let group = format!("query-service-{}", uuid::Uuid::now_v7().simple());
        Self::parse_from([
            "query-service",
            "--grpc-addr",
            "127.0.0.1:0",
            "--metrics-addr",
            "127.0.0.1:0",
            "--database-url",
            database_url,
            "--kafka-brokers",
            kafka_brokers,
            "--command-service-url",
            command_service_url,
            "--consumer-group",
            &group,
        ])
    }
}
