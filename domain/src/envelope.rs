//! The event envelope: the one shape an event has in the event store, on Kafka and on the read side,
//! plus its schema versioning and upcasting on read.
//!
//! Owns [`EventEnvelope`], [`EnvelopeMeta`], [`EnvelopeError`] and the generic encode/decode
//! machinery behind [`DomainEvent`]'s provided methods. Must not depend on any concrete aggregate,
//! and must never generate ids or read the clock: event ids, versions and times are passed in by
//! the store, which owns them.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::DomainEvent;

/// The schema version every event type starts at.
pub const FIRST_SCHEMA_VERSION: u32 = 1;

// The serde adjacent-tagging field names every event enum uses; the envelope stores them apart.
const TAG_FIELD: &str = "event_type";
const DATA_FIELD: &str = "data";

/// Why an envelope could not be turned back into an event.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnvelopeError {
    #[error("unknown event type {0:?}")]
    UnknownEventType(String),
    /// The stored version is newer than this code knows, or has no upcasting path to the current
    /// one; decoding it anyway would silently misread the data.
    #[error(
        "unsupported schema version {version} of event type {event_type} (current is {current})"
    )]
    UnsupportedSchemaVersion {
        event_type: String,
        version: u32,
        current: u32,
    },
    #[error("invalid data for event type {event_type}: {message}")]
    InvalidData { event_type: String, message: String },
}

impl EnvelopeError {
    /// The refusal for `version` of `event_type` when `E` has no way to read it.
    pub fn unsupported_schema_version<E: DomainEvent>(event_type: &str, version: u32) -> Self {
        Self::UnsupportedSchemaVersion {
            event_type: event_type.to_owned(),
            version,
            current: E::current_schema_version(event_type).unwrap_or_default(),
        }
    }
}

/// One stored event with everything needed to route, order, deduplicate and trace it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventEnvelope {
    /// UUIDv7 chosen by the store; what consumers deduplicate on.
    pub event_id: Uuid,
    pub event_type: String,
    /// The version of `data`'s shape this event was written with; upcast on read if older.
    pub schema_version: u32,
    pub aggregate_type: String,
    pub aggregate_id: Uuid,
    /// Position in the aggregate's stream: 1-based and dense, so a gap is visible to readers.
    pub version: u64,
    #[serde(with = "time::serde::rfc3339")]
    pub occurred_at: OffsetDateTime,
    /// The command that caused this event (causation).
    pub command_id: Uuid,
    pub correlation_id: Uuid,
    pub actor: String,
    pub data: Value,
}

/// What every event of one commit shares; the store fills it in once per command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvelopeMeta {
    pub aggregate_type: String,
    pub aggregate_id: Uuid,
    pub command_id: Uuid,
    pub correlation_id: Uuid,
    pub actor: String,
    pub occurred_at: OffsetDateTime,
}

impl EventEnvelope {
    /// Wraps `event` at stream position `version` under the id `event_id`, both chosen by the store.
    pub fn new<E: DomainEvent>(
        event_id: Uuid,
        version: u64,
        meta: &EnvelopeMeta,
        event: &E,
    ) -> Self {
        Self {
            event_id,
            event_type: event.event_type().to_owned(),
            schema_version: event.schema_version(),
            aggregate_type: meta.aggregate_type.clone(),
            aggregate_id: meta.aggregate_id,
            version,
            occurred_at: meta.occurred_at,
            command_id: meta.command_id,
            correlation_id: meta.correlation_id,
            actor: meta.actor.clone(),
            data: event.to_data(),
        }
    }

    /// Rebuilds the event, upcasting its data to the current schema version first.
    pub fn decode<E: DomainEvent>(&self) -> Result<E, EnvelopeError> {
        E::from_data(&self.event_type, self.schema_version, self.data.clone())
    }
}

/// Serializes an adjacently tagged event and keeps only its content.
pub(crate) fn untagged_data<E: Serialize>(event: &E) -> Value {
    match serde_json::to_value(event) {
        Ok(Value::Object(mut tagged)) => tagged
            .remove(DATA_FIELD)
            .unwrap_or_else(|| Value::Object(Map::new())),
        // Event fields are strings, numbers, uuids and vectors of those, which serde_json always
        // serializes into an object; `assert_event_contract` checks the shape of every variant.
        _ => Value::Null,
    }
}

/// Applies `E::upcast` one version at a time until `data` has the current shape of `event_type`.
pub(crate) fn upcast_to_current<E: DomainEvent>(
    event_type: &str,
    stored_version: u32,
    mut data: Value,
) -> Result<Value, EnvelopeError> {
    let current = E::current_schema_version(event_type)
        .ok_or_else(|| EnvelopeError::UnknownEventType(event_type.to_owned()))?;
    if stored_version < FIRST_SCHEMA_VERSION || stored_version > current {
        return Err(EnvelopeError::UnsupportedSchemaVersion {
            event_type: event_type.to_owned(),
            version: stored_version,
            current,
        });
    }
    for from_version in stored_version..current {
        data = E::upcast(event_type, from_version, data)?;
    }
    Ok(data)
}

