//! The one way the gateway reaches a backing service: a gRPC [`Channel`] wrapped in [`Backend`],
//! which turns transport failures into the statuses the error table expects and logs outages.
//!
//! Without it, a call whose deadline passed client-side came back as `CANCELLED` ("Timeout
//! expired", a 500) and every call to a service that is down logged its own warning. Here:
//! - a call that runs out of time is `DEADLINE_EXCEEDED` (504, the JSON error shape);
//! - a service that cannot be reached is `UNAVAILABLE` with a retry hint (503 and `Retry-After`),
//!   and its outage is logged when it starts and when it ends ([`service_kit::telemetry::Outage`]),
//!   not once per request.
//!
//! Statuses the service itself answers pass through untouched. Must not know about routes or HTTP.

use std::{
    sync::Arc,
    task::{Context, Poll},
    time::Duration,
};

use anyhow::Context as _;
use cqrsplus_proto::error_code::RETRY_AFTER_MS_METADATA;
use futures::future::BoxFuture;
use service_kit::telemetry::Outage;
use tonic::{
    Status,
    body::Body,
    transport::{Channel, Endpoint},
};
use tower::Service;

/// How long a client should wait before retrying a service that could not be reached: long
/// enough not to hammer it while it restarts, short enough that a blip costs little.
pub const UNREACHABLE_RETRY_AFTER: Duration = Duration::from_secs(2);

/// A channel to one backing service that reports its failures as gRPC statuses.
#[derive(Clone)]
pub struct Backend {
    channel: Channel,
    outage: Arc<Outage>,
}

impl std::fmt::Debug for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Backend")
            .field("outage", &self.outage)
            .finish_non_exhaustive()
    }
}

impl Backend {
    /// A lazily connecting channel to `url`, named `name` in the logs. It connects on first use
    /// and reconnects by itself, so the gateway starts and answers /healthz while a service is
    /// down.
    pub fn lazy(name: &'static str, url: &str) -> anyhow::Result<Self> {
        let channel = Endpoint::from_shared(url.to_owned())
            .with_context(|| format!("invalid service URL {url:?}"))?
            .connect_timeout(Duration::from_secs(2))
            .connect_lazy();
        Ok(Self {
            channel,
            outage: Arc::new(Outage::new(name)),
        })
    }

    /// Whether the service is in an outage (its last call could not reach it).
    pub fn is_down(&self) -> bool {
        self.outage.is_down()
    }
}

impl Service<axum::http::Request<Body>> for Backend {
    type Response = axum::http::Response<Body>;
    type Error = Status;
    type Future = BoxFuture<'static, Result<Self::Response, Status>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Status>> {
        self.channel
            .poll_ready(cx)
            .map_err(|e| failure(&self.outage, &e))
    }

    fn call(&mut self, request: axum::http::Request<Body>) -> Self::Future {
        let call = self.channel.call(request);
        let outage = self.outage.clone();
        Box::pin(async move {
            match call.await {
                // The service answered (whatever the gRPC status in it): it is reachable.
                Ok(response) => {
                    outage.succeeded();
                    Ok(response)
                }
                Err(e) => Err(failure(&outage, &e)),
            }
        })
    }
}

/// The status a transport failure becomes, recording it in the outage if the service could not be
/// reached.
fn failure(outage: &Outage, error: &tonic::transport::Error) -> Status {
    if timed_out(error) {
        // The service is slow or stuck, not gone: the request is answered 504 and logged as such.
        return Status::deadline_exceeded("the service did not answer in time");
    }
    outage.failed(&Chain(error));
    let mut status = Status::unavailable("the service cannot be reached");
    let retry_ms = u64::try_from(UNREACHABLE_RETRY_AFTER.as_millis()).unwrap_or(u64::MAX);
    status
        .metadata_mut()
        .insert(RETRY_AFTER_MS_METADATA, retry_ms.into());
    status
}

/// Whether the call's own deadline (its `grpc-timeout`) ran out in the channel.
fn timed_out(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut source = Some(error);
    while let Some(e) = source {
        if e.is::<tonic::TimeoutExpired>() {
            return true;
        }
        source = e.source();
    }
    false
}

/// An error with its causes, `a: b: c`, for the one log line an outage starts with.
struct Chain<'a>(&'a (dyn std::error::Error + 'static));

impl std::fmt::Display for Chain<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)?;
        let mut source = self.0.source();
        while let Some(e) = source {
            write!(f, ": {e}")?;
            source = e.source();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("outer")]
    struct Outer(#[source] tonic::TimeoutExpired);

    #[test]
    fn a_deadline_anywhere_in_the_chain_is_a_timeout() {
        assert!(timed_out(&Outer(tonic::TimeoutExpired(()))));
        assert!(!timed_out(&std::io::Error::other("refused")));
    }

    #[tokio::test]
    async fn an_unreachable_service_is_unavailable_with_a_retry_hint() {
        // Port 1: nothing listens there.
        let backend = Backend::lazy("test-service", "http://127.0.0.1:1").expect("backend");
        let mut client = tonic_health::pb::health_client::HealthClient::new(backend.clone());
        let status = client
            .check(tonic_health::pb::HealthCheckRequest::default())
            .await
            .expect_err("nothing listens");
        assert_eq!(status.code(), tonic::Code::Unavailable);
        assert_eq!(
            cqrsplus_proto::error_code::retry_after(&status),
            Some(UNREACHABLE_RETRY_AFTER)
        );
        assert!(backend.is_down());
    }
}
