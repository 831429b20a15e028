//! `/api/v1/dev/sign-in`: issues a token for any subject and roles, without a password, so the
//! web UI and curl work locally. Registered only when DEV_MODE is on; never a real sign-in.

use axum::{Json, extract::State};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use cqrsplus_domain::input::{Lines, text};

use crate::{
    auth::Caller, error::ApiError, extract::ApiJson, startup::AppState, validate::Violations,
};

/// The longest role name a dev token may carry.
const MAX_ROLE_CHARS: usize = 64;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(sign_in))
}

/// Who to sign in as.
#[derive(Debug, Deserialize, ToSchema)]
pub struct SignIn {
    /// The user name; becomes the actor of every command made with the token.
    pub subject: String,
    /// Roles to grant, e.g. `["admin"]`.
    #[serde(default)]
    pub roles: Vec<String>,
}

/// A bearer token.
#[derive(Debug, Serialize, ToSchema)]
pub struct Token {
    /// Send as `Authorization: Bearer <token>`.
    pub token: String,
    pub token_type: &'static str,
    /// Expiry, seconds since the Unix epoch.
    pub expires_at: u64,
    pub subject: String,
    pub roles: Vec<String>,
}

/// Development only: issues a token for any subject and roles.
#[utoipa::path(post, path = "/dev/sign-in", tag = "auth", request_body = SignIn,
    responses((status = OK, body = Token)))]
#[tracing::instrument(skip_all, fields(subject = %body.subject))]
async fn sign_in(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<SignIn>,
) -> Result<Json<Token>, ApiError> {
    let mut v = Violations::new();
    for (i, role) in body.roles.iter().enumerate() {
        v.take(text(
            &format!("roles[{i}]"),
            role,
            MAX_ROLE_CHARS,
            Lines::Single,
        ));
    }
    let caller = match Caller::new(body.subject, body.roles) {
        Ok(caller) => Some(caller),
        Err(message) => {
            v.add("subject", message);
            None
        }
    };
    v.finish()?;
    let caller = caller.ok_or_else(|| ApiError::invalid_field("subject", "is invalid"))?;
    let (token, expires_at) = state.auth.issue(&caller)?;
    Ok(Json(Token {
        token,
        token_type: "Bearer",
        expires_at,
        subject: caller.subject,
        roles: caller.roles,
    }))
}
