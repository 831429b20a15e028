//! The project's one error-code table, and the metadata conventions that go with it.
//!
//! Every service decides *which* [`ErrorCode`] a failure is; this module alone decides what that
//! code is on the wire: the gRPC status code (command-service, query-service) and the HTTP status
//! and stable JSON string (gateway). Going back, [`ErrorCode::from_grpc`] lets the gateway turn an
//! upstream gRPC status into its HTTP answer through the same table.
//!
//! | ErrorCode            | gRPC                  | HTTP | JSON `code`           |
//! |----------------------|-----------------------|------|-----------------------|
//! | `InvalidArgument`    | `INVALID_ARGUMENT`    | 400  | `invalid_argument`    |
//! | `Unauthenticated`    | `UNAUTHENTICATED`     | 401  | `unauthenticated`     |
//! | `PermissionDenied`   | `PERMISSION_DENIED`   | 403  | `permission_denied`   |
//! | `NotFound`           | `NOT_FOUND`           | 404  | `not_found`           |
//! | `AlreadyExists`      | `ALREADY_EXISTS`      | 409  | `already_exists`      |
//! | `Conflict`           | `ABORTED`             | 409  | `conflict`            |
//! | `FailedPrecondition` | `FAILED_PRECONDITION` | 422  | `failed_precondition` |
//! | `Unavailable`        | `UNAVAILABLE`         | 503  | `unavailable`         |
//! | `DeadlineExceeded`   | `DEADLINE_EXCEEDED`   | 504  | `deadline_exceeded`   |
//! | `Internal`           | `INTERNAL`            | 500  | `internal`            |
//!
//! Every other gRPC code (`UNKNOWN`, `DATA_LOSS`, `CANCELLED`, `RESOURCE_EXHAUSTED`, `OUT_OF_RANGE`,
//! `UNIMPLEMENTED`, even `OK` given as an error) is [`ErrorCode::Internal`]: a client cannot act on
//! it, so it gets a 500 without internals.
//!
//! Error details: every status built here carries a `google.rpc.ErrorInfo` whose `reason` is the
//! JSON `code` above (domain [`ERROR_DOMAIN`]); `INVALID_ARGUMENT` for input also carries a
//! `google.rpc.BadRequest` with one field violation per refused field ([`invalid_input`],
//! [`field_violations`]); retryable answers carry a `google.rpc.RetryInfo`. Clients (the gateway
//! first) read these details, never the message text, which is for people.
//!
//! Metadata conventions (gRPC metadata keys; the gateway turns them into headers or error details):
//! - [`ACTOR_METADATA`] on requests: who acts.
//! - [`CURRENT_VERSION_METADATA`] on `ABORTED`: the aggregate's current version after a lost
//!   optimistic-concurrency race ([`conflict`], [`current_version`]).
//! - [`PROJECTED_VERSION_METADATA`] and [`RETRY_AFTER_MS_METADATA`] on the query side's
//!   `UNAVAILABLE` "not yet projected" answer to a read-your-writes wait ([`not_yet_projected`]).

use std::{collections::HashMap, fmt, time::Duration};

use cqrsplus_domain::InvalidInput;
use tonic::{Code, Status, metadata::MetadataMap};
use tonic_types::{ErrorDetails, StatusExt};

/// The `domain` of every `google.rpc.ErrorInfo` this project sends.
pub const ERROR_DOMAIN: &str = "cqrsplus";

/// `ErrorInfo` metadata key of a conflict's current version (decimal).
pub const CURRENT_VERSION_INFO: &str = "current_version";
/// `ErrorInfo` metadata key of a not-yet-projected answer's projected version (decimal).
pub const PROJECTED_VERSION_INFO: &str = "projected_version";

/// Request metadata naming the authenticated user a command is performed by (the JWT `sub`, set by
/// the gateway after verifying the token). Requests never carry the actor in their body. Query
/// calls may carry it too, for caller-relative fields such as `Post.liked_by_caller`.
pub const ACTOR_METADATA: &str = "x-actor";

/// Status metadata on `ABORTED` (a [`ErrorCode::Conflict`]): the aggregate's current version in
/// decimal, so a client can reload or retry with a fresh `expected_version`. The gateway puts it
/// into the 409 body's details.
pub const CURRENT_VERSION_METADATA: &str = "x-current-version";

/// Status metadata on the query side's `UNAVAILABLE` "not yet projected" answer: the version the
/// projection had reached (decimal) for the first consistency token it could not meet.
pub const PROJECTED_VERSION_METADATA: &str = "x-projected-version";

