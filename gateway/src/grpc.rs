//! The gateway's side of the gRPC calls: building requests (the caller as `x-actor` metadata, a
//! deadline so the services stop waiting when the HTTP client would) and the small conversions
//! every route needs (timestamps, consistency tokens, event envelopes).
//!
//! Must not hold business rules; whatever a service decides is passed through `ApiError`.

use std::time::Duration;

use cqrsplus_proto::{common::v1 as common, error_code::ACTOR_METADATA};
use serde::Serialize;
use time::{OffsetDateTime, format_description::well_known::Rfc3339};
use tonic::metadata::MetadataValue;
use utoipa::ToSchema;

use crate::{auth::Caller, error::ApiError};

/// A gRPC request on behalf of `caller` (if any), bounded by `deadline`.
pub fn request<T>(
    message: T,
    caller: Option<&Caller>,
    deadline: Duration,
) -> Result<tonic::Request<T>, ApiError> {
    let mut request = tonic::Request::new(message);
    // grpc-timeout lets the query side bound its read-your-writes wait by what we still wait for.
    request.set_timeout(deadline);
    if let Some(caller) = caller {
        let value = MetadataValue::try_from(caller.subject.as_str())
            .map_err(|_| ApiError::unauthenticated("the token's subject is not valid metadata"))?;
        request.metadata_mut().insert(ACTOR_METADATA, value);
    }
    Ok(request)
}

/// A failed QueryService or QueryAdmin call as the API answers it: through [`ApiError`]'s reading
/// of the status details, with each refused field named after the HTTP parameter it came from.
/// Reports take their month range as one `period` message; over HTTP its bounds are separate
/// parameters (`period.from_month` is `from_month`).
pub fn query_error(status: tonic::Status) -> ApiError {
    ApiError::from_upstream(status, |field| match field.strip_prefix("period.") {
        Some(parameter) => parameter.to_owned(),
        None => field,
    })
}

/// RFC 3339 in UTC, as every time in the API is written.
pub fn timestamp(ts: &prost_types::Timestamp) -> String {
    let nanos = i128::from(ts.seconds) * 1_000_000_000 + i128::from(ts.nanos);
    OffsetDateTime::from_unix_timestamp_nanos(nanos)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_default()
}

pub fn optional_timestamp(ts: Option<&prost_types::Timestamp>) -> Option<String> {
    ts.map(timestamp)
}

/// An RFC 3339 time from a client, as a protobuf timestamp.
pub fn parse_timestamp(value: &str) -> Option<prost_types::Timestamp> {
    let time = OffsetDateTime::parse(value.trim(), &Rfc3339).ok()?;
    Some(prost_types::Timestamp {
        seconds: time.unix_timestamp(),
        nanos: i32::try_from(time.nanosecond()).ok()?,
    })
}

/// A read-your-writes token for `aggregate_id` when the client sent `min_version`.
pub fn token(aggregate_id: &str, min_version: Option<u64>) -> Option<common::ConsistencyToken> {
    min_version
        .filter(|v| *v > 0)
        .map(|min_version| common::ConsistencyToken {
            aggregate_id: aggregate_id.to_owned(),
            min_version,
        })
}

/// The tokens of a list read's `consistent_with` parameter: `ID:VERSION` pairs, comma separated
/// (the id and version of command replies the list must reflect).
pub fn tokens(consistent_with: Option<&str>) -> Result<Vec<common::ConsistencyToken>, ApiError> {
    let Some(value) = consistent_with.filter(|v| !v.trim().is_empty()) else {
        return Ok(Vec::new());
    };
    value
        .split(',')
        .map(|pair| {
            let (id, version) = pair.trim().rsplit_once(':').ok_or(())?;
            let id = uuid::Uuid::parse_str(id).map_err(|_| ())?;
            let version: u64 = version.parse().map_err(|_| ())?;
            Ok(common::ConsistencyToken {
                aggregate_id: id.hyphenated().to_string(),
                min_version: version,
            })
        })
        .collect::<Result<_, ()>>()
        .map_err(|()| {
            ApiError::invalid_field(
                "consistent_with",
                "must be ID:VERSION pairs separated by commas",
            )
        })
}

