//! Building and running the gateway: the shared state (gRPC clients, auth, the live feed), the
//! router (a plain function, so tests call it without a socket), the listener (port 0 in tests),
//! and graceful shutdown. The request time limit and the failure log are [`crate::edge`]'s.

use std::{future::Future, net::SocketAddr, sync::Arc, time::Duration};

use anyhow::Context;
use axum::{
    Json, Router,
    extract::OriginalUri,
    http::{HeaderName, HeaderValue, Method, StatusCode, header},
    middleware,
    response::{Html, IntoResponse},
    routing::get,
};
use cqrsplus_proto::{
    command::v1::{
        command_service_client::CommandServiceClient, event_store_client::EventStoreClient,
    },
    query::v1::{query_admin_client::QueryAdminClient, query_service_client::QueryServiceClient},
};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tonic_health::pb::health_client::HealthClient;
use tower_http::{
    cors::{AllowOrigin, CorsLayer},
    services::{ServeDir, ServeFile},
    trace::TraceLayer,
};
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;

use crate::{
    auth::Auth, backend::Backend, config::Config, edge, error::ApiError, extract::IDEMPOTENCY_KEY,
    live::LiveFeed, metrics, openapi, routes,
};

/// What handlers share: clients of the backing services (channels connect lazily and reconnect,
/// so the gateway starts and answers /healthz even while a service is down).
#[derive(Clone)]
pub struct AppState {
    pub commands: CommandServiceClient<Backend>,
    pub event_store: EventStoreClient<Backend>,
    pub queries: QueryServiceClient<Backend>,
    pub query_admin: QueryAdminClient<Backend>,
    pub command_health: HealthClient<Backend>,
    pub query_health: HealthClient<Backend>,
    pub auth: Arc<Auth>,
    pub live: LiveFeed,
    /// Deadline of each gRPC call: the HTTP request timeout, so a service never works on for a
    /// client the gateway has already answered 504.
    pub call_timeout: Duration,
    /// Cancelled when the server stops; ends the streams that would otherwise never finish.
    pub shutdown: CancellationToken,
}

impl AppState {
    pub fn from_config(config: &Config) -> anyhow::Result<Self> {
        let command = Backend::lazy("command-service", &config.command_service_url)?;
        let query = Backend::lazy("query-service", &config.query_service_url)?;
        let auth = Auth::new(
            config.jwt_secret.as_deref(),
            config.dev_mode,
            config.dev_token_ttl,
        )?;
        Ok(Self {
            commands: CommandServiceClient::new(command.clone()),
            event_store: EventStoreClient::new(command.clone()),
            queries: QueryServiceClient::new(query.clone()),
            query_admin: QueryAdminClient::new(query.clone()),
            command_health: HealthClient::new(command),
            query_health: HealthClient::new(query),
            auth: Arc::new(auth),
            live: LiveFeed::new(!config.kafka_brokers.trim().is_empty()),
            call_timeout: config.request_timeout,
            shutdown: CancellationToken::new(),
        })
    }
}

/// The API routes with their OpenAPI document, both from the same registrations.
pub fn api(dev_mode: bool) -> (Router<AppState>, utoipa::openapi::OpenApi) {
    let mut v1 = OpenApiRouter::new()
        .merge(routes::posts::router())
        .merge(routes::customers::router())
        .merge(routes::orders::router())
        .merge(routes::reports::router())
        .merge(routes::streams::router())
        .merge(routes::events::router())
        .merge(routes::admin::router());
    if dev_mode {
        v1 = v1.merge(routes::auth::router());
    }
    let (router, mut doc) = OpenApiRouter::with_openapi(openapi::ApiDoc::openapi())
        .nest("/api/v1", v1)
        .split_for_parts();
    openapi::add_error_responses(&mut doc);
    for missing in openapi::add_input_rules(&mut doc) {
        tracing::warn!(
            field = missing.0,
            "an input rule names a field the document lacks"
        );
    }
    (router, doc)
}

