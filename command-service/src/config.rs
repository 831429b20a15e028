//! Every setting of command-service, from flags or the environment (the same names as in
//! `.env.example` and `docker-compose.yml`, which a test keeps in step).

use std::{net::SocketAddr, time::Duration};

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

    /// Longest time one event store operation may take (e.g. `3s`); past it the command is
    /// answered UNAVAILABLE, well before a client's or the gateway's deadline. A timed-out
    /// append may still land: retrying with the same command id returns its result.
    #[arg(long, env = "MONGODB_OPERATION_TIMEOUT", default_value = "3s", value_parser = service_kit::config::parse_duration)]
    pub mongodb_operation_timeout: Duration,

    /// Longest wait for a usable MongoDB server before an operation gives up (a
    /// `serverSelectionTimeoutMS` in the URI wins).
    #[arg(long, env = "MONGODB_SERVER_SELECTION_TIMEOUT", default_value = "2s", value_parser = service_kit::config::parse_duration)]
    pub mongodb_server_selection_timeout: Duration,

    /// Longest wait for a new MongoDB connection to open (a `connectTimeoutMS` in the URI wins).
    #[arg(long, env = "MONGODB_CONNECT_TIMEOUT", default_value = "2s", value_parser = service_kit::config::parse_duration)]
    pub mongodb_connect_timeout: Duration,

    /// Snapshot an aggregate every this many events (0 = never); loading then folds only the
    /// events after the latest snapshot.
    #[arg(long, env = "SNAPSHOT_EVERY", default_value_t = 50)]
    pub snapshot_every: u64,

    /// Most aggregates kept in memory between commands (0 = load every command from the
    /// store). Safe with several instances: a stale entry is detected and reloaded.
    #[arg(long, env = "AGGREGATE_CACHE_SIZE", default_value_t = 10_000)]
    pub aggregate_cache_size: usize,

    /// Kafka bootstrap servers the outbox relay publishes to.
    #[arg(long, env = "KAFKA_BROKERS", default_value = "127.0.0.1:9092")]
    pub kafka_brokers: String,

    /// Partitions of each event topic when the relay creates it (existing topics are kept).
    #[arg(long, env = "KAFKA_TOPIC_PARTITIONS", default_value_t = 3)]
    pub kafka_topic_partitions: i32,

    /// Put before every event topic name, so deployments (or tests) can share a broker.
    #[arg(long, env = "KAFKA_TOPIC_PREFIX", default_value = "")]
    pub kafka_topic_prefix: String,

    /// Most commits the relay publishes in one round.
    #[arg(long, env = "RELAY_BATCH_SIZE", default_value_t = 500)]
    pub relay_batch_size: i64,

    /// How long the relay lease lasts without renewal; another instance takes over after it
    /// expires (e.g. `10s`).
    #[arg(long, env = "RELAY_LEASE_TTL", default_value = "10s", value_parser = service_kit::config::parse_duration)]
    pub relay_lease_ttl: Duration,

    /// Longest pause between two relay polls when nothing was appended (the relay is also woken
    /// at once by every append in this process).
    #[arg(long, env = "RELAY_MAX_POLL_INTERVAL", default_value = "1s", value_parser = service_kit::config::parse_duration)]
    pub relay_max_poll_interval: Duration,

    /// First pause before the outbox relay is restarted after its task ended unexpectedly; it
    /// doubles on each further restart, up to a minute. Health reports NOT_SERVING meanwhile.
    #[arg(long, env = "RELAY_RESTART_BACKOFF", default_value = "1s", value_parser = service_kit::config::parse_duration)]
    pub relay_restart_backoff: Duration,

    /// This instance's name in the relay lease; a random one when empty.
    #[arg(long, env = "INSTANCE_ID", default_value = "")]
    pub instance_id: String,

    /// Address of the Prometheus /metrics endpoint (port 0 picks a free port).
    #[arg(long, env = "COMMAND_METRICS_ADDR", default_value = "127.0.0.1:9464")]
    pub metrics_addr: SocketAddr,

    /// Logging options.
    #[command(flatten)]
    pub telemetry: TelemetryConfig,
}

impl Config {
    /// Free loopback ports (port 0) against the given servers, defaults otherwise: the
    /// command-service that tests and benchmarks start in-process.
    pub fn ephemeral(mongodb_uri: &str, mongodb_database: &str, kafka_brokers: &str) -> Self {
        Self::parse_from([
            "command-service",
            "--grpc-addr",
            "127.0.0.1:0",
            "--metrics-addr",
            "127.0.0.1:0",
            "--mongodb-uri",
            mongodb_uri,
            "--mongodb-database",
            mongodb_database,
            "--kafka-brokers",
            kafka_brokers,
        ])
    }
}