/// Money: integer minor units and an ISO 4217 code, never a float.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Money {
    /// Amount in minor units (cents): 1250 with EUR is 12.50 EUR.
    pub amount_minor: i64,
    /// ISO 4217 code, upper case.
    pub currency: String,
}

impl From<common::Money> for Money {
    fn from(m: common::Money) -> Self {
        Self {
            amount_minor: m.amount_minor,
            currency: m.currency,
        }
    }
}

pub fn money(m: Option<common::Money>) -> Money {
    m.map(Money::from).unwrap_or(Money {
        amount_minor: 0,
        currency: String::new(),
    })
}

/// One domain event with its metadata: the same shape in history reads and on the live stream.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Event {
    pub event_id: String,
    /// Past-tense name, e.g. `PostLiked`.
    pub event_type: String,
    pub schema_version: u32,
    /// `post`, `customer` or `order`.
    pub aggregate_type: String,
    pub aggregate_id: String,
    /// Position in the aggregate's stream, 1-based and dense.
    pub version: u64,
    pub occurred_at: String,
    pub command_id: String,
    pub correlation_id: String,
    /// Who issued the command.
    pub actor: String,
    /// The event's payload.
    #[schema(value_type = Object)]
    pub data: serde_json::Value,
}

impl From<common::EventEnvelope> for Event {
    fn from(e: common::EventEnvelope) -> Self {
        let data =
            serde_json::from_str(&e.data_json).unwrap_or(serde_json::Value::String(e.data_json));
        Self {
            occurred_at: optional_timestamp(e.occurred_at.as_ref()).unwrap_or_default(),
            event_id: e.event_id,
            event_type: e.event_type,
            schema_version: e.schema_version,
            aggregate_type: e.aggregate_type,
            aggregate_id: e.aggregate_id,
            version: e.version,
            command_id: e.command_id,
            correlation_id: e.correlation_id,
            actor: e.actor,
            data,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_round_trip_as_rfc3339() {
        let ts = parse_timestamp("2025-01-02T03:04:05.5Z").expect("parse");
        assert_eq!(ts.seconds, 1_735_787_045);
        assert_eq!(ts.nanos, 500_000_000);
        assert_eq!(timestamp(&ts), "2025-01-02T03:04:05.5Z");
        assert!(parse_timestamp("yesterday").is_none());
    }

    #[test]
    fn consistent_with_parses_pairs() {
        let id = "0190a0b0-0000-7000-8000-000000000001";
        let parsed = tokens(Some(&format!("{id}:3, {id}:4"))).expect("tokens");
        assert_eq!(parsed.len(), 2);
        assert_eq!(parsed[1].min_version, 4);
        assert!(tokens(Some("nope")).is_err());
        assert!(tokens(None).expect("none").is_empty());
    }

    #[test]
    fn query_side_field_errors_are_read_from_the_details_and_named_as_parameters() {
        use cqrsplus_proto::error_code::{FieldViolation, invalid_fields};
        let err = query_error(invalid_fields(
            "opaque words",
            [FieldViolation::new(
                "page_token",
                "not a page token issued by this service",
            )],
        ));
        assert_eq!(err.details["fields"][0]["field"], "page_token");
        assert_eq!(
            err.details["fields"][0]["message"],
            "not a page token issued by this service"
        );
        let err = query_error(invalid_fields(
            "x",
            [FieldViolation::new("period.from_month", "is not a month")],
        ));
        assert_eq!(err.details["fields"][0]["field"], "from_month");
        assert_eq!(err.message, "from_month: is not a month");
        // The message text is never parsed: "field: problem" without details has no fields.
        let err = query_error(tonic::Status::invalid_argument("page_token: bad"));
        assert!(err.details.is_null(), "{}", err.details);
        let err = query_error(tonic::Status::not_found("no post x: gone"));
        assert_eq!(err.code, cqrsplus_proto::error_code::ErrorCode::NotFound);
        assert!(err.details.is_null());
    }

    #[test]
    fn requests_carry_the_actor_and_a_deadline() {
        let caller = Caller::new("alice".into(), vec![]).expect("caller");
        let request = request((), Some(&caller), Duration::from_secs(3)).expect("request");
        assert_eq!(
            request.metadata().get(ACTOR_METADATA).expect("actor"),
            "alice"
        );
        assert!(request.metadata().get("grpc-timeout").is_some());
    }
}
