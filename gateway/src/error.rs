//! The gateway's one JSON error shape, `{code, message, details}`, and every way a failure reaches
//! it: upstream gRPC statuses (through `cqrsplus_proto::error_code`, the project's single code
//! table, never a second one here), axum's own extractor rejections (bad JSON, bad path ids, bad
//! query strings), field-level validation failures, and authentication failures.
//!
//! Nothing is logged here: an error keeps its cause (never sent) and leaves it on the response as a
//! [`Failure`], and [`crate::edge`] writes the one log line of a failed request from it. So a
//! failure is logged once however many layers it crosses. This module must not know about routes
//! or services: handlers decide what went wrong, this decides how it looks.

use std::time::Duration;

use axum::{
    Json,
    extract::rejection::{JsonRejection, PathRejection, QueryRejection},
    http::{HeaderName, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use cqrsplus_proto::error_code::{self, ErrorCode};
use serde::Serialize;
use serde_json::json;
use utoipa::ToSchema;

/// An error the API answers with.
#[derive(Debug)]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: String,
    /// Boxed, like the headers kept as a list: every `Result<_, ApiError>` stays small.
    pub details: Box<serde_json::Value>,
    /// Extra response headers (`Retry-After`, `WWW-Authenticate`, `ETag`); a list rather than a
    /// `HeaderMap` keeps every `Result<_, ApiError>` small.
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// What really went wrong, for the log only (internal errors answer without it).
    pub cause: Option<String>,
    /// An HTTP status finer than the code's own (405, 413, 415 are `invalid_argument` too).
    pub status: Option<StatusCode>,
}

/// What the log line of a failed request needs, left on the response by [`ApiError`]: the code and
/// the cause that the body does not carry.
#[derive(Debug, Clone)]
pub struct Failure {
    pub code: ErrorCode,
    pub cause: Option<String>,
}

/// The body of every error response.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// Stable machine-readable code: `invalid_argument`, `unauthenticated`, `permission_denied`,
    /// `not_found`, `already_exists`, `conflict`, `failed_precondition`, `unavailable`,
    /// `deadline_exceeded` or `internal`.
    #[schema(example = "invalid_argument")]
    pub code: &'static str,
    /// Human-readable explanation, safe to show.
    pub message: String,
    /// Code-specific data, `null` when there is none: `{"fields": [{"field", "message"}]}` for
    /// validation errors, `{"current_version"}` for conflicts, `{"projected_version",
    /// "retry_after_ms"}` when a read is not projected yet.
    #[schema(value_type = Object, nullable = true)]
    pub details: serde_json::Value,
}

/// One invalid input field and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct FieldViolation {
    /// The field's name as sent: `message`, `items[0].quantity`, a path or query parameter, or a
    /// header such as `Idempotency-Key`.
    pub field: String,
    /// What is wrong with it.
    pub message: String,
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            details: Box::new(serde_json::Value::Null),
            headers: Vec::new(),
            cause: None,
            status: None,
        }
    }

    /// The same error answered with a finer HTTP status than its code's.
    pub fn with_status(mut self, status: StatusCode) -> Self {
        self.status = Some(status);
        self
    }

    /// Records what went wrong, for the log line only.
    pub fn with_cause(mut self, cause: impl std::fmt::Display) -> Self {
        self.cause = Some(cause.to_string());
        self
    }

    pub fn with_details(mut self, details: serde_json::Value) -> Self {
        self.details = Box::new(details);
        self
    }

    pub fn with_header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.headers.retain(|(n, _)| *n != name);
        self.headers.push((name, value));
        self
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::NotFound, message)
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidArgument, message)
    }

    /// A 400 naming each invalid field.
    pub fn invalid_fields(violations: Vec<FieldViolation>) -> Self {
        let message = match violations.as_slice() {
            [one] => format!("{}: {}", one.field, one.message),
            many => format!("{} fields are invalid", many.len()),
        };
        Self::invalid(message).with_details(json!({ "fields": violations }))
    }

    /// A 400 for one invalid field.
    pub fn invalid_field(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::invalid_fields(vec![FieldViolation {
            field: field.into(),
            message: message.into(),
        }])
    }

    /// A 401 that tells the client which scheme to use.
    pub fn unauthenticated(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Unauthenticated, message).with_header(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"cqrsplus\""),
        )
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::PermissionDenied, message)
    }

    /// A 500 whose cause is logged and not sent.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        Self::new(ErrorCode::Internal, "internal error").with_cause(cause)
    }

    /// A 504: the request did not finish within the gateway's time limit.
    pub fn timed_out(limit: Duration) -> Self {
        Self::new(
            ErrorCode::DeadlineExceeded,
            "the request did not finish in time; retry later",
        )
        .with_details(json!({ "timeout_ms": u64::try_from(limit.as_millis()).unwrap_or(u64::MAX) }))
    }
}

impl From<tonic::Status> for ApiError {
    fn from(status: tonic::Status) -> Self {
        Self::from_upstream(status, |field| field)
    }
}