/// Status metadata on retryable `UNAVAILABLE` answers: a suggested delay in milliseconds (decimal)
/// before retrying. The gateway turns it into an HTTP `Retry-After` header.
pub const RETRY_AFTER_MS_METADATA: &str = "x-retry-after-ms";

/// What kind of failure an error is, independent of the transport that reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// The request is malformed or breaks a validation rule (blank text, bad email, no items).
    InvalidArgument,
    /// No (valid) caller identity.
    Unauthenticated,
    /// The caller may not do this (not the author, not an admin).
    PermissionDenied,
    /// The addressed aggregate, comment or record does not exist.
    NotFound,
    /// Something to be created exists already (an aggregate id, a customer email).
    AlreadyExists,
    /// Optimistic concurrency lost: the aggregate moved on since the client read it (gRPC `ABORTED`).
    Conflict,
    /// The current state forbids the operation (deleted post, order status transition).
    FailedPrecondition,
    /// A dependency is down or the read model is not there yet; retrying later may succeed.
    Unavailable,
    /// The operation did not finish within its deadline.
    DeadlineExceeded,
    /// A bug or an infrastructure failure; details are logged, never sent.
    Internal,
}

impl ErrorCode {
    /// Every code, in table order.
    pub const ALL: [ErrorCode; 10] = [
        ErrorCode::InvalidArgument,
        ErrorCode::Unauthenticated,
        ErrorCode::PermissionDenied,
        ErrorCode::NotFound,
        ErrorCode::AlreadyExists,
        ErrorCode::Conflict,
        ErrorCode::FailedPrecondition,
        ErrorCode::Unavailable,
        ErrorCode::DeadlineExceeded,
        ErrorCode::Internal,
    ];

    /// The gRPC status code this error is sent with.
    pub const fn grpc_code(self) -> Code {
        match self {
            ErrorCode::InvalidArgument => Code::InvalidArgument,
            ErrorCode::Unauthenticated => Code::Unauthenticated,
            ErrorCode::PermissionDenied => Code::PermissionDenied,
            ErrorCode::NotFound => Code::NotFound,
            ErrorCode::AlreadyExists => Code::AlreadyExists,
            ErrorCode::Conflict => Code::Aborted,
            ErrorCode::FailedPrecondition => Code::FailedPrecondition,
            ErrorCode::Unavailable => Code::Unavailable,
            ErrorCode::DeadlineExceeded => Code::DeadlineExceeded,
            ErrorCode::Internal => Code::Internal,
        }
    }

    /// The HTTP status code the gateway answers with.
    pub const fn http_status(self) -> u16 {
        match self {
            ErrorCode::InvalidArgument => 400,
            ErrorCode::Unauthenticated => 401,
            ErrorCode::PermissionDenied => 403,
            ErrorCode::NotFound => 404,
            ErrorCode::AlreadyExists | ErrorCode::Conflict => 409,
            ErrorCode::FailedPrecondition => 422,
            ErrorCode::Unavailable => 503,
            ErrorCode::DeadlineExceeded => 504,
            ErrorCode::Internal => 500,
        }
    }

    /// The stable snake_case name used as `code` in JSON error bodies. Clients match on it, so it
    /// never changes for an existing variant.
    pub const fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidArgument => "invalid_argument",
            ErrorCode::Unauthenticated => "unauthenticated",
            ErrorCode::PermissionDenied => "permission_denied",
            ErrorCode::NotFound => "not_found",
            ErrorCode::AlreadyExists => "already_exists",
            ErrorCode::Conflict => "conflict",
            ErrorCode::FailedPrecondition => "failed_precondition",
            ErrorCode::Unavailable => "unavailable",
            ErrorCode::DeadlineExceeded => "deadline_exceeded",
            ErrorCode::Internal => "internal",
        }
    }

    /// The code a gRPC status maps back to; codes outside the table are [`ErrorCode::Internal`].
    pub const fn from_grpc(code: Code) -> ErrorCode {
        match code {
            Code::InvalidArgument => ErrorCode::InvalidArgument,
            Code::Unauthenticated => ErrorCode::Unauthenticated,
            Code::PermissionDenied => ErrorCode::PermissionDenied,
            Code::NotFound => ErrorCode::NotFound,
            Code::AlreadyExists => ErrorCode::AlreadyExists,
            Code::Aborted => ErrorCode::Conflict,
            Code::FailedPrecondition => ErrorCode::FailedPrecondition,
            Code::Unavailable => ErrorCode::Unavailable,
            Code::DeadlineExceeded => ErrorCode::DeadlineExceeded,
            Code::Ok
            | Code::Cancelled
            | Code::Unknown
            | Code::ResourceExhausted
            | Code::OutOfRange
            | Code::Unimplemented
            | Code::Internal
            | Code::DataLoss => ErrorCode::Internal,
        }
    }

    /// A gRPC status with this code, a client-facing message and an `ErrorInfo` naming the code.
    pub fn status(self, message: impl Into<String>) -> Status {
        self.status_with(message, ErrorDetails::new())
    }

    /// Like [`Self::status`], with more details (the `ErrorInfo` is added here).
    pub fn status_with(self, message: impl Into<String>, details: ErrorDetails) -> Status {
        self.status_with_info(message, details, HashMap::new())
    }

    fn status_with_info(
        self,
        message: impl Into<String>,
        mut details: ErrorDetails,
        info: HashMap<String, String>,
    ) -> Status {
        details.set_error_info(self.as_str(), ERROR_DOMAIN, info);
        Status::with_error_details(self.grpc_code(), message, details)
    }

    /// The code named by its JSON string (the `ErrorInfo` reason), if it is one of ours.
    pub fn from_reason(reason: &str) -> Option<ErrorCode> {
        ErrorCode::ALL
            .into_iter()
            .find(|code| code.as_str() == reason)
    }
}

