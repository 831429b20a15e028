//! Log output for every binary: human-readable by default, JSON lines for machines.
//!
//! The JSON form is what the lifecycle tests parse to learn the port a service bound, so the
//! `listening` event must keep its `addr` field.

use clap::{Args, ValueEnum};
use tracing_subscriber::{EnvFilter, fmt, prelude::*};

/// How a binary writes its logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Coloured, multi-field lines for a terminal.
    Pretty,
    /// One JSON object per line, for log shippers and tests.
    Json,
}

/// Logging options, flattened into each service's config.
#[derive(Debug, Clone, Args)]
pub struct TelemetryConfig {
    /// Log format: `pretty` for people, `json` for machines.
    #[arg(long, env = "LOG_FORMAT", value_enum, default_value = "pretty")]
    pub log_format: LogFormat,

    /// Which events to log, in `tracing` filter syntax (for example `info,command_service=debug`).
    #[arg(long, env = "RUST_LOG", default_value = "info")]
    pub log_filter: String,
}

/// Installs the global subscriber. Fails when the filter does not parse, so a typo in `RUST_LOG`
/// is reported at start instead of silently logging nothing.
pub fn init(config: &TelemetryConfig) -> anyhow::Result<()> {
    let filter = EnvFilter::try_new(&config.log_filter)
        .map_err(|e| anyhow::anyhow!("invalid log filter {:?}: {e}", config.log_filter))?;
    let registry = tracing_subscriber::registry().with(filter);
    let result = match config.log_format {
        LogFormat::Pretty => registry.with(fmt::layer().with_target(true)).try_init(),
        LogFormat::Json => registry
            .with(
                fmt::layer()
                    .json()
                    .flatten_event(true)
                    .with_current_span(false),
            )
            .try_init(),
    };
    result.map_err(|e| anyhow::anyhow!("could not install the log subscriber: {e}"))
}