impl ApiError {
    /// An upstream status as the API answers it, read from its details (`google.rpc.ErrorInfo`
    /// for the code, `BadRequest` for the refused fields), never from its message text; the code
    /// table maps what the details do not say. `field_name` turns a request field's name into
    /// the HTTP name the client sent it under.
    pub fn from_upstream(status: tonic::Status, field_name: impl Fn(String) -> String) -> Self {
        let code = error_code::error_reason(&status)
            .unwrap_or_else(|| ErrorCode::from_grpc(status.code()));
        match code {
            ErrorCode::InvalidArgument => {
                let violations: Vec<FieldViolation> = error_code::field_violations(&status)
                    .into_iter()
                    .map(|v| FieldViolation {
                        field: field_name(v.field),
                        message: v.description,
                    })
                    .collect();
                if violations.is_empty() {
                    Self::new(code, status.message())
                } else {
                    Self::invalid_fields(violations)
                }
            }
            ErrorCode::Internal => Self::new(code, "internal error").with_cause(format_args!(
                "upstream answered {:?}: {}",
                status.code(),
                status.message()
            )),
            ErrorCode::Conflict => {
                let error = Self::new(code, status.message());
                match error_code::current_version(&status) {
                    Some(version) => error
                        .with_details(json!({ "current_version": version }))
                        .with_header(header::ETAG, etag(version)),
                    None => error,
                }
            }
            ErrorCode::Unavailable => unavailable(&status),
            ErrorCode::DeadlineExceeded => {
                Self::new(code, "the operation did not finish in time; retry later")
                    .with_cause(format_args!("upstream: {}", status.message()))
            }
            _ => Self::new(code, status.message()),
        }
    }
}

/// The retry hint when an `UNAVAILABLE` status carries none.
pub const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(1);

/// `UNAVAILABLE` is either the query side's "not yet projected" (a message worth showing, with a
/// retry hint) or a service (or what it depends on) that is down, whose message may name
/// internals. Either way 503 with `Retry-After` (from `x-retry-after-ms`, else
/// [`DEFAULT_RETRY_AFTER`]) and `details.retry_after_ms`. Not logged per request: an unreachable
/// service is logged when its outage starts and ends ([`crate::backend`]), and a service that
/// answers `UNAVAILABLE` logs its own outage.
fn unavailable(status: &tonic::Status) -> ApiError {
    let retry_after = error_code::retry_after(status).unwrap_or(DEFAULT_RETRY_AFTER);
    let retry_after_ms = u64::try_from(retry_after.as_millis()).unwrap_or(u64::MAX);
    let error = match error_code::projected_version(status) {
        Some(version) => ApiError::new(ErrorCode::Unavailable, status.message()).with_details(
            json!({ "projected_version": version, "retry_after_ms": retry_after_ms }),
        ),
        None => ApiError::new(
            ErrorCode::Unavailable,
            "a backing service is unavailable; retry later",
        )
        .with_details(json!({ "retry_after_ms": retry_after_ms }))
        .with_cause(format_args!("upstream: {}", status.message())),
    };
    // Retry-After is whole seconds; rounding up keeps clients from retrying too early.
    let seconds = retry_after.as_millis().div_ceil(1000).max(1);
    match HeaderValue::from_str(&seconds.to_string()) {
        Ok(value) => error.with_header(header::RETRY_AFTER, value),
        Err(_) => error,
    }
}

/// The strong entity tag of an aggregate version, the form `If-Match` accepts back.
pub fn etag(version: u64) -> HeaderValue {
    HeaderValue::from_str(&format!("\"{version}\"")).expect("a quoted number is a valid header")
}

/// A body that cannot be read as JSON is `invalid_argument`, answered 415 without a JSON content
/// type and 413 when larger than the body limit, so a client can tell those apart; a body of the
/// wrong shape is 400 (422 means "not allowed in the current state" in this API).
impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        match rejection {
            JsonRejection::MissingJsonContentType(_) => {
                Self::invalid("expected a JSON body with content-type: application/json")
                    .with_status(StatusCode::UNSUPPORTED_MEDIA_TYPE)
            }
            other if other.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                Self::invalid("the body is larger than the gateway accepts")
                    .with_status(StatusCode::PAYLOAD_TOO_LARGE)
            }
            other => Self::invalid(other.body_text()),
        }
    }
}

