//! The documents of the event store, as they sit in MongoDB.
//!
//! One command = one `CommitDocument`, inserted with a single `insert_one`: the events, the
//! outbox marker (`dispatched: false`) and the command id land together or not at all, on any
//! MongoDB topology, without a multi-document transaction. Field types are chosen to survive any
//! MongoDB-compatible server: ids as strings, versions as i64 (read leniently, since some servers
//! hand small Int64 values back as Int32), times as BSON dates with millisecond precision.

use cqrsplus_domain::EventEnvelope;
use mongodb::bson::{self, Bson, DateTime};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use super::StoreError;

/// Collection of commits (the events and the outbox).
pub const COMMITS: &str = "commits";
/// Collection of aggregate snapshots.
pub const SNAPSHOTS: &str = "snapshots";
/// Collection that makes customer emails unique: `_id` is the normalized email.
pub const EMAIL_RESERVATIONS: &str = "email_reservations";

/// One command's commit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CommitDocument {
    /// The commit's position, which also makes it unique.
    #[serde(rename = "_id")]
    pub id: i64,
    /// Store order: unique and increasing along each stream (see the event store), so readers
    /// and the relay can page through all commits. The same number as `_id`, kept in its own
    /// field because MongoDB-compatible servers do not all sort `_id` numerically (one sorts it
    /// as text: 1, 10, 2), while ordinary numeric fields sort correctly everywhere.
    pub position: i64,
    /// The aggregate id (a UUID string); unique index with `first_version` for optimistic
    /// concurrency.
    pub stream_id: String,
    pub aggregate_type: String,
    pub first_version: i64,
    pub last_version: i64,
    /// Unique: re-sending a command id finds this commit instead of appending again.
    pub command_id: String,
    pub events: Vec<StoredEvent>,
    pub committed_at: DateTime,
    /// The outbox marker: false until the relay has published every event of the commit.
    #[serde(deserialize_with = "lenient_bool")]
    pub dispatched: bool,
}

/// An integer as any MongoDB-compatible server may hand it back: Int64, Int32 (some servers
/// shrink small Int64 values), or a whole-number Double (some aggregation results). Anything
/// else is `None`.
pub fn lenient_i64(value: Option<&Bson>) -> Option<i64> {
    match value? {
        Bson::Int64(v) => Some(*v),
        Bson::Int32(v) => Some(i64::from(*v)),
        Bson::Double(v) if v.fract() == 0.0 => Some(*v as i64),
        _ => None,
    }
}

/// A bool that some MongoDB-compatible servers hand back as 0/1 after a `$set`.
fn lenient_bool<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<bool, D::Error> {
    match Bson::deserialize(deserializer)? {
        Bson::Boolean(b) => Ok(b),
        Bson::Int32(n) => Ok(n != 0),
        Bson::Int64(n) => Ok(n != 0),
        other => Err(serde::de::Error::custom(format!(
            "expected a boolean, found {other:?}"
        ))),
    }
}

/// An event envelope in BSON-friendly types.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredEvent {
    pub event_id: String,
    pub event_type: String,
    pub schema_version: i64,
    pub aggregate_type: String,
    pub aggregate_id: String,
    pub version: i64,
    pub occurred_at: DateTime,
    pub command_id: String,
    pub correlation_id: String,
    pub actor: String,
    pub data: Bson,
}

impl StoredEvent {
    pub fn from_envelope(envelope: &EventEnvelope) -> Result<Self, StoreError> {
        Ok(Self {
            event_id: envelope.event_id.to_string(),
            event_type: envelope.event_type.clone(),
            schema_version: i64::from(envelope.schema_version),
            aggregate_type: envelope.aggregate_type.clone(),
            aggregate_id: envelope.aggregate_id.to_string(),
            version: to_i64(envelope.version)?,
            occurred_at: DateTime::from_millis(millis(envelope.occurred_at)),
            command_id: envelope.command_id.to_string(),
            correlation_id: envelope.correlation_id.to_string(),
            actor: envelope.actor.clone(),
            data: bson::to_bson(&envelope.data)
                .map_err(|e| StoreError::Internal(format!("event data to bson: {e}")))?,
        })
    }

    /// Back to the domain's envelope; the event's `data` is still at its stored schema version
    /// (decoding into a domain event upcasts it).
    pub fn to_envelope(&self) -> Result<EventEnvelope, StoreError> {
        let corrupt =
            |what: &str| StoreError::Corrupt(format!("event {}: bad {what}", self.event_id));
        Ok(EventEnvelope {
            event_id: Uuid::parse_str(&self.event_id).map_err(|_| corrupt("event_id"))?,
            event_type: self.event_type.clone(),
            schema_version: u32::try_from(self.schema_version)
                .map_err(|_| corrupt("schema_version"))?,
            aggregate_type: self.aggregate_type.clone(),
            aggregate_id: Uuid::parse_str(&self.aggregate_id)
                .map_err(|_| corrupt("aggregate_id"))?,
            version: u64::try_from(self.version).map_err(|_| corrupt("version"))?,
            occurred_at: OffsetDateTime::from_unix_timestamp_nanos(
                i128::from(self.occurred_at.timestamp_millis()) * 1_000_000,
            )
            .map_err(|_| corrupt("occurred_at"))?,
            command_id: Uuid::parse_str(&self.command_id).map_err(|_| corrupt("command_id"))?,
            correlation_id: Uuid::parse_str(&self.correlation_id)
                .map_err(|_| corrupt("correlation_id"))?,
            actor: self.actor.clone(),
            data: self.data.clone().into_relaxed_extjson(),
        })
    }
}

impl CommitDocument {
    /// The commit's events as domain envelopes, in version order.
    pub fn envelopes(&self) -> Result<Vec<EventEnvelope>, StoreError> {
        self.events.iter().map(StoredEvent::to_envelope).collect()
    }
}

/// A snapshot of an aggregate's folded state at `version`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SnapshotDocument {
    /// `{stream_id}:{version}`, so writing a snapshot is a plain insert.
    #[serde(rename = "_id")]
    pub id: String,
    pub stream_id: String,
    pub aggregate_type: String,
    pub version: i64,
    /// The position of the commit that brought the aggregate to `version` (0 in snapshots
    /// written before it was kept).
    #[serde(default)]
    pub position: i64,
    /// The aggregate state as JSON text: opaque to the store, and immune to BSON type quirks.
    pub state: String,
    pub taken_at: DateTime,
}

/// Who holds a normalized email.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EmailReservation {
    #[serde(rename = "_id")]
    pub email: String,
    pub customer_id: String,
    pub reserved_at: DateTime,
}

/// Milliseconds since the epoch: the precision BSON dates keep.
pub fn millis(t: OffsetDateTime) -> i64 {
    (t.unix_timestamp_nanos() / 1_000_000) as i64
}

pub fn to_i64(v: u64) -> Result<i64, StoreError> {
    i64::try_from(v).map_err(|_| StoreError::Internal(format!("version {v} out of range")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_are_read_in_any_width_and_nothing_else_passes() {
        assert_eq!(lenient_i64(Some(&Bson::Int64(1 << 40))), Some(1 << 40));
        assert_eq!(lenient_i64(Some(&Bson::Int32(7))), Some(7));
        assert_eq!(lenient_i64(Some(&Bson::Double(3.0))), Some(3));
        assert_eq!(lenient_i64(Some(&Bson::Double(3.5))), None);
        assert_eq!(lenient_i64(Some(&Bson::String("3".into()))), None);
        assert_eq!(lenient_i64(None), None);
    }
}
