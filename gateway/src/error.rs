//! The gateway's one JSON error shape, `{code, message, details}`, and the way gRPC statuses
//! reach it: through `cqrsplus_proto::error_code`, the project's single code table. Internal
//! errors are logged here and answered without their cause.

use axum::{
    Json,
    http::StatusCode,
    response::{IntoResponse, Response},
};
use cqrsplus_proto::error_code::ErrorCode;
use serde::Serialize;

/// An error the API answers with.
#[derive(Debug)]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: String,
    pub details: serde_json::Value,
}

/// The body of every error response.
#[derive(Debug, Serialize)]
pub struct ErrorBody {
    pub code: &'static str,
    pub message: String,
    pub details: serde_json::Value,
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            details: serde_json::Value::Null,
        }
    }

    pub fn with_details(mut self, details: serde_json::Value) -> Self {
        self.details = details;
        self
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::NotFound, message)
    }
}

impl From<tonic::Status> for ApiError {
    fn from(status: tonic::Status) -> Self {
        let code = ErrorCode::from_grpc(status.code());
        match code {
            ErrorCode::Internal => {
                tracing::error!(grpc_code = ?status.code(), message = status.message(), "upstream call failed");
                Self::new(code, "internal error")
            }
            _ => Self::new(code, status.message()),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.code.http_status())
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = ErrorBody {
            code: self.code.as_str(),
            message: self.message,
            details: self.details,
        };
        (status, Json(body)).into_response()
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
            (tonic::Code::Aborted, 409),
            (tonic::Code::FailedPrecondition, 422),
            (tonic::Code::Unavailable, 503),
            (tonic::Code::Internal, 500),
            (tonic::Code::DataLoss, 500),
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
    }
}
