//! Building and running the gateway: the router (a plain function, so tests call it without a
//! socket), the listener (port 0 in tests), and graceful shutdown with a request timeout.

use std::{future::Future, net::SocketAddr, time::Duration};

use anyhow::Context;
use axum::{Router, extract::OriginalUri, http::StatusCode, routing::get};
use tokio::net::TcpListener;
use tonic::transport::{Channel, Endpoint};
use tonic_health::pb::health_client::HealthClient;
use tower_http::{
    services::{ServeDir, ServeFile},
    timeout::TimeoutLayer,
    trace::TraceLayer,
};

use crate::{config::Config, error::ApiError, routes};

/// What handlers share: clients of the backing services (channels connect lazily and reconnect,
/// so the gateway starts and answers /healthz even while a service is down).
#[derive(Clone)]
pub struct AppState {
    pub command_health: HealthClient<Channel>,
    pub query_health: HealthClient<Channel>,
}

impl AppState {
    pub fn from_config(config: &Config) -> anyhow::Result<Self> {
        Ok(Self {
            command_health: HealthClient::new(lazy_channel(&config.command_service_url)?),
            query_health: HealthClient::new(lazy_channel(&config.query_service_url)?),
        })
    }
}

fn lazy_channel(url: &str) -> anyhow::Result<Channel> {
    Ok(Endpoint::from_shared(url.to_owned())
        .with_context(|| format!("invalid service URL {url:?}"))?
        .connect_timeout(Duration::from_secs(2))
        .connect_lazy())
}

/// The whole HTTP surface: API routes, then the web UI for every other path.
pub fn router(state: AppState, config: &Config) -> Router {
    let index = config.web_dir.join("index.html");
    let web = ServeDir::new(&config.web_dir).fallback(ServeFile::new(index));
    Router::new()
        .route("/healthz", get(routes::health::healthz))
        .route("/readyz", get(routes::health::readyz))
        .nest("/api", Router::new().fallback(api_not_found))
        .fallback_service(web)
        .layer(TimeoutLayer::with_status_code(
            StatusCode::GATEWAY_TIMEOUT,
            config.request_timeout,
        ))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

// OriginalUri: inside `nest` the plain Uri has lost its `/api` prefix.
async fn api_not_found(OriginalUri(uri): OriginalUri) -> ApiError {
    ApiError::not_found(format!("no API route {}", uri.path()))
}

/// A gateway with its listener bound.
pub struct Application {
    listener: TcpListener,
    local_addr: SocketAddr,
    router: Router,
}

impl Application {
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        let state = AppState::from_config(&config)?;
        let router = router(state, &config);
        let listener = TcpListener::bind(config.http_addr)
            .await
            .with_context(|| format!("binding HTTP listener on {}", config.http_addr))?;
        let local_addr = listener.local_addr()?;
        Ok(Self {
            listener,
            local_addr,
            router,
        })
    }

    /// The address actually bound (the real port when the config asked for port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Serves until `shutdown` completes, then finishes in-flight requests.
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        tracing::info!(addr = %self.local_addr, "gateway listening");
        axum::serve(self.listener, self.router)
            .with_graceful_shutdown(shutdown)
            .await
            .context("HTTP server failed")?;
        tracing::info!("gateway stopped");
        Ok(())
    }
}
