//! `/api/v1/events`: published events as server-sent events, for the UI's live updates. Each SSE
//! message has the event id as `id`, and the event (the same shape as in history reads) as JSON
//! `data`; a client that falls behind gets an `event: lagged` message and should reload what it
//! shows. Streams end when the gateway shuts down, so they never hold up a graceful stop.

use std::{convert::Infallible, time::Duration};

use axum::{
    extract::State,
    response::sse::{Event as SseEvent, KeepAlive, Sse},
};
use futures::{Stream, StreamExt};
use serde::Deserialize;
use tokio_stream::wrappers::{BroadcastStream, errors::BroadcastStreamRecvError};
use utoipa::IntoParams;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    error::ApiError,
    extract::ApiQuery,
    live::{FeedStatus, LiveEvent},
    startup::AppState,
    validate::Violations,
};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(events))
}

/// Which events to stream; every filter given must match.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EventFilter {
    /// Only events of this aggregate.
    #[param(format = Uuid)]
    aggregate_id: Option<String>,
    /// Only events of this kind of aggregate: `post`, `customer` or `order`.
    aggregate_type: Option<String>,
    /// Only events of these types, comma separated, e.g. `PostLiked,PostUnliked`.
    event_type: Option<String>,
}

struct Filter {
    aggregate_id: Option<String>,
    aggregate_type: Option<String>,
    event_types: Vec<String>,
}

impl Filter {
    fn parse(params: EventFilter) -> Result<Self, ApiError> {
        let mut v = Violations::new();
        let aggregate_id = v.optional_uuid("aggregate_id", params.aggregate_id.as_deref());
        let aggregate_type = params.aggregate_type.filter(|t| !t.is_empty());
        if let Some(t) = &aggregate_type
            && cqrsplus_domain::topics::topic_for(t).is_none()
        {
            v.add("aggregate_type", "must be post, customer or order");
        }
        v.finish()?;
        let event_types = params
            .event_type
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(str::to_owned)
            .collect();
        Ok(Self {
            aggregate_id,
            aggregate_type,
            event_types,
        })
    }

    fn matches(&self, live: &LiveEvent) -> bool {
        let e = &live.event;
        self.aggregate_id
            .as_ref()
            .is_none_or(|id| *id == e.aggregate_id)
            && self
                .aggregate_type
                .as_ref()
                .is_none_or(|t| *t == e.aggregate_type)
            && (self.event_types.is_empty() || self.event_types.contains(&e.event_type))
    }
}

/// Streams newly published events as server-sent events (`text/event-stream`). Each message's
/// `data` is one event (schema `Event`); `event: lagged` means some were skipped. No history: use
/// /streams/{id}/events for that.
#[utoipa::path(get, path = "/events", tag = "history", params(EventFilter),
    responses((status = OK, content_type = "text/event-stream", body = crate::grpc::Event,
        description = "an endless stream of events")))]
#[tracing::instrument(skip_all)]
async fn events(
    State(state): State<AppState>,
    ApiQuery(params): ApiQuery<EventFilter>,
) -> Result<Sse<impl Stream<Item = Result<SseEvent, Infallible>>>, ApiError> {
    if state.live.status() == FeedStatus::Disabled {
        return Err(ApiError::new(
            cqrsplus_proto::error_code::ErrorCode::Unavailable,
            "live updates are not configured on this gateway",
        ));
    }
    let filter = Filter::parse(params)?;
    let clients = ClientGauge::new();
    let stream = BroadcastStream::new(state.live.subscribe())
        .filter_map(move |item| {
            let _alive = &clients;
            let out = match item {
                Ok(live) if filter.matches(&live) => Some(Ok(SseEvent::default()
                    .id(live.event.event_id.clone())
                    .data(live.json.clone()))),
                Ok(_) => None,
                Err(BroadcastStreamRecvError::Lagged(missed)) => Some(Ok(SseEvent::default()
                    .event("lagged")
                    .data(missed.to_string()))),
            };
            std::future::ready(out)
        })
        .take_until(state.shutdown.clone().cancelled_owned());
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}

/// Counts open streams in `gateway_sse_clients` for as long as one lives.
struct ClientGauge;

impl ClientGauge {
    fn new() -> Self {
        metrics::gauge!("gateway_sse_clients").increment(1.0);
        Self
    }
}

impl Drop for ClientGauge {
    fn drop(&mut self) {
        metrics::gauge!("gateway_sse_clients").decrement(1.0);
    }
}
