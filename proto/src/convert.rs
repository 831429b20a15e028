//! Conversions between contract messages and the domain's types: the event envelope both ways,
//! and protobuf timestamps. Every service that reads or serves events converts the same way.
//! Depends on the pure domain crate only, never on a store or broker.

use crate::common::v1 as common;
use anyhow::Context;
use cqrsplus_domain::EventEnvelope;
use time::OffsetDateTime;
use uuid::Uuid;

/// A UTC time as a protobuf timestamp.
pub fn timestamp(at: OffsetDateTime) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: at.unix_timestamp(),
        nanos: i32::try_from(at.nanosecond()).unwrap_or(0),
    }
}

/// A protobuf timestamp as a UTC time; `None` when out of range.
pub fn from_timestamp(at: &prost_types::Timestamp) -> Option<OffsetDateTime> {
    let seconds = OffsetDateTime::from_unix_timestamp(at.seconds).ok()?;
    seconds.checked_add(time::Duration::nanoseconds(i64::from(at.nanos)))
}

/// The contract form of an envelope.
pub fn envelope_to_pb(e: &EventEnvelope) -> common::EventEnvelope {
    common::EventEnvelope {
        event_id: e.event_id.to_string(),
        event_type: e.event_type.clone(),
        schema_version: e.schema_version,
        aggregate_type: e.aggregate_type.clone(),
        aggregate_id: e.aggregate_id.to_string(),
        version: e.version,
        occurred_at: Some(timestamp(e.occurred_at)),
        command_id: e.command_id.to_string(),
        correlation_id: e.correlation_id.to_string(),
        actor: e.actor.clone(),
        data_json: e.data.to_string(),
    }
}

/// The domain form of an envelope received through a contract, or what is wrong with it.
pub fn envelope_from_pb(event: common::EventEnvelope) -> anyhow::Result<EventEnvelope> {
    let id = |field: &str, value: &str| {
        Uuid::parse_str(value).with_context(|| format!("event {field} {value:?} is not a UUID"))
    };
    let occurred_at = event
        .occurred_at
        .as_ref()
        .and_then(from_timestamp)
        .context("event without a valid occurred_at")?;
    Ok(EventEnvelope {
        event_id: id("event_id", &event.event_id)?,
        aggregate_id: id("aggregate_id", &event.aggregate_id)?,
        command_id: id("command_id", &event.command_id)?,
        correlation_id: id("correlation_id", &event.correlation_id)?,
        data: serde_json::from_str(&event.data_json).context("event data is not JSON")?,
        event_type: event.event_type,
        schema_version: event.schema_version,
        aggregate_type: event.aggregate_type,
        version: event.version,
        occurred_at,
        actor: event.actor,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_envelope_survives_the_round_trip() {
        let envelope = EventEnvelope {
            event_id: Uuid::now_v7(),
            event_type: "PostLiked".into(),
            schema_version: 1,
            aggregate_type: "post".into(),
            aggregate_id: Uuid::now_v7(),
            version: 3,
            occurred_at: OffsetDateTime::from_unix_timestamp_nanos(1_700_000_000_123_456_789)
                .unwrap(),
            command_id: Uuid::now_v7(),
            correlation_id: Uuid::now_v7(),
            actor: "alice".into(),
            data: serde_json::json!({"user": "bob"}),
        };
        let back = envelope_from_pb(envelope_to_pb(&envelope)).unwrap();
        assert_eq!(back, envelope);
    }

    #[test]
    fn malformed_ids_and_data_are_errors() {
        let mut pb = envelope_to_pb(&EventEnvelope {
            event_id: Uuid::now_v7(),
            event_type: "PostDeleted".into(),
            schema_version: 1,
            aggregate_type: "post".into(),
            aggregate_id: Uuid::now_v7(),
            version: 2,
            occurred_at: OffsetDateTime::UNIX_EPOCH,
            command_id: Uuid::now_v7(),
            correlation_id: Uuid::now_v7(),
            actor: "a".into(),
            data: serde_json::json!({}),
        });
        pb.aggregate_id = "nope".into();
        assert!(envelope_from_pb(pb.clone()).is_err());
        pb.aggregate_id = Uuid::now_v7().to_string();
        pb.data_json = "{".into();
        assert!(envelope_from_pb(pb).is_err());
    }
}
