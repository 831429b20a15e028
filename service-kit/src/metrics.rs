//! Prometheus metrics: one process-wide recorder (the `metrics` macros write to it from
//! anywhere) and a `/metrics` endpoint on its own listener, so a gRPC service can be scraped
//! without speaking HTTP on its gRPC port.

use std::{future::Future, sync::OnceLock};

use anyhow::Context;
use axum::{Router, routing::get};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use tokio::net::TcpListener;

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// The process's recorder, installed on first use. Tests build several services in one
/// process; they share it.
pub fn handle() -> PrometheusHandle {
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new().build_recorder();
            let handle = recorder.handle();
            // Fails only if another recorder was installed first; then ours just stays empty.
            if metrics::set_global_recorder(recorder).is_err() {
                tracing::warn!("a metrics recorder was already installed");
            }
            handle
        })
        .clone()
}

/// Serves `GET /metrics` in Prometheus text format until `shutdown` completes.
pub async fn serve(
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let handle = handle();
    let app = Router::new().route("/metrics", get(move || std::future::ready(handle.render())));
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
        .context("metrics endpoint failed")
}
