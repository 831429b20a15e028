//! Keeps the outbox relay running: when its task ends before shutdown (a panic, or a bug that
//! lets `run` return), the supervisor logs it once, reports it down, and starts a new relay after
//! a backoff that doubles on each further death. What "down" means to the outside (gRPC health)
//! is the caller's business: it watches [`RelayControl::running`].
//!
//! Must not depend on gRPC types; the relay itself is unchanged by being supervised (a restarted
//! relay takes its own lease back, since it keeps the instance name).

use std::{
    sync::{Arc, Mutex, PoisonError},
    time::Duration,
};

use tokio::{
    sync::{Notify, watch},
    task::AbortHandle,
    time::Instant,
};
use tokio_util::sync::CancellationToken;

use super::{Relay, RelayConfig};
use crate::{outage::Outage, store::MongoEventStore};

/// Longest pause between two restarts.
const MAX_RESTART_BACKOFF: Duration = Duration::from_secs(60);
/// A relay that ran this long before dying starts the backoff over.
const HEALTHY_RUN: Duration = Duration::from_secs(300);

/// A view of the supervised relay: whether it runs, and (for tests) a way to kill it.
#[derive(Clone)]
pub struct RelayControl {
    running: watch::Receiver<bool>,
    current: Arc<Mutex<Option<AbortHandle>>>,
}

impl RelayControl {
    /// True while a relay task runs.
    pub fn running(&self) -> watch::Receiver<bool> {
        self.running.clone()
    }

    /// Aborts the running relay task, as a crash would end it. For tests.
    pub fn kill(&self) {
        if let Some(task) = self
            .current
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
        {
            task.abort();
        }
    }
}

/// Restarts the relay whenever its task ends before shutdown.
pub struct RelaySupervisor {
    store: MongoEventStore,
    config: RelayConfig,
    waker: Arc<Notify>,
    store_outage: Arc<Outage>,
    restart_backoff: Duration,
    running: watch::Sender<bool>,
    current: Arc<Mutex<Option<AbortHandle>>>,
}

impl RelaySupervisor {
    /// `waker` is the one the command path pokes and `store_outage` the event store outage it
    /// reports; every relay the supervisor starts shares both. `restart_backoff` is the first
    /// pause before a restart.
    pub fn new(
        store: MongoEventStore,
        config: RelayConfig,
        waker: Arc<Notify>,
        store_outage: Arc<Outage>,
        restart_backoff: Duration,
    ) -> Self {
        Self {
            store,
            config,
            waker,
            store_outage,
            restart_backoff: restart_backoff.max(Duration::from_millis(10)),
            running: watch::Sender::new(false),
            current: Arc::new(Mutex::new(None)),
        }
    }

    pub fn control(&self) -> RelayControl {
        RelayControl {
            running: self.running.subscribe(),
            current: self.current.clone(),
        }
    }

    /// Runs `first`, then its successors, until `shutdown` is cancelled and the running relay
    /// has stopped (flushed, lease released).
    pub async fn run(self, first: Relay, shutdown: CancellationToken) {
        let mut next = Some(first);
        let mut backoff = self.restart_backoff;
        loop {
            let relay = match next.take() {
                Some(relay) => relay,
                None => match Relay::new(self.store.clone(), self.config.clone()) {
                    Ok(relay) => relay
                        .with_waker(self.waker.clone())
                        .with_store_outage(self.store_outage.clone()),
                    Err(e) => {
                        tracing::error!(error = %e, "outbox relay not recreated; retrying");
                        if !self.pause(&shutdown, &mut backoff).await {
                            break;
                        }
                        continue;
                    }
                },
            };
            let task = tokio::spawn(relay.run(shutdown.clone()));
            *self.current.lock().unwrap_or_else(PoisonError::into_inner) =
                Some(task.abort_handle());
            self.running.send_replace(true);
            let started = Instant::now();
            let ended = task.await;
            self.running.send_replace(false);
            if shutdown.is_cancelled() {
                if let Err(e) = ended {
                    tracing::error!(error = %e, "outbox relay task failed while stopping");
                }
                break;
            }
            if started.elapsed() >= HEALTHY_RUN {
                backoff = self.restart_backoff;
            }
            let retry_in_ms = backoff.as_millis() as u64;
            match ended {
                Ok(()) => tracing::error!(retry_in_ms, "outbox relay stopped unexpectedly"),
                Err(e) if e.is_panic() => {
                    let panic = e.into_panic();
                    let reason = panic
                        .downcast_ref::<&str>()
                        .map(|s| (*s).to_owned())
                        .or_else(|| panic.downcast_ref::<String>().cloned())
                        .unwrap_or_else(|| "unknown panic".to_owned());
                    tracing::error!(retry_in_ms, %reason, "outbox relay panicked");
                }
                Err(_) => tracing::error!(retry_in_ms, "outbox relay task was aborted"),
            }
            if !self.pause(&shutdown, &mut backoff).await {
                break;
            }
        }
    }

    /// Waits out the backoff and doubles it; false when shutdown came first.
    async fn pause(&self, shutdown: &CancellationToken, backoff: &mut Duration) -> bool {
        let wait = *backoff;
        *backoff = (*backoff * 2).min(MAX_RESTART_BACKOFF);
        tokio::select! {
            () = shutdown.cancelled() => false,
            () = tokio::time::sleep(wait) => true,
        }
    }
}
