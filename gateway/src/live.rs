//! Live updates: the gateway's own Kafka consumer of the event topics, fanned out to every
//! server-sent-events client through one tokio broadcast channel.
//!
//! The consumer joins a group of its own (a fresh id per process) and starts at the end of each
//! topic, so every gateway instance sees every new event and none replays history; nothing is
//! committed. A slow client that falls behind the channel is told so (it should reload) rather than
//! slowing the others. This is a notification feed, not a source of truth: reads still go to
//! query-service. Must not depend on routes; handlers only subscribe.
//!
//! A broker that cannot be reached is one outage ([`Outage`]): logged when it starts and when
//! the feed receives again, not once per reconnect attempt (librdkafka's own lines about it are
//! debug level here).

use std::{sync::Arc, time::Duration};

use anyhow::Context;
use cqrsplus_domain::{EventEnvelope, topics};
use rdkafka::{
    ClientConfig, ClientContext, Message,
    config::RDKafkaLogLevel,
    consumer::Consumer,
    consumer::{BaseConsumer, ConsumerContext, Rebalance, StreamConsumer},
    error::KafkaError,
};
use service_kit::telemetry::Outage;
use tokio::sync::{broadcast, watch};
use tokio_util::sync::CancellationToken;

use crate::grpc::Event;

/// How many events a client may fall behind before it is told it lagged.
const CHANNEL_CAPACITY: usize = 1024;

/// One published event, as it goes out to clients.
#[derive(Debug)]
pub struct LiveEvent {
    pub event: Event,
    /// The JSON sent as the SSE `data`, serialized once for all clients.
    pub json: String,
}

/// Where the feed is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeedStatus {
    /// No brokers configured.
    Disabled,
    /// Connecting or waiting for the group to assign partitions.
    Starting,
    /// Partitions assigned: new events are being delivered.
    Consuming,
}

impl FeedStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            FeedStatus::Disabled => "disabled",
            FeedStatus::Starting => "starting",
            FeedStatus::Consuming => "consuming",
        }
    }
}

/// The handle handlers hold: subscribe to events, read the feed's status.
#[derive(Debug, Clone)]
pub struct LiveFeed {
    sender: broadcast::Sender<Arc<LiveEvent>>,
    status: watch::Receiver<FeedStatus>,
    status_tx: Arc<watch::Sender<FeedStatus>>,
    broker: Arc<Outage>,
}

