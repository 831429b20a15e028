//! Request extractors that fail with the gateway's JSON error shape instead of axum's plain-text
//! rejections: JSON bodies, path ids, query strings, and the command headers (`Idempotency-Key`,
//! `If-Match`). Must not know about any route or service.

use axum::{
    extract::{FromRequest, FromRequestParts, Request},
    http::request::Parts,
};
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// A JSON body; malformed JSON or a wrong shape is a 400 with the error shape.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiJson<T>(pub T);

impl<T, S> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        axum::Json::<T>::from_request(req, state)
            .await
            .map(|axum::Json(value)| Self(value))
            .map_err(ApiError::from)
    }
}

/// Path parameters; an id that does not parse is a 400 naming the parameter.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiPath<T>(pub T);

impl<T, S> FromRequestParts<S> for ApiPath<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(value)| Self(value))
            .map_err(ApiError::from)
    }
}

/// Query-string parameters; a value of the wrong type is a 400.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiQuery<T>(pub T);

impl<T, S> FromRequestParts<S> for ApiQuery<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Query(value)| Self(value))
            .map_err(ApiError::from)
    }
}

/// The header that carries a command's idempotency key.
pub const IDEMPOTENCY_KEY: &str = "idempotency-key";

/// What a mutation may say in headers: `Idempotency-Key` (a UUID; becomes the command id, so a
/// retried request is applied once) and `If-Match` (the version the client last saw; becomes the
/// command's expected version, so a stale write is a 409 instead of a lost update).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CommandHeaders {
    pub command_id: Option<String>,
    pub expected_version: Option<u64>,
}

impl<S: Send + Sync> FromRequestParts<S> for CommandHeaders {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let headers = &parts.headers;
        let command_id = match headers.get(IDEMPOTENCY_KEY) {
            None => None,
            Some(value) => {
                let id = value
                    .to_str()
                    .ok()
                    .and_then(|v| uuid::Uuid::parse_str(v.trim()).ok())
                    .ok_or_else(|| ApiError::invalid_field("Idempotency-Key", "must be a UUID"))?;
                Some(id.hyphenated().to_string())
            }
        };
        let expected_version = match headers.get(axum::http::header::IF_MATCH) {
            None => None,
            Some(value) => Some(value.to_str().ok().and_then(parse_version_tag).ok_or_else(
                || {
                    ApiError::invalid_field(
                        "If-Match",
                        "must be the entity tag of a version, e.g. \"3\"",
                    )
                },
            )?),
        };
        Ok(Self {
            command_id,
            expected_version,
        })
    }
}

/// `"3"`, `W/"3"` or a bare `3`: the version ETags the gateway hands out.
fn parse_version_tag(value: &str) -> Option<u64> {
    let value = value.trim();
    let value = value.strip_prefix("W/").unwrap_or(value);
    let value = value
        .strip_prefix('"')
        .and_then(|v| v.strip_suffix('"'))
        .unwrap_or(value);
    value.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_tags_parse_in_every_spelling() {
        assert_eq!(parse_version_tag("\"3\""), Some(3));
        assert_eq!(parse_version_tag("W/\"4\""), Some(4));
        assert_eq!(parse_version_tag(" 5 "), Some(5));
        assert_eq!(parse_version_tag("*"), None);
        assert_eq!(parse_version_tag("\"x\""), None);
    }
}