impl From<PathRejection> for ApiError {
    fn from(rejection: PathRejection) -> Self {
        use axum::extract::path::ErrorKind;
        match rejection {
            PathRejection::FailedToDeserializePathParams(inner) => match inner.kind() {
                ErrorKind::ParseErrorAtKey { key, value, .. }
                | ErrorKind::DeserializeError { key, value, .. } => {
                    Self::invalid_field(key.clone(), format!("{value:?} is not a valid id"))
                }
                ErrorKind::ParseError { value, .. }
                | ErrorKind::ParseErrorAtIndex { value, .. } => {
                    Self::invalid(format!("{value:?} is not a valid id"))
                }
                _ => Self::invalid(inner.body_text()),
            },
            other => Self::internal(other.body_text()),
        }
    }
}

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        let text = rejection.body_text();
        // axum words it "Failed to deserialize query string: {parameter}: {problem}", the
        // parameter's name coming from serde_path_to_error; naming it as a field lets a client
        // point at the parameter, as for every other invalid input.
        let parameter = text
            .strip_prefix("Failed to deserialize query string: ")
            .and_then(|rest| rest.split_once(": "))
            .filter(|(name, _)| {
                !name.is_empty()
                    && name
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.')
            });
        match parameter {
            Some((name, problem)) => Self::invalid_field(name, problem),
            None => Self::invalid(text),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status.unwrap_or_else(|| {
            StatusCode::from_u16(self.code.http_status())
                .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
        });
        let body = ErrorBody {
            code: self.code.as_str(),
            message: self.message,
            details: *self.details,
        };
        let mut response = (status, Json(body)).into_response();
        response.headers_mut().extend(self.headers);
        response.extensions_mut().insert(Failure {
            code: self.code,
            cause: self.cause,
        });
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grpc_statuses_map_through_the_table() {
        let cases = [
            (tonic::Code::InvalidArgument, 400),
            (tonic::Code::Unauthenticated, 401),
            (tonic::Code::PermissionDenied, 403),
            (tonic::Code::NotFound, 404),
            (tonic::Code::AlreadyExists, 409),
            (tonic::Code::Aborted, 409),
            (tonic::Code::FailedPrecondition, 422),
            (tonic::Code::Unavailable, 503),
            (tonic::Code::DeadlineExceeded, 504),
            (tonic::Code::Internal, 500),
            (tonic::Code::DataLoss, 500),
            (tonic::Code::Unimplemented, 500),
        ];
        for (grpc, http) in cases {
            let response = ApiError::from(tonic::Status::new(grpc, "m")).into_response();
            assert_eq!(response.status().as_u16(), http, "{grpc:?}");
        }
    }

    #[test]
    fn internal_messages_are_not_forwarded() {
        let err = ApiError::from(tonic::Status::internal("duplicate key in mongo://secret"));
        assert_eq!(err.message, "internal error");
        let err = ApiError::from(tonic::Status::unavailable(
            "tcp connect error 10.0.0.7:50051",
        ));
        assert!(!err.message.contains("10.0.0.7"), "{}", err.message);
    }

    #[test]
    fn conflicts_carry_the_current_version() {
        let err = ApiError::from(error_code::conflict("moved on", 7));
        assert_eq!(err.code, ErrorCode::Conflict);
        assert_eq!(err.details["current_version"], 7);
        assert!(err.headers.contains(&(header::ETAG, etag(7))));
    }

    #[test]
    fn not_yet_projected_becomes_503_with_retry_after() {
        let status = error_code::not_yet_projected("not yet", 2, Duration::from_millis(1500));
        let err = ApiError::from(status);
        assert_eq!(err.details["projected_version"], 2);
        assert_eq!(err.details["retry_after_ms"], 1500);
        let response = err.into_response();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(response.headers()[header::RETRY_AFTER], "2");
    }

    #[test]
    fn a_bad_query_parameter_is_named() {
        #[derive(Debug, serde::Deserialize)]
        struct Params {
            #[allow(dead_code)] // only its parsing is under test
            page_size: Option<u32>,
        }
        let uri: axum::http::Uri = "/x?page_size=lots".parse().expect("uri");
        let rejection = axum::extract::Query::<Params>::try_from_uri(&uri).expect_err("rejected");
        let err = ApiError::from(rejection);
        assert_eq!(err.code, ErrorCode::InvalidArgument);
        assert_eq!(err.details["fields"][0]["field"], "page_size");
    }

    #[test]
    fn field_violations_are_listed() {
        let err = ApiError::invalid_fields(vec![
            FieldViolation {
                field: "a".into(),
                message: "x".into(),
            },
            FieldViolation {
                field: "b".into(),
                message: "y".into(),
            },
        ]);
        assert_eq!(err.code, ErrorCode::InvalidArgument);
        assert_eq!(err.details["fields"][1]["field"], "b");
        assert_eq!(err.message, "2 fields are invalid");
    }

    #[test]
    fn a_retry_hint_in_the_details_becomes_retry_after() {
        let status = error_code::unavailable("the store is down", Duration::from_millis(2500));
        let response = ApiError::from(status).into_response();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(response.headers()[header::RETRY_AFTER], "3");
    }

    #[test]
    fn the_cause_stays_on_the_response_for_the_log_and_out_of_the_body() {
        let response = ApiError::internal("disk on fire").into_response();
        let failure = response.extensions().get::<Failure>().expect("failure");
        assert_eq!(failure.code, ErrorCode::Internal);
        assert_eq!(failure.cause.as_deref(), Some("disk on fire"));
    }

    #[test]
    fn field_violations_come_from_the_details() {
        let status = error_code::invalid_fields(
            "words nobody parses",
            [error_code::FieldViolation::new(
                "items[0].sku",
                "must not be blank",
            )],
        );
        let err = ApiError::from(status);
        assert_eq!(err.details["fields"][0]["field"], "items[0].sku");
        assert_eq!(err.message, "items[0].sku: must not be blank");
    }
}
