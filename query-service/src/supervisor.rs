//! Keeps the projector running: if its task ends while the service is up (a panic, an error, or an
//! unexpected clean return), gRPC health turns NOT_SERVING, and the task is started again on a new
//! consumer after a backoff (1 s doubling to 30 s; back to 1 s once a run lasted a minute). Health
//! returns to SERVING when the new run starts. A read model that silently stops following the
//! event topics would look healthy while every read grew staler; this makes the gap visible and
//! short.
//!
//! [`ProjectorControl`] lets tests (and only tests, in practice) end the running task as a crash
//! would. Must not depend on the gRPC services themselves; it only sets health statuses.

use std::{
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use sqlx::PgPool;
use tokio::task::AbortHandle;
use tokio_util::sync::CancellationToken;
use tonic_health::{ServingStatus, server::HealthReporter};

use crate::projector::{
    Projector,
    consumer::{self, ConsumerConfig, ProjectorConsumer},
};

/// The health service names that follow the projector's state.
pub const SERVICES: [&str; 3] = [
    "",
    "cqrsplus.query.v1.QueryService",
    "cqrsplus.query.v1.QueryAdmin",
];

const FIRST_BACKOFF: Duration = Duration::from_secs(1);
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// A run this long counts as healthy: the next failure starts the backoff over.
const HEALTHY_RUN: Duration = Duration::from_secs(60);

/// A handle on the projector task currently running, if any.
#[derive(Clone, Default)]
pub struct ProjectorControl {
    current: Arc<Mutex<Option<AbortHandle>>>,
}

impl ProjectorControl {
    /// Ends the running projector task abruptly, as a crash would; false when none runs.
    pub fn kill(&self) -> bool {
        match self
            .current
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
        {
            Some(task) => {
                task.abort();
                true
            }
            None => false,
        }
    }

    fn set(&self, task: Option<AbortHandle>) {
        *self.current.lock().unwrap_or_else(|e| e.into_inner()) = task;
    }
}

/// What the supervisor needs to start (and start again) the projector.
pub struct Supervised {
    pub first: ProjectorConsumer,
    pub config: ConsumerConfig,
    pub pool: PgPool,
    pub projector: Projector,
    pub batch_size: usize,
    pub health: HealthReporter,
    pub control: ProjectorControl,
}

async fn set_health(health: &HealthReporter, status: ServingStatus) {
    for service in SERVICES {
        health.set_service_status(service, status).await;
    }
}

/// Runs the projector until `shutdown`, restarting it whenever it ends before.
pub async fn supervise(s: Supervised, shutdown: CancellationToken) {
    let mut next = Some(s.first);
    let mut backoff = FIRST_BACKOFF;
    loop {
        let consumer = match next.take() {
            Some(consumer) => consumer,
            None => match consumer::subscribe(&s.config, &s.pool) {
                Ok(consumer) => consumer,
                Err(e) => {
                    tracing::error!(error = %format!("{e:#}"), retry_in = ?backoff, "projector not restarted");
                    if wait(&shutdown, &mut backoff).await {
                        return;
                    }
                    continue;
                }
            },
        };
        // Each run has its own token, so the helper tasks of a run that died stop with it.
        let run_token = shutdown.child_token();
        let consumer = Arc::new(consumer);
        let task = tokio::spawn(consumer::run(
            consumer.clone(),
            s.projector.clone(),
            s.batch_size,
            run_token.clone(),
        ));
        s.control.set(Some(task.abort_handle()));
        set_health(&s.health, ServingStatus::Serving).await;
        let started = Instant::now();
        let ended = task.await;
        s.control.set(None);
        run_token.cancel();
        release(consumer).await;
        if shutdown.is_cancelled() {
            match ended {
                Ok(Err(e)) => tracing::error!(error = %format!("{e:#}"), "projector failed"),
                Err(e) if e.is_panic() => tracing::error!(error = %e, "projector task panicked"),
                _ => {}
            }
            return;
        }
        set_health(&s.health, ServingStatus::NotServing).await;
        metrics::counter!("projector_restarts_total").increment(1);
        if started.elapsed() >= HEALTHY_RUN {
            backoff = FIRST_BACKOFF;
        }
        let why = match ended {
            Ok(Ok(())) => "returned while the service runs".to_owned(),
            Ok(Err(e)) => format!("failed: {e:#}"),
            Err(e) if e.is_panic() => format!("panicked: {e}"),
            Err(e) => format!("was stopped: {e}"),
        };
        tracing::error!(
            retry_in = ?backoff,
            "projector task {why}; health is NOT_SERVING until it runs again"
        );
        if wait(&shutdown, &mut backoff).await {
            return;
        }
    }
}

/// Drops the last handle on a run's consumer on a blocking thread: closing it leaves the group and
/// blocks, which must not stall the runtime (a killed run drops its own handles wherever it was).
/// The run's helper tasks let go of theirs once its token is cancelled; a handle still held after
/// the wait is dropped here anyway, on the blocking thread, and the helper's drop is then the one
/// that closes (rare: a helper stuck in a broker call for more than 10 s).
async fn release(consumer: Arc<ProjectorConsumer>) {
    for _ in 0..200 {
        if Arc::strong_count(&consumer) == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = tokio::task::spawn_blocking(move || drop(consumer)).await;
}

/// Sleeps `backoff` (then doubles it); true when shutdown came first.
async fn wait(shutdown: &CancellationToken, backoff: &mut Duration) -> bool {
    let stopped = tokio::select! {
        () = shutdown.cancelled() => true,
        () = tokio::time::sleep(*backoff) => false,
    };
    *backoff = (*backoff * 2).min(MAX_BACKOFF);
    stopped
}