/// Deserializes current-shape `data` through the enum's adjacent tagging.
pub(crate) fn decode_tagged<E: DeserializeOwned>(
    event_type: &str,
    data: Value,
) -> Result<E, EnvelopeError> {
    let mut tagged = Map::new();
    tagged.insert(TAG_FIELD.to_owned(), Value::String(event_type.to_owned()));
    tagged.insert(DATA_FIELD.to_owned(), data);
    serde_json::from_value(Value::Object(tagged)).map_err(|error| EnvelopeError::InvalidData {
        event_type: event_type.to_owned(),
        message: error.to_string(),
    })
}

/// Serde helpers for unit event variants (`#[serde(with = "crate::envelope::unit_data")]`), so
/// that their `data` is `{}` like every other event's, which keeps consumers free of special cases.
pub mod unit_data {
    use serde::de::{self, IgnoredAny, MapAccess, Visitor};
    use serde::ser::SerializeMap;
    use serde::{Deserializer, Serializer};
    use std::fmt;

    pub fn serialize<S: Serializer>(serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_map(Some(0))?.end()
    }

    /// Accepts `{}` and also `null`; extra fields are ignored like on every other event.
    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(EmptyData)
    }

    struct EmptyData;

    impl<'de> Visitor<'de> for EmptyData {
        type Value = ();

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("an empty object")
        }

        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
            while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
            Ok(())
        }

        fn visit_unit<E: de::Error>(self) -> Result<(), E> {
            Ok(())
        }

        fn visit_none<E: de::Error>(self) -> Result<(), E> {
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use time::macros::datetime;

    use super::*;
    use crate::post::PostEvent;

    fn meta() -> EnvelopeMeta {
        EnvelopeMeta {
            aggregate_type: "post".to_owned(),
            aggregate_id: Uuid::from_u128(1),
            command_id: Uuid::from_u128(2),
            correlation_id: Uuid::from_u128(3),
            actor: "alice".to_owned(),
            occurred_at: datetime!(2024-05-06 07:08:09.123456789 UTC),
        }
    }

    #[test]
    fn envelope_round_trips_an_event() {
        let event = PostEvent::PostCreated {
            author: "alice".to_owned(),
            message: "hello".to_owned(),
        };
        let envelope = EventEnvelope::new(Uuid::from_u128(9), 1, &meta(), &event);

        assert_eq!(envelope.event_type, "PostCreated");
        assert_eq!(envelope.schema_version, 1);
        assert_eq!(envelope.version, 1);
        assert_eq!(envelope.event_id, Uuid::from_u128(9));
        assert_eq!(envelope.decode::<PostEvent>(), Ok(event));
    }

    #[test]
    fn data_holds_only_the_fields() {
        let event = PostEvent::CommentAdded {
            comment_id: Uuid::from_u128(5),
            author: "bob".to_owned(),
            text: "nice".to_owned(),
        };
        let envelope = EventEnvelope::new(Uuid::from_u128(9), 2, &meta(), &event);
        assert_eq!(
            envelope.data,
            json!({
                "comment_id": "00000000-0000-0000-0000-000000000005",
                "author": "bob",
                "text": "nice",
            })
        );
    }

    #[test]
    fn unit_events_have_empty_object_data() {
        let envelope = EventEnvelope::new(Uuid::from_u128(9), 3, &meta(), &PostEvent::PostDeleted);
        assert_eq!(envelope.data, json!({}));
        assert_eq!(envelope.decode::<PostEvent>(), Ok(PostEvent::PostDeleted));
        assert_eq!(
            PostEvent::from_data("PostDeleted", 1, Value::Null),
            Ok(PostEvent::PostDeleted)
        );
    }

    #[test]
    fn envelope_json_shape_is_stable() {
        let event = PostEvent::PostLiked {
            user: "bob".to_owned(),
        };
        let envelope = EventEnvelope::new(Uuid::from_u128(9), 4, &meta(), &event);
        let json = serde_json::to_value(&envelope).unwrap();
        assert_eq!(
            json,
            json!({
                "event_id": "00000000-0000-0000-0000-000000000009",
                "event_type": "PostLiked",
                "schema_version": 1,
                "aggregate_type": "post",
                "aggregate_id": "00000000-0000-0000-0000-000000000001",
                "version": 4,
                "occurred_at": "2024-05-06T07:08:09.123456789Z",
                "command_id": "00000000-0000-0000-0000-000000000002",
                "correlation_id": "00000000-0000-0000-0000-000000000003",
                "actor": "alice",
                "data": {"user": "bob"},
            })
        );
        let back: EventEnvelope = serde_json::from_value(json).unwrap();
        assert_eq!(back, envelope);
    }

    #[test]
    fn unknown_event_type_is_refused() {
        assert_eq!(
            PostEvent::from_data("PostExploded", 1, json!({})),
            Err(EnvelopeError::UnknownEventType("PostExploded".to_owned()))
        );
    }

    #[test]
    fn invalid_data_is_refused_with_the_serde_message() {
        let error = PostEvent::from_data("PostEdited", 1, json!({"msg": "x"})).unwrap_err();
        match error {
            EnvelopeError::InvalidData {
                event_type,
                message,
            } => {
                assert_eq!(event_type, "PostEdited");
                assert!(message.contains("message"), "{message}");
            }
            other => panic!("expected invalid data, got {other:?}"),
        }
    }

    #[test]
    fn current_types_refuse_newer_versions() {
        assert_eq!(
            PostEvent::from_data("PostEdited", 2, json!({"message": "x"})),
            Err(EnvelopeError::UnsupportedSchemaVersion {
                event_type: "PostEdited".to_owned(),
                version: 2,
                current: 1,
            })
        );
    }

    /// A test-only event type whose `Renamed` shape changed twice:
    /// v1 `{name}`, v2 `{first_name, last_name}`, v3 adds `nickname`.
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    #[serde(tag = "event_type", content = "data")]
    enum ProfileEvent {
        Renamed {
            first_name: String,
            last_name: String,
            nickname: Option<String>,
        },
        #[serde(with = "unit_data")]
        Closed,
    }

    impl DomainEvent for ProfileEvent {
        fn event_type(&self) -> &'static str {
            match self {
                Self::Renamed { .. } => "Renamed",
                Self::Closed => "Closed",
            }
        }

        fn current_schema_version(event_type: &str) -> Option<u32> {
            match event_type {
                "Renamed" => Some(3),
                "Closed" => Some(1),
                _ => None,
            }
        }

        fn upcast(
            event_type: &str,
            from_version: u32,
            data: Value,
        ) -> Result<Value, EnvelopeError> {
            match (event_type, from_version) {
                ("Renamed", 1) => {
                    let name = data["name"].as_str().unwrap_or_default();
                    let (first, last) = name.split_once(' ').unwrap_or((name, ""));
                    Ok(json!({"first_name": first, "last_name": last}))
                }
                ("Renamed", 2) => {
                    let mut data = data;
                    if let Value::Object(fields) = &mut data {
                        fields.insert("nickname".to_owned(), Value::Null);
                    }
                    Ok(data)
                }
                _ => Err(EnvelopeError::unsupported_schema_version::<Self>(
                    event_type,
                    from_version,
                )),
            }
        }
    }

    #[test]
    fn test_event_honours_the_contract() {
        crate::testing::assert_event_contract(&[
            ProfileEvent::Renamed {
                first_name: "Ada".to_owned(),
                last_name: "Lovelace".to_owned(),
                nickname: Some("ada".to_owned()),
            },
            ProfileEvent::Closed,
        ]);
    }

    #[test]
    fn v1_is_upcast_step_by_step_to_current() {
        let stored = EventEnvelope {
            event_type: "Renamed".to_owned(),
            schema_version: 1,
            data: json!({"name": "Ada Lovelace"}),
            ..EventEnvelope::new(Uuid::from_u128(9), 1, &meta(), &ProfileEvent::Closed)
        };
        assert_eq!(
            stored.decode::<ProfileEvent>(),
            Ok(ProfileEvent::Renamed {
                first_name: "Ada".to_owned(),
                last_name: "Lovelace".to_owned(),
                nickname: None,
            })
        );
        // Upcasting happens on the way in only; the stored envelope is untouched.
        assert_eq!(stored.schema_version, 1);
        assert_eq!(stored.data, json!({"name": "Ada Lovelace"}));
    }

    #[test]
    fn v2_needs_only_the_last_step() {
        assert_eq!(
            ProfileEvent::from_data(
                "Renamed",
                2,
                json!({"first_name": "Grace", "last_name": "Hopper"})
            ),
            Ok(ProfileEvent::Renamed {
                first_name: "Grace".to_owned(),
                last_name: "Hopper".to_owned(),
                nickname: None,
            })
        );
    }

    #[test]
    fn current_version_is_decoded_as_is() {
        let event = ProfileEvent::Renamed {
            first_name: "Grace".to_owned(),
            last_name: "Hopper".to_owned(),
            nickname: Some("amazing grace".to_owned()),
        };
        let envelope = EventEnvelope::new(Uuid::from_u128(9), 1, &meta(), &event);
        assert_eq!(envelope.schema_version, 3);
        assert_eq!(envelope.decode::<ProfileEvent>(), Ok(event));
    }

    #[test]
    fn version_newer_than_known_is_refused() {
        assert_eq!(
            ProfileEvent::from_data("Renamed", 4, json!({})),
            Err(EnvelopeError::UnsupportedSchemaVersion {
                event_type: "Renamed".to_owned(),
                version: 4,
                current: 3,
            })
        );
    }

    #[test]
    fn version_zero_is_refused() {
        assert_eq!(
            ProfileEvent::from_data("Closed", 0, json!({})),
            Err(EnvelopeError::UnsupportedSchemaVersion {
                event_type: "Closed".to_owned(),
                version: 0,
                current: 1,
            })
        );
    }

    #[test]
    fn errors_read_as_lowercase_sentences() {
        let error = EnvelopeError::UnsupportedSchemaVersion {
            event_type: "Renamed".to_owned(),
            version: 4,
            current: 3,
        };
        assert_eq!(
            error.to_string(),
            "unsupported schema version 4 of event type Renamed (current is 3)"
        );
    }
}
