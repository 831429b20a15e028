//! Logging an outage of a backing server once: one line when it starts, one when it ends, with
//! how long it lasted and how many failures it saw, however many requests or retries fail in
//! between (those are counted, and logged at debug level only).
//!
//! Must not depend on any particular server or client: callers say when a call failed for lack
//! of the server and when one succeeded.

use std::{
    fmt::Display,
    sync::{Mutex, PoisonError},
    time::Instant,
};

/// The outage state of one backing server, shared by everything that calls it.
#[derive(Debug)]
pub struct Outage {
    what: &'static str,
    state: Mutex<Option<Down>>,
}

#[derive(Debug, Clone, Copy)]
struct Down {
    since: Instant,
    failures: u64,
}

impl Outage {
    /// `what` names the server in the log lines ("event store", "kafka broker").
    pub fn new(what: &'static str) -> Self {
        Self {
            what,
            state: Mutex::new(None),
        }
    }

    /// A call failed because the server could not be reached. Logs a warning if this starts an
    /// outage; returns whether it did.
    pub fn failed(&self, reason: &dyn Display) -> bool {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        match state.as_mut() {
            Some(down) => {
                down.failures += 1;
                tracing::debug!(server = self.what, %reason, "still unavailable");
                false
            }
            None => {
                *state = Some(Down {
                    since: Instant::now(),
                    failures: 1,
                });
                tracing::warn!(server = self.what, %reason, "{} unavailable", self.what);
                true
            }
        }
    }

    /// A call reached the server. Logs the end of an outage if there was one; returns whether
    /// it ended one.
    pub fn recovered(&self) -> bool {
        let ended = self
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        match ended {
            Some(down) => {
                tracing::info!(
                    server = self.what,
                    down_ms = down.since.elapsed().as_millis() as u64,
                    failures = down.failures,
                    "{} available again",
                    self.what
                );
                true
            }
            None => false,
        }
    }

    /// Whether an outage is under way.
    pub fn is_down(&self) -> bool {
        self.state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_outage_starts_once_and_ends_once() {
        let outage = Outage::new("store");
        assert!(!outage.recovered(), "nothing to end yet");
        assert!(outage.failed(&"refused"));
        assert!(!outage.failed(&"refused"));
        assert!(!outage.failed(&"timed out"));
        assert!(outage.is_down());
        assert!(outage.recovered());
        assert!(!outage.recovered());
        assert!(!outage.is_down());
        assert!(outage.failed(&"again"), "a new outage starts again");
    }
}
