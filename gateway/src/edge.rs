//! What happens to every request around the routes: the time limit, answered 504 in the JSON
//! error shape (tower-http's `TimeoutLayer` answers with an empty body), and the one log line of a
//! failed request.
//!
//! The log line is written here and nowhere else, from the [`Failure`] that [`ApiError`] leaves on
//! its response, so a failure is logged once whatever layers it crossed (the request trace layer
//! logs nothing about failures). What is logged:
//! - 500: ERROR, with the cause the client is not told;
//! - 504: WARN;
//! - 503: DEBUG only. An unreachable service logs its outage when it starts and when it ends
//!   ([`crate::backend`]); a service that answers `UNAVAILABLE` logs its own outage.
//! - 4xx: DEBUG; the client was told what it got wrong.
//!
//! Must not know about routes or services.

use std::time::{Duration, Instant};

use axum::{
    extract::{Request, State},
    http::{Method, StatusCode},
    middleware::Next,
    response::{IntoResponse, Response},
};
use cqrsplus_proto::error_code::ErrorCode;

use crate::error::{ApiError, Failure};

/// Runs the request within `limit` and logs it if it failed.
pub async fn guard(State(limit): State<Duration>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    // Named in the line itself: the trace layer's request span is DEBUG, so at the usual INFO
    // level it is not there to say which request failed. The path only: a query string may hold
    // what a user typed.
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let response = match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        // The handler's future is dropped here, so its gRPC call is cancelled with it.
        Err(_) => ApiError::timed_out(limit).into_response(),
    };
    log_outcome(&method, &path, &response, started.elapsed());
    response
}

fn log_outcome(method: &Method, path: &str, response: &Response, latency: Duration) {
    let status = response.status();
    if !status.is_client_error() && !status.is_server_error() {
        return;
    }
    let latency_ms = u64::try_from(latency.as_millis()).unwrap_or(u64::MAX);
    let failure = response.extensions().get::<Failure>();
    let code = failure.map_or("", |f| f.code.as_str());
    let cause = failure.and_then(|f| f.cause.as_deref()).unwrap_or("");
    let status = status.as_u16();
    let method = method.as_str();
    match failure.map(|f| f.code) {
        Some(ErrorCode::Internal) => {
            tracing::error!(
                method,
                path,
                status,
                code,
                latency_ms,
                error = cause,
                "request failed"
            );
        }
        Some(ErrorCode::DeadlineExceeded) => {
            tracing::warn!(
                method,
                path,
                status,
                code,
                latency_ms,
                error = cause,
                "request timed out"
            );
        }
        // A 5xx that did not come from an ApiError (a layer's own answer) is still a failure.
        None if status >= StatusCode::INTERNAL_SERVER_ERROR.as_u16() => {
            tracing::error!(method, path, status, latency_ms, "request failed");
        }
        _ => {
            tracing::debug!(
                method,
                path,
                status,
                code,
                latency_ms,
                error = cause,
                "request refused"
            );
        }
    }
}