/// One refused field of a request, as `google.rpc.BadRequest` carries it: `field` is the request
/// field's path (`items[2].quantity`), `description` says why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldViolation {
    pub field: String,
    pub description: String,
}

impl FieldViolation {
    pub fn new(field: impl Into<String>, description: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            description: description.into(),
        }
    }
}

/// `INVALID_ARGUMENT` listing every refused field in a `google.rpc.BadRequest`.
pub fn invalid_fields(
    message: impl Into<String>,
    violations: impl IntoIterator<Item = FieldViolation>,
) -> Status {
    let mut details = ErrorDetails::new();
    for violation in violations {
        details.add_bad_request_violation(violation.field, violation.description);
    }
    ErrorCode::InvalidArgument.status_with(message, details)
}

/// `INVALID_ARGUMENT` for input the domain's parsers refused, one violation per field.
pub fn invalid_input(error: &InvalidInput) -> Status {
    invalid_fields(
        error.to_string(),
        error
            .fields()
            .iter()
            .map(|field| FieldViolation::new(&field.field, &field.reason)),
    )
}

/// The field violations of a status's `google.rpc.BadRequest`; empty when it has none.
pub fn field_violations(status: &Status) -> Vec<FieldViolation> {
    status
        .get_details_bad_request()
        .map(|bad_request| {
            bad_request
                .field_violations
                .into_iter()
                .map(|violation| FieldViolation::new(violation.field, violation.description))
                .collect()
        })
        .unwrap_or_default()
}

/// The project code a status names in its `ErrorInfo`, when it comes from one of our services.
pub fn error_reason(status: &Status) -> Option<ErrorCode> {
    status
        .get_details_error_info()
        .filter(|info| info.domain == ERROR_DOMAIN)
        .and_then(|info| ErrorCode::from_reason(&info.reason))
}

