//! Every setting of the gateway, from flags or the environment (the same names as in
//! `.env.example` and `docker-compose.yml`, which a test keeps in step).

use std::{net::SocketAddr, path::PathBuf, time::Duration};

use clap::Parser;
use service_kit::telemetry::TelemetryConfig;

/// gateway: REST/JSON API and web UI.
#[derive(Debug, Clone, Parser)]
#[command(name = "gateway", version, about)]
pub struct Config {
    /// Address the HTTP server binds (port 0 picks a free port, as the tests do).
    #[arg(long, env = "GATEWAY_HTTP_ADDR", default_value = "127.0.0.1:8080")]
    pub http_addr: SocketAddr,

    /// gRPC endpoint of command-service.
    #[arg(
        long,
        env = "COMMAND_SERVICE_URL",
        default_value = "http://127.0.0.1:50051"
    )]
    pub command_service_url: String,

    /// gRPC endpoint of query-service.
    #[arg(
        long,
        env = "QUERY_SERVICE_URL",
        default_value = "http://127.0.0.1:50052"
    )]
    pub query_service_url: String,

    /// Folder of the built web UI; its index.html answers every path that is not an API route.
    #[arg(long, env = "WEB_DIR", default_value = "web")]
    pub web_dir: PathBuf,

    /// Longest time one HTTP request may take before the gateway answers 504 (e.g. `10s`, `500ms`).
    #[arg(long, env = "REQUEST_TIMEOUT", default_value = "10s", value_parser = service_kit::config::parse_duration)]
    pub request_timeout: Duration,

    /// Logging options.
    #[command(flatten)]
    pub telemetry: TelemetryConfig,
}
