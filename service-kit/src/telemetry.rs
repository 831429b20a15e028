//! Log output for every binary: human-readable by default, JSON lines for machines, and
//! [`Outage`], which logs a lasting failure of a dependency twice (when it starts and when it
//! ends) instead of once per failed call or retry.
//!
//! The JSON form is what the lifecycle tests parse to learn the port a service bound, so the
//! `listening` event must keep its `addr` field. In that form an event's fields are flattened next
//! to its `message`, so no event may name a field `message` (write `error`, `reason`, `detail`):
//! the line would carry two `message` keys, which most JSON readers silently collapse into one.

use std::{
    sync::Mutex,
    time::{Duration, Instant},
};

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

/// The state of one dependency (a backing service, a database, a broker) as seen by its callers:
/// the first failure starts an outage and logs a warning with its cause, further failures are
/// only counted (debug level), and the next success ends it with one info line saying how long
/// it lasted and how many calls failed. So a dependency that is down for ten minutes under load
/// costs two log lines, not one per request or retry.
///
/// Cheap to call on every outcome: a success while nothing is down only takes an uncontended lock.
#[derive(Debug)]
pub struct Outage {
    dependency: &'static str,
    state: Mutex<Option<Down>>,
}

#[derive(Debug, Clone, Copy)]
struct Down {
    since: Instant,
    failures: u64,
}

/// What [`Outage::failed`] or [`Outage::succeeded`] changed, for callers that act on transitions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    /// This outcome started an outage.
    Started,
    /// This outcome ended an outage that lasted this long.
    Ended(Duration),
    /// Nothing changed.
    None,
}

impl Outage {
    /// A tracker for `dependency` (e.g. `"command-service"`), named in every line it logs.
    pub fn new(dependency: &'static str) -> Self {
        Self {
            dependency,
            state: Mutex::new(None),
        }
    }

    /// Records a failed call; logs only if it starts an outage.
    pub fn failed(&self, cause: &dyn std::fmt::Display) -> Transition {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        match state.as_mut() {
            Some(down) => {
                down.failures += 1;
                tracing::debug!(dependency = self.dependency, error = %cause, "still unreachable");
                Transition::None
            }
            None => {
                *state = Some(Down {
                    since: Instant::now(),
                    failures: 1,
                });
                tracing::warn!(
                    dependency = self.dependency,
                    error = %cause,
                    "outage started: dependency unreachable"
                );
                Transition::Started
            }
        }
    }

    /// Records a successful call; logs only if it ends an outage.
    pub fn succeeded(&self) -> Transition {
        let ended = self.state.lock().unwrap_or_else(|e| e.into_inner()).take();
        match ended {
            Some(down) => {
                let lasted = down.since.elapsed();
                tracing::info!(
                    dependency = self.dependency,
                    duration_ms = u64::try_from(lasted.as_millis()).unwrap_or(u64::MAX),
                    failed_calls = down.failures,
                    "outage ended: dependency reachable again"
                );
                Transition::Ended(lasted)
            }
            None => Transition::None,
        }
    }

    /// Whether an outage is going on.
    pub fn is_down(&self) -> bool {
        self.state
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_first_failure_and_the_first_success_are_transitions() {
        let outage = Outage::new("test");
        assert_eq!(outage.succeeded(), Transition::None);
        assert_eq!(outage.failed(&"refused"), Transition::Started);
        assert!(outage.is_down());
        assert_eq!(outage.failed(&"refused"), Transition::None);
        assert_eq!(outage.failed(&"refused"), Transition::None);
        assert!(matches!(outage.succeeded(), Transition::Ended(_)));
        assert!(!outage.is_down());
        assert_eq!(outage.succeeded(), Transition::None);
        assert_eq!(outage.failed(&"again"), Transition::Started);
    }
}