impl LiveFeed {
    /// A feed with no consumer yet; `start` connects one.
    pub fn new(enabled: bool) -> Self {
        let (sender, _) = broadcast::channel(CHANNEL_CAPACITY);
        let initial = if enabled {
            FeedStatus::Starting
        } else {
            FeedStatus::Disabled
        };
        let (status_tx, status) = watch::channel(initial);
        Self {
            sender,
            status,
            status_tx: Arc::new(status_tx),
            broker: Arc::new(Outage::new("kafka")),
        }
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Arc<LiveEvent>> {
        self.sender.subscribe()
    }

    pub fn status(&self) -> FeedStatus {
        *self.status.borrow()
    }

    /// Completes once partitions are assigned (or at once if the feed is disabled).
    pub async fn wait_until_consuming(&self) {
        let mut status = self.status.clone();
        let _ = status.wait_for(|s| *s != FeedStatus::Starting).await;
    }

    /// Publishes one raw Kafka payload to every subscriber; returns false if it is not an
    /// event envelope.
    pub fn publish_payload(&self, payload: &[u8]) -> bool {
        let Ok(envelope) = serde_json::from_slice::<EventEnvelope>(payload) else {
            return false;
        };
        let event = Event {
            event_id: envelope.event_id.to_string(),
            event_type: envelope.event_type,
            schema_version: envelope.schema_version,
            aggregate_type: envelope.aggregate_type,
            aggregate_id: envelope.aggregate_id.to_string(),
            version: envelope.version,
            occurred_at: envelope
                .occurred_at
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default(),
            command_id: envelope.command_id.to_string(),
            correlation_id: envelope.correlation_id.to_string(),
            actor: envelope.actor,
            data: envelope.data,
        };
        let Ok(json) = serde_json::to_string(&event) else {
            return false;
        };
        metrics::counter!("gateway_live_events_total").increment(1);
        // An error only means nobody is listening right now.
        let _ = self.sender.send(Arc::new(LiveEvent { event, json }));
        true
    }

    /// Starts consuming the event topics (names after `topic_prefix`) from `brokers` until
    /// `cancel`.
    pub fn start(
        &self,
        brokers: &str,
        topic_prefix: &str,
        cancel: CancellationToken,
    ) -> anyhow::Result<()> {
        let context = FeedContext {
            status: self.status_tx.clone(),
            broker: self.broker.clone(),
        };
        let group = format!("gateway-{}", uuid::Uuid::now_v7().simple());
        let consumer: StreamConsumer<FeedContext> = ClientConfig::new()
            .set("bootstrap.servers", brokers)
            .set("group.id", &group)
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .set("auto.offset.reset", "latest")
            // Topics created after start (a fresh broker) are found within seconds, not minutes.
            .set("topic.metadata.refresh.interval.ms", "5000")
            .create_with_context(context)
            .context("creating the live-update consumer")?;
        let topics = topics::prefixed(topic_prefix);
        let names: Vec<&str> = topics.iter().map(String::as_str).collect();
        consumer
            .subscribe(&names)
            .context("subscribing to the event topics")?;
        let feed = self.clone();
        tokio::spawn(async move {
            tracing::info!(group, "live-update consumer started");
            loop {
                tokio::select! {
                    () = cancel.cancelled() => break,
                    message = consumer.recv() => match message {
                        Ok(message) => {
                            feed.broker.succeeded();
                            if let Some(payload) = message.payload()
                                && !feed.publish_payload(payload)
                            {
                                tracing::warn!(topic = message.topic(), offset = message.offset(), "skipping a message that is not an event envelope");
                            }
                        }
                        Err(e) => {
                            feed.broker.failed(&e);
                            tokio::time::sleep(Duration::from_secs(1)).await;
                        }
                    },
                }
            }
            tracing::info!("live-update consumer stopped");
        });
        Ok(())
    }
}

struct FeedContext {
    status: Arc<watch::Sender<FeedStatus>>,
    broker: Arc<Outage>,
}

impl ClientContext for FeedContext {
    fn log(&self, level: RDKafkaLogLevel, facility: &str, line: &str) {
        match level {
            RDKafkaLogLevel::Emerg | RDKafkaLogLevel::Alert | RDKafkaLogLevel::Critical => {
                tracing::error!(facility, detail = line, "librdkafka");
            }
            // Configuration mistakes and the like.
            RDKafkaLogLevel::Warning => tracing::warn!(facility, detail = line, "librdkafka"),
            // Errors are a lost broker, once per reconnect attempt; `error` below reports the
            // same as an outage.
            _ => tracing::debug!(facility, detail = line, "librdkafka"),
        }
    }

    fn error(&self, error: KafkaError, reason: &str) {
        self.broker.failed(&format_args!("{error}: {reason}"));
    }
}

impl ConsumerContext for FeedContext {
    fn post_rebalance(&self, _consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        match rebalance {
            Rebalance::Assign(partitions) if partitions.count() > 0 => {
                self.broker.succeeded();
                self.status.send_replace(FeedStatus::Consuming);
            }
            Rebalance::Assign(_) | Rebalance::Revoke(_) => {}
            Rebalance::Error(e) => tracing::warn!(error = %e, "live-update rebalance failed"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn envelopes_reach_every_subscriber_and_garbage_does_not() {
        let feed = LiveFeed::new(true);
        let mut a = feed.subscribe();
        let mut b = feed.subscribe();
        let payload = serde_json::json!({
            "event_id": "0190a0b0-0000-7000-8000-000000000001",
            "event_type": "PostCreated",
            "schema_version": 1,
            "aggregate_type": "post",
            "aggregate_id": "0190a0b0-0000-7000-8000-000000000002",
            "version": 1,
            "occurred_at": "2025-01-02T03:04:05Z",
            "command_id": "0190a0b0-0000-7000-8000-000000000003",
            "correlation_id": "0190a0b0-0000-7000-8000-000000000003",
            "actor": "alice",
            "data": {"author": "alice", "message": "hi"}
        });
        assert!(feed.publish_payload(payload.to_string().as_bytes()));
        assert!(!feed.publish_payload(b"not json"));
        let got = a.recv().await.expect("a");
        assert_eq!(got.event.event_type, "PostCreated");
        assert_eq!(got.event.data["message"], "hi");
        assert_eq!(b.recv().await.expect("b").event.version, 1);
        assert!(a.try_recv().is_err(), "garbage was published");
    }

    #[tokio::test]
    async fn a_disabled_feed_is_not_waited_for() {
        let feed = LiveFeed::new(false);
        assert_eq!(feed.status(), FeedStatus::Disabled);
        tokio::time::timeout(Duration::from_secs(1), feed.wait_until_consuming())
            .await
            .expect("does not wait");
    }
}