impl From<Code> for ErrorCode {
    fn from(code: Code) -> Self {
        ErrorCode::from_grpc(code)
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The actor named by a request's [`ACTOR_METADATA`], if present, valid ASCII and not blank.
pub fn actor(metadata: &MetadataMap) -> Option<&str> {
    metadata
        .get(ACTOR_METADATA)
        .and_then(|value| value.to_str().ok())
        .map(str::trim)
        .filter(|actor| !actor.is_empty())
}

/// An `ABORTED` status for a lost optimistic-concurrency race, carrying the aggregate's current
/// version in [`CURRENT_VERSION_METADATA`].
pub fn conflict(message: impl Into<String>, current_version: u64) -> Status {
    let info = HashMap::from([(CURRENT_VERSION_INFO.to_owned(), current_version.to_string())]);
    let mut status = ErrorCode::Conflict.status_with_info(message, ErrorDetails::new(), info);
    status
        .metadata_mut()
        .insert(CURRENT_VERSION_METADATA, current_version.into());
    status
}

/// The current version carried by a [`conflict`] status.
pub fn current_version(status: &Status) -> Option<u64> {
    decimal_metadata(status, CURRENT_VERSION_METADATA)
        .or_else(|| decimal_info(status, CURRENT_VERSION_INFO))
}

/// The query side's `UNAVAILABLE` answer when a read-your-writes wait ran out: the projection had
/// reached `projected_version` and a retry after `retry_after` is suggested.
pub fn not_yet_projected(
    message: impl Into<String>,
    projected_version: u64,
    retry_after: Duration,
) -> Status {
    let info = HashMap::from([(
        PROJECTED_VERSION_INFO.to_owned(),
        projected_version.to_string(),
    )]);
    let mut status = ErrorCode::Unavailable.status_with_info(
        message,
        ErrorDetails::with_retry_info(Some(retry_after)),
        info,
    );
    let retry_after_ms = u64::try_from(retry_after.as_millis()).unwrap_or(u64::MAX);
    let metadata = status.metadata_mut();
    metadata.insert(PROJECTED_VERSION_METADATA, projected_version.into());
    metadata.insert(RETRY_AFTER_MS_METADATA, retry_after_ms.into());
    status
}

/// The projected version carried by a [`not_yet_projected`] status.
pub fn projected_version(status: &Status) -> Option<u64> {
    decimal_metadata(status, PROJECTED_VERSION_METADATA)
}

/// `UNAVAILABLE` for a dependency that is down (a store, the read database), with a suggested
/// delay before retrying, in a `google.rpc.RetryInfo` and in [`RETRY_AFTER_MS_METADATA`].
pub fn unavailable(message: impl Into<String>, retry_after: Duration) -> Status {
    let mut status = ErrorCode::Unavailable
        .status_with(message, ErrorDetails::with_retry_info(Some(retry_after)));
    let retry_after_ms = u64::try_from(retry_after.as_millis()).unwrap_or(u64::MAX);
    status
        .metadata_mut()
        .insert(RETRY_AFTER_MS_METADATA, retry_after_ms.into());
    status
}

/// The suggested retry delay carried by a status: its `google.rpc.RetryInfo`, else
/// [`RETRY_AFTER_MS_METADATA`].
pub fn retry_after(status: &Status) -> Option<Duration> {
    status
        .get_details_retry_info()
        .and_then(|info| info.retry_delay)
        .or_else(|| decimal_metadata(status, RETRY_AFTER_MS_METADATA).map(Duration::from_millis))
}

fn decimal_info(status: &Status, key: &str) -> Option<u64> {
    status
        .get_details_error_info()?
        .metadata
        .get(key)?
        .parse()
        .ok()
}

fn decimal_metadata(status: &Status, key: &str) -> Option<u64> {
    status
        .metadata()
        .get(key)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use tonic::metadata::MetadataValue;

    use super::*;

    /// Every tonic code, so a new one in tonic shows up here rather than silently.
    const ALL_GRPC_CODES: [Code; 17] = [
        Code::Ok,
        Code::Cancelled,
        Code::Unknown,
        Code::InvalidArgument,
        Code::DeadlineExceeded,
        Code::NotFound,
        Code::AlreadyExists,
        Code::PermissionDenied,
        Code::ResourceExhausted,
        Code::FailedPrecondition,
        Code::Aborted,
        Code::OutOfRange,
        Code::Unimplemented,
        Code::Internal,
        Code::Unavailable,
        Code::DataLoss,
        Code::Unauthenticated,
    ];

    #[test]
    fn the_table_round_trips_through_grpc() {
        for code in ErrorCode::ALL {
            assert_eq!(ErrorCode::from_grpc(code.grpc_code()), code, "{code:?}");
        }
    }

    #[test]
    fn every_grpc_code_maps_and_the_rest_is_internal() {
        for grpc in ALL_GRPC_CODES {
            let code = ErrorCode::from_grpc(grpc);
            if ErrorCode::ALL.iter().any(|c| c.grpc_code() == grpc) {
                assert_eq!(code.grpc_code(), grpc, "{grpc:?}");
            } else {
                assert_eq!(code, ErrorCode::Internal, "{grpc:?}");
            }
        }
        for grpc in [
            Code::Ok,
            Code::Cancelled,
            Code::Unknown,
            Code::ResourceExhausted,
            Code::OutOfRange,
            Code::Unimplemented,
            Code::DataLoss,
        ] {
            assert_eq!(ErrorCode::from_grpc(grpc), ErrorCode::Internal, "{grpc:?}");
        }
        // A code tonic does not know (from a newer peer) decodes as Unknown, hence Internal.
        assert_eq!(ErrorCode::from(Code::from(99)), ErrorCode::Internal);
    }

    #[test]
    fn http_statuses_follow_the_design() {
        let expected = [
            (ErrorCode::InvalidArgument, 400),
            (ErrorCode::Unauthenticated, 401),
            (ErrorCode::PermissionDenied, 403),
            (ErrorCode::NotFound, 404),
            (ErrorCode::AlreadyExists, 409),
            (ErrorCode::Conflict, 409),
            (ErrorCode::FailedPrecondition, 422),
            (ErrorCode::Unavailable, 503),
            (ErrorCode::DeadlineExceeded, 504),
            (ErrorCode::Internal, 500),
        ];
        assert_eq!(expected.len(), ErrorCode::ALL.len());
        for (code, status) in expected {
            assert_eq!(code.http_status(), status, "{code:?}");
        }
        assert_eq!(ErrorCode::Conflict.grpc_code(), Code::Aborted);
        assert_eq!(ErrorCode::AlreadyExists.grpc_code(), Code::AlreadyExists);
    }

    #[test]
    fn json_names_are_unique_snake_case() {
        let names: HashSet<&str> = ErrorCode::ALL.iter().map(|c| c.as_str()).collect();
        assert_eq!(names.len(), ErrorCode::ALL.len());
        for name in names {
            assert!(
                name.chars().all(|c| c.is_ascii_lowercase() || c == '_'),
                "{name}"
            );
        }
        assert_eq!(ErrorCode::Conflict.to_string(), "conflict");
    }

    #[test]
    fn conflicts_carry_the_current_version() {
        let status = conflict("post was changed meanwhile", 7);
        assert_eq!(status.code(), Code::Aborted);
        assert_eq!(current_version(&status), Some(7));
        assert_eq!(current_version(&Status::aborted("no metadata")), None);
    }

    #[test]
    fn not_yet_projected_carries_version_and_retry_hint() {
        let status = not_yet_projected("not yet projected", 3, Duration::from_millis(250));
        assert_eq!(ErrorCode::from_grpc(status.code()), ErrorCode::Unavailable);
        assert_eq!(projected_version(&status), Some(3));
        assert_eq!(retry_after(&status), Some(Duration::from_millis(250)));
    }

    #[test]
    fn every_status_names_its_code_in_error_info() {
        for code in ErrorCode::ALL {
            let status = code.status("message for people");
            assert_eq!(status.code(), code.grpc_code());
            assert_eq!(error_reason(&status), Some(code), "{code:?}");
            assert!(field_violations(&status).is_empty());
        }
        assert_eq!(
            error_reason(&Status::internal("plain, from elsewhere")),
            None
        );
    }

    #[test]
    fn invalid_input_lists_every_field() {
        let mut fields = cqrsplus_domain::input::Fields::new();
        fields.add(cqrsplus_domain::FieldError::new(
            "message",
            "must not be blank",
        ));
        fields.add(cqrsplus_domain::FieldError::new(
            "items[1].quantity",
            "must be at least 1",
        ));
        let error = fields.finish().expect_err("two fields");
        let status = invalid_input(&error);
        assert_eq!(status.code(), Code::InvalidArgument);
        assert_eq!(error_reason(&status), Some(ErrorCode::InvalidArgument));
        assert_eq!(
            field_violations(&status),
            [
                FieldViolation::new("message", "must not be blank"),
                FieldViolation::new("items[1].quantity", "must be at least 1"),
            ]
        );
    }

    #[test]
    fn details_survive_the_wire_encoding() {
        // What a client receives: the status rebuilt from its header bytes.
        let sent = invalid_fields(
            "bad",
            [FieldViolation::new(
                "region",
                "must not contain control characters",
            )],
        );
        let received =
            Status::with_details(sent.code(), sent.message(), sent.details().to_vec().into());
        assert_eq!(field_violations(&received), field_violations(&sent));
        assert_eq!(error_reason(&received), Some(ErrorCode::InvalidArgument));
    }

    #[test]
    fn unavailable_carries_a_retry_delay() {
        let status = unavailable("read database unreachable", Duration::from_millis(1500));
        assert_eq!(status.code(), Code::Unavailable);
        assert_eq!(retry_after(&status), Some(Duration::from_millis(1500)));
        assert_eq!(error_reason(&status), Some(ErrorCode::Unavailable));
    }

    #[test]
    fn the_actor_comes_from_metadata() {
        let mut metadata = MetadataMap::new();
        assert_eq!(actor(&metadata), None);
        metadata.insert(ACTOR_METADATA, MetadataValue::from_static("  "));
        assert_eq!(actor(&metadata), None);
        metadata.insert(ACTOR_METADATA, MetadataValue::from_static("alice"));
        assert_eq!(actor(&metadata), Some("alice"));
    }
}
