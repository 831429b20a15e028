//! Telling an outage of a backing server from a fault of the data, and logging an outage once.
//!
//! Two questions are answered here, because the projector and the read RPCs must answer them the
//! same way:
//! - [`is_outage`]: the read database cannot be reached or is not serving (connection refused or
//!   dropped, pool exhausted, SQLSTATE class 08, 53, 57P01-57P03, 55000 "database is not currently
//!   accepting connections", ...). Reads answer UNAVAILABLE for it; the projector waits it out.
//! - [`blames_the_data`]: a statement failed on a healthy database because of what it was asked to
//!   write (SQLSTATE classes 21, 22, 23, 44: bad bytes, out-of-range numbers, broken
//!   constraints). Only this, and a read-model invariant the plan broke, lets the projector park
//!   an event: whatever else goes wrong is not the event's fault, so the event waits and is
//!   retried instead.
//!
//! [`Tracker`] turns a stream of failures and successes against one server into two log lines:
//! one when the outage starts, one when it ends (with how long it lasted and how many attempts
//! failed meanwhile); the retries in between log at debug level only.
//!
//! Must not depend on tonic, Kafka or the projector.

use std::{
    fmt::Display,
    sync::Mutex,
    time::{Duration, Instant},
};

/// Whether `err` means the read database is unreachable or not serving right now, rather than a
/// fault of the statement or of the data.
pub fn is_outage(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::Database(db) => db.code().is_some_and(|code| outage_code(&code)),
        sqlx::Error::Io(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed
        | sqlx::Error::Tls(_) => true,
        _ => false,
    }
}

/// SQLSTATEs that describe the server or the connection, not the statement.
fn outage_code(code: &str) -> bool {
    code.starts_with("08") // connection exception
        || code.starts_with("53") // insufficient resources (too many connections, disk full)
        || code.starts_with("58") // system error (I/O)
        || matches!(
            code,
            // admin_shutdown, crash_shutdown, cannot_connect_now
            "57P01" | "57P02" | "57P03"
            // database_dropped
            | "57P04"
            // query_canceled: an administrator or a statement timeout cut the statement short
            | "57014"
            // object_not_in_prerequisite_state: "database is not currently accepting
            // connections" (ALLOW_CONNECTIONS false) is the one way our statements meet it
            | "55000"
        )
}

/// Whether a statement failed because of the data it was given, on a database that answered:
/// retrying the same data can never succeed.
pub fn blames_the_data(err: &sqlx::Error) -> bool {
    let sqlx::Error::Database(db) = err else {
        return false;
    };
    db.code().is_some_and(|code| {
        // cardinality violation, data exception, integrity constraint violation, with check
        // option violation
        ["21", "22", "23", "44"]
            .iter()
            .any(|class| code.starts_with(class))
    })
}

/// The outage state of one backing server, shared by whoever talks to it.
#[derive(Debug)]
pub struct Tracker {
    server: &'static str,
    state: Mutex<Option<Down>>,
}

#[derive(Debug, Clone, Copy)]
struct Down {
    since: Instant,
    failures: u64,
}

impl Tracker {
    /// A tracker for `server` ("the read database", "the Kafka broker"), which is up until told
    /// otherwise.
    pub const fn new(server: &'static str) -> Self {
        Self {
            server,
            state: Mutex::new(None),
        }
    }

    /// Records a failed attempt: the first one of an outage logs a warning, later ones only at
    /// debug level.
    pub fn failed(&self, error: &dyn Display) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        match state.as_mut() {
            Some(down) => {
                down.failures += 1;
                tracing::debug!(server = self.server, %error, failures = down.failures, "still unreachable");
            }
            None => {
                *state = Some(Down {
                    since: Instant::now(),
                    failures: 1,
                });
                tracing::warn!(
                    server = self.server,
                    %error,
                    "outage started: {} is unreachable; retrying quietly until it answers",
                    self.server
                );
            }
        }
    }

    /// Records a successful attempt: ends an outage (logging how long it lasted), if one was on.
    pub fn succeeded(&self) {
        let ended = self.state.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(down) = ended {
            let lasted: Duration = down.since.elapsed();
            tracing::warn!(
                server = self.server,
                lasted_ms = u64::try_from(lasted.as_millis()).unwrap_or(u64::MAX),
                failed_attempts = down.failures,
                "outage ended: {} answers again",
                self.server
            );
        }
    }

    /// Whether an outage is on.
    pub fn is_down(&self) -> bool {
        self.state
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_some()
    }
}

/// The read database, as every part of this process sees it.
pub static POSTGRES: Tracker = Tracker::new("the read database");
/// The Kafka broker, as the projector's consumer sees it.
pub static KAFKA: Tracker = Tracker::new("the Kafka broker");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connection_trouble_is_an_outage_and_never_the_datas_fault() {
        for err in [
            sqlx::Error::PoolTimedOut,
            sqlx::Error::PoolClosed,
            sqlx::Error::Io(std::io::Error::from(std::io::ErrorKind::ConnectionRefused)),
        ] {
            assert!(is_outage(&err), "{err}");
            assert!(!blames_the_data(&err), "{err}");
        }
        for code in [
            "08006", "08001", "53300", "57P01", "57P03", "55000", "58030",
        ] {
            assert!(outage_code(code), "{code}");
        }
        for code in ["22021", "23505", "42P01", "40001"] {
            assert!(!outage_code(code), "{code}");
        }
    }

    /// Counts the events logged at INFO level or above (what production logs show).
    struct CountingSubscriber(std::sync::Arc<std::sync::atomic::AtomicUsize>);

    impl tracing::Subscriber for CountingSubscriber {
        fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
            true
        }
        fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
            tracing::span::Id::from_u64(1)
        }
        fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
        fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
        fn event(&self, event: &tracing::Event<'_>) {
            if *event.metadata().level() <= tracing::Level::INFO {
                self.0.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
        }
        fn enter(&self, _: &tracing::span::Id) {}
        fn exit(&self, _: &tracing::span::Id) {}
    }

    #[test]
    fn an_outage_logs_one_line_when_it_starts_and_one_when_it_ends() {
        let lines = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let subscriber = CountingSubscriber(lines.clone());
        tracing::subscriber::with_default(subscriber, || {
            let tracker = Tracker::new("a test server");
            for _ in 0..50 {
                tracker.failed(&"connection refused");
            }
            assert_eq!(lines.load(std::sync::atomic::Ordering::Relaxed), 1);
            for _ in 0..5 {
                tracker.succeeded();
            }
            assert_eq!(lines.load(std::sync::atomic::Ordering::Relaxed), 2);
            // The next outage is logged again.
            tracker.failed(&"connection refused");
            tracker.succeeded();
            assert_eq!(lines.load(std::sync::atomic::Ordering::Relaxed), 4);
        });
    }

    #[test]
    fn an_outage_is_tracked_from_first_failure_to_first_success() {
        let tracker = Tracker::new("a test server");
        assert!(!tracker.is_down());
        tracker.failed(&"refused");
        tracker.failed(&"refused");
        assert!(tracker.is_down());
        tracker.succeeded();
        assert!(!tracker.is_down());
        // A success while up changes nothing.
        tracker.succeeded();
        assert!(!tracker.is_down());
    }
}
