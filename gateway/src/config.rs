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
    #[arg(long, env = "WEB_DIR", default_value = "web/dist")]
    pub web_dir: PathBuf,

    /// Longest time one HTTP request may take before the gateway answers 504 (e.g. `10s`, `500ms`).
    #[arg(long, env = "REQUEST_TIMEOUT", default_value = "10s", value_parser = service_kit::config::parse_duration)]
    pub request_timeout: Duration,

    /// Shared secret that signs and verifies bearer tokens (HS256), at least 32 bytes. Without it
    /// every token is refused (so every mutation is 401), unless DEV_MODE generates one per process.
    #[arg(long, env = "JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: Option<String>,

    /// Development mode: serves POST /api/v1/dev/sign-in, which issues a token for any subject and
    /// roles without a password. Never turn this on where real users are.
    #[arg(long, env = "DEV_MODE", default_value_t = false, action = clap::ArgAction::Set)]
    pub dev_mode: bool,

    /// Lifetime of the tokens the dev sign-in issues (e.g. `60m`).
    #[arg(long, env = "DEV_TOKEN_TTL", default_value = "60m", value_parser = service_kit::config::parse_duration)]
    pub dev_token_ttl: Duration,

    /// Browser origins allowed to call the API cross-origin, comma separated (e.g.
    /// `http://localhost:5173`). Empty: no CORS headers at all, so only same-origin pages can call it.
    #[arg(
        long,
        env = "CORS_ALLOWED_ORIGINS",
        value_delimiter = ',',
        default_value = ""
    )]
    pub cors_allowed_origins: Vec<String>,

    /// Kafka bootstrap servers whose event topics feed the live-update stream (/api/v1/events).
    /// Empty: no live updates (the stream answers 503).
    #[arg(long, env = "KAFKA_BROKERS", default_value = "127.0.0.1:9092")]
    pub kafka_brokers: String,

    /// Put before every event topic name; must match command-service's.
    #[arg(long, env = "KAFKA_TOPIC_PREFIX", default_value = "")]
    pub kafka_topic_prefix: String,

    /// Logging options.
    #[command(flatten)]
    pub telemetry: TelemetryConfig,
}

impl Config {
    /// The origins CORS allows, without the empty entries an empty or trailing-comma value gives.
    pub fn cors_origins(&self) -> impl Iterator<Item = &str> {
        self.cors_allowed_origins
            .iter()
            .map(|origin| origin.trim())
            .filter(|origin| !origin.is_empty())
    }
}
