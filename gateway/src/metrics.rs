//! HTTP metrics: a counter and a latency histogram per route template and status, recorded by one
//! middleware around the whole router and rendered at `/metrics` for Prometheus. Route templates
//! (`/api/v1/posts/{id}`), never raw paths, so ids cannot blow up the label space.

use std::time::Instant;

use axum::{
    extract::{MatchedPath, Request},
    middleware::Next,
    response::{IntoResponse, Response},
};

/// Records `gateway_http_requests_total` and `gateway_http_request_duration_seconds`.
pub async fn track(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let method = request.method().to_string();
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    let labels = [("method", method), ("route", route), ("status", status)];
    metrics::counter!("gateway_http_requests_total", &labels).increment(1);
    metrics::histogram!("gateway_http_request_duration_seconds", &labels)
        .record(started.elapsed().as_secs_f64());
    response
}

/// `GET /metrics`: every metric of the process in Prometheus text format. Installs the recorder
/// now, when the router is built, so requests before the first scrape are counted too.
pub fn endpoint() -> axum::routing::MethodRouter<crate::startup::AppState> {
    let handle = service_kit::metrics::handle();
    axum::routing::get(move || {
        std::future::ready(
            (
                [(
                    axum::http::header::CONTENT_TYPE,
                    "text/plain; version=0.0.4; charset=utf-8",
                )],
                handle.render(),
            )
                .into_response(),
        )
    })
}