/// The whole HTTP surface: API routes, operations endpoints, then the web UI for every other path.
pub fn router(state: AppState, config: &Config) -> Router {
    let (api, doc) = api(config.dev_mode);
    let doc = Arc::new(doc);
    let index = config.web_dir.join("index.html");
    let web = ServeDir::new(&config.web_dir).fallback(ServeFile::new(index));
    let app = api
        .route(
            "/api/v1/openapi.json",
            get(move || std::future::ready(Json(doc.as_ref().clone()))),
        )
        .route(
            "/api/v1/docs",
            get(|| std::future::ready(Html(openapi::DOCS_HTML))),
        )
        .route("/healthz", get(routes::health::healthz))
        .route("/readyz", get(routes::health::readyz))
        .route("/metrics", metrics::endpoint())
        .route_layer(middleware::from_fn(metrics::track))
        .nest("/api", Router::new().fallback(api_not_found))
        .method_not_allowed_fallback(method_not_allowed)
        .fallback_service(web)
        .layer(middleware::from_fn_with_state(
            config.request_timeout,
            edge::guard,
        ))
        // The span of each request only: its failures are logged once, by `edge::guard`, so the
        // layer's own "response failed" line (a second one per 5xx) is off.
        .layer(TraceLayer::new_for_http().on_failure(()))
        .with_state(state);
    match cors(config) {
        Some(cors) => app.layer(cors),
        None => app,
    }
}

/// CORS for the configured origins only; none configured means no CORS headers, so browsers keep
/// other origins out (closed by default).
fn cors(config: &Config) -> Option<CorsLayer> {
    let origins: Vec<HeaderValue> = config
        .cors_origins()
        .filter_map(|origin| match HeaderValue::from_str(origin) {
            Ok(value) => Some(value),
            Err(_) => {
                tracing::warn!(origin, "ignoring an invalid CORS origin");
                None
            }
        })
        .collect();
    if origins.is_empty() {
        return None;
    }
    Some(
        CorsLayer::new()
            .allow_origin(AllowOrigin::list(origins))
            .allow_methods([
                Method::GET,
                Method::POST,
                Method::PUT,
                Method::PATCH,
                Method::DELETE,
            ])
            .allow_headers([
                header::AUTHORIZATION,
                header::CONTENT_TYPE,
                header::IF_MATCH,
                HeaderName::from_static(IDEMPOTENCY_KEY),
            ])
            .expose_headers([header::ETAG, header::LOCATION, header::RETRY_AFTER])
            .max_age(Duration::from_secs(600)),
    )
}

// OriginalUri: inside `nest` the plain Uri has lost its `/api` prefix.
async fn api_not_found(OriginalUri(uri): OriginalUri) -> ApiError {
    ApiError::not_found(format!("no API route {}", uri.path()))
}

async fn method_not_allowed(method: Method, OriginalUri(uri): OriginalUri) -> impl IntoResponse {
    ApiError::invalid(format!("{method} is not allowed on {}", uri.path()))
        .with_status(StatusCode::METHOD_NOT_ALLOWED)
}

/// A gateway with its listener bound.
pub struct Application {
    listener: TcpListener,
    local_addr: SocketAddr,
    router: Router,
    state: AppState,
}

impl Application {
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        let state = AppState::from_config(&config)?;
        if state.live.status() != crate::live::FeedStatus::Disabled {
            state.live.start(
                &config.kafka_brokers,
                &config.kafka_topic_prefix,
                state.shutdown.clone(),
            )?;
        }
        let router = router(state.clone(), &config);
        let listener = TcpListener::bind(config.http_addr)
            .await
            .with_context(|| format!("binding HTTP listener on {}", config.http_addr))?;
        let local_addr = listener.local_addr()?;
        Ok(Self {
            listener,
            local_addr,
            router,
            state,
        })
    }

    /// The address actually bound (the real port when the config asked for port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The live-update feed, so tests can wait until it consumes.
    pub fn live_feed(&self) -> LiveFeed {
        self.state.live.clone()
    }

    /// Serves until `shutdown` completes, then ends live streams and finishes in-flight requests.
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        tracing::info!(addr = %self.local_addr, "gateway listening");
        let stop = self.state.shutdown.clone();
        let signal = async move {
            shutdown.await;
            // Before axum waits for open connections: SSE streams end only when told to.
            stop.cancel();
        };
        axum::serve(self.listener, self.router)
            .with_graceful_shutdown(signal)
            .await
            .context("HTTP server failed")?;
        self.state.shutdown.cancel();
        tracing::info!("gateway stopped");
        Ok(())
    }
}
