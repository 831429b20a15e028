//! Events as command-service would store and publish them, and deliveries as the projector's
//! consumer would hand them over, for tests that feed the projector directly.

#![allow(dead_code)]

use std::sync::atomic::{AtomicI64, Ordering};

use cqrsplus_domain::{DomainEvent, EnvelopeMeta, EventEnvelope, post::PostEvent};
use query_service::projector::{Delivery, Source};
use time::{OffsetDateTime, macros::datetime};
use uuid::Uuid;

pub const T0: OffsetDateTime = datetime!(2026-03-01 10:00 UTC);

/// One aggregate's stream: each `next` is the following version.
pub struct Stream {
    pub meta: EnvelopeMeta,
    pub version: u64,
}

impl Stream {
    pub fn new(aggregate_type: &str) -> Self {
        Self {
            meta: EnvelopeMeta {
                aggregate_type: aggregate_type.into(),
                aggregate_id: Uuid::now_v7(),
                command_id: Uuid::now_v7(),
                correlation_id: Uuid::now_v7(),
                actor: "alice".into(),
                occurred_at: T0,
            },
            version: 0,
        }
    }

    pub fn id(&self) -> Uuid {
        self.meta.aggregate_id
    }

    /// The next event of this stream, `minutes` after T0.
    pub fn next<E: DomainEvent>(&mut self, minutes: i64, event: E) -> EventEnvelope {
        self.version += 1;
        self.meta.occurred_at = T0 + time::Duration::minutes(minutes);
        EventEnvelope::new(Uuid::now_v7(), self.version, &self.meta, &event)
    }
}

pub fn created(author: &str, message: &str) -> PostEvent {
    PostEvent::PostCreated {
        author: author.into(),
        message: message.into(),
    }
}

pub fn liked(user: &str) -> PostEvent {
    PostEvent::PostLiked { user: user.into() }
}

static OFFSET: AtomicI64 = AtomicI64::new(0);

/// `envelope` as a Kafka message on a test topic, at the next offset.
pub fn delivered(envelope: &EventEnvelope) -> Delivery {
    raw(serde_json::to_vec(envelope).expect("envelope serializes"))
}

/// Bytes as a Kafka message on a test topic, at the next offset.
pub fn raw(payload: Vec<u8>) -> Delivery {
    Delivery::from_message(
        Source {
            topic: "test.events".into(),
            partition: 0,
            offset: OFFSET.fetch_add(1, Ordering::Relaxed),
        },
        payload,
    )
}
