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
    #[arg(long, env = "REQUEST_TIMEOUT", default_value = "10s", value_parser = parse_duration)]
    pub request_timeout: Duration,

    /// Logging options.
    #[command(flatten)]
    pub telemetry: TelemetryConfig,
}

/// Parses `500ms`, `10s` or `2m`: a unit is required so nobody guesses whether 10 means seconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s
        .find(|c: char| !c.is_ascii_digit())
        .ok_or_else(|| format!("{s:?} has no unit (use ms, s or m)"))?;
    let (number, unit) = s.split_at(split);
    let n: u64 = number
        .parse()
        .map_err(|_| format!("{s:?} does not start with a whole number"))?;
    match unit {
        "ms" => Ok(Duration::from_millis(n)),
        "s" => Ok(Duration::from_secs(n)),
        "m" => Ok(Duration::from_secs(n * 60)),
        other => Err(format!("unknown unit {other:?} in {s:?} (use ms, s or m)")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_need_a_unit() {
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert!(parse_duration("10").is_err());
        assert!(parse_duration("s").is_err());
        assert!(parse_duration("10h").is_err());
    }
}
