//! Who is calling: bearer JWTs (HS256, shared secret from config) carrying a subject and roles.
//!
//! Owns token verification, the extractors handlers use to require a caller ([`Caller`]), accept
//! an optional one ([`MaybeCaller`]) or require the admin role ([`Admin`]), and token issuing for
//! the dev sign-in. The subject becomes the `x-actor` of every gRPC call, so an actor can never
//! come from a request body. Must not depend on routes or gRPC clients.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::{
    extract::FromRequestParts,
    http::{header, request::Parts},
};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::{error::ApiError, startup::AppState};

/// The role that admin routes require.
pub const ADMIN_ROLE: &str = "admin";

/// HS256 keys shorter than the hash output weaken the signature (RFC 7518, section 3.2).
pub const MIN_SECRET_BYTES: usize = 32;

/// The longest subject accepted, the domain's bound on actor names.
const MAX_SUBJECT_CHARS: usize = cqrsplus_domain::Actor::MAX_CHARS;

/// Why the auth settings cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum AuthConfigError {
    #[error("JWT_SECRET must be at least {MIN_SECRET_BYTES} bytes")]
    SecretTooShort,
}

/// The claims of the tokens the gateway accepts.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    /// The user; becomes the actor of every command.
    pub sub: String,
    /// Roles, e.g. `admin`.
    #[serde(default)]
    pub roles: Vec<String>,
    /// Expiry, seconds since the Unix epoch.
    pub exp: u64,
    /// Issue time, seconds since the Unix epoch.
    #[serde(default)]
    pub iat: u64,
}

/// Verifies tokens and, in dev mode, issues them.
pub struct Auth {
    keys: Option<(EncodingKey, DecodingKey)>,
    validation: Validation,
    dev_mode: bool,
    token_ttl: Duration,
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Auth")
            .field("configured", &self.keys.is_some())
            .field("dev_mode", &self.dev_mode)
            .finish_non_exhaustive()
    }
}

impl Auth {
    /// Keys from `secret`; in dev mode without a secret, a random one for this process only.
    pub fn new(
        secret: Option<&str>,
        dev_mode: bool,
        token_ttl: Duration,
    ) -> Result<Self, AuthConfigError> {
        let secret = match secret.filter(|s| !s.is_empty()) {
            Some(secret) if secret.len() < MIN_SECRET_BYTES => {
                return Err(AuthConfigError::SecretTooShort);
            }
            Some(secret) => Some(secret.as_bytes().to_vec()),
            // Two v4 UUIDs: 244 random bits from the OS generator, without another dependency.
            None if dev_mode => {
                Some(format!("{}{}", uuid::Uuid::new_v4(), uuid::Uuid::new_v4()).into_bytes())
            }
            None => {
                tracing::warn!(
                    "JWT_SECRET is not set: every token is refused, so every mutation is 401"
                );
                None
            }
        };
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_required_spec_claims(&["exp", "sub"]);
        validation.leeway = 30;
        Ok(Self {
            keys: secret.map(|s| (EncodingKey::from_secret(&s), DecodingKey::from_secret(&s))),
            validation,
            dev_mode,
            token_ttl,
        })
    }

    pub fn dev_mode(&self) -> bool {
        self.dev_mode
    }

    /// The caller a bearer token names, or why it is refused.
    pub fn verify(&self, token: &str) -> Result<Caller, ApiError> {
        let Some((_, decoding)) = &self.keys else {
            return Err(ApiError::unauthenticated(
                "authentication is not configured on this gateway",
            ));
        };
        let claims = jsonwebtoken::decode::<Claims>(token, decoding, &self.validation)
            .map_err(|e| {
                use jsonwebtoken::errors::ErrorKind;
                match e.kind() {
                    ErrorKind::ExpiredSignature => {
                        ApiError::unauthenticated("the token has expired")
                    }
                    _ => ApiError::unauthenticated("the token is not valid"),
                }
            })?
            .claims;
        Caller::new(claims.sub, claims.roles)
            .map_err(|message| ApiError::unauthenticated(format!("the token's subject {message}")))
    }

    /// A signed token for `caller` that expires after the configured lifetime.
    pub fn issue(&self, caller: &Caller) -> Result<(String, u64), ApiError> {
        let Some((encoding, _)) = &self.keys else {
            return Err(ApiError::internal("issuing a token without keys"));
        };
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_err(ApiError::internal)?
            .as_secs();
        let exp = now + self.token_ttl.as_secs().max(1);
        let claims = Claims {
            sub: caller.subject.clone(),
            roles: caller.roles.clone(),
            exp,
            iat: now,
        };
        let token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, encoding)
            .map_err(ApiError::internal)?;
        Ok((token, exp))
    }

    fn caller_in(&self, parts: &Parts) -> Result<Option<Caller>, ApiError> {
        let Some(value) = parts.headers.get(header::AUTHORIZATION) else {
            return Ok(None);
        };
        let token = value
            .to_str()
            .ok()
            .and_then(|v| {
                let (scheme, token) = v.split_once(' ')?;
                scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
            })
            .filter(|token| !token.is_empty())
            .ok_or_else(|| ApiError::unauthenticated("expected Authorization: Bearer <token>"))?;
        self.verify(token).map(Some)
    }
}

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The token's subject: the actor of the caller's commands.
    pub subject: String,
    pub roles: Vec<String>,
}

impl Caller {
    /// A caller whose subject can travel as gRPC metadata and is a valid actor name.
    pub fn new(subject: String, roles: Vec<String>) -> Result<Self, &'static str> {
        let subject = subject.trim().to_owned();
        if subject.is_empty() {
            return Err("must not be blank");
        }
        if subject.chars().count() > MAX_SUBJECT_CHARS {
            return Err("is too long");
        }
        // gRPC metadata values are visible ASCII; anything else could not reach command-service.
        if !subject.chars().all(|c| c.is_ascii_graphic() || c == ' ') {
            return Err("must be printable ASCII");
        }
        Ok(Self { subject, roles })
    }

    pub fn is_admin(&self) -> bool {
        self.roles.iter().any(|r| r == ADMIN_ROLE)
    }
}

/// Requires a valid bearer token (401 otherwise).
impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        state
            .auth
            .caller_in(parts)?
            .ok_or_else(|| ApiError::unauthenticated("this operation needs a bearer token"))
    }
}

/// The caller if a token was sent. A token that is sent but invalid is still a 401: silently
/// reading anonymously would hide an expired session from the client.
#[derive(Debug, Clone)]
pub struct MaybeCaller(pub Option<Caller>);

impl FromRequestParts<AppState> for MaybeCaller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        state.auth.caller_in(parts).map(MaybeCaller)
    }
}

/// A caller with the admin role (401 without a token, 403 without the role).
#[derive(Debug, Clone)]
pub struct Admin(pub Caller);

impl FromRequestParts<AppState> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let caller = Caller::from_request_parts(parts, state).await?;
        if caller.is_admin() {
            Ok(Admin(caller))
        } else {
            Err(ApiError::forbidden(format!(
                "this operation needs the {ADMIN_ROLE} role"
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "0123456789abcdef0123456789abcdef";

    fn auth() -> Auth {
        Auth::new(Some(SECRET), false, Duration::from_secs(60)).expect("auth")
    }

    #[test]
    fn issued_tokens_verify_with_subject_and_roles() {
        let auth = auth();
        let caller = Caller::new("alice".into(), vec!["admin".into()]).expect("caller");
        let (token, _) = auth.issue(&caller).expect("token");
        let verified = auth.verify(&token).expect("verified");
        assert_eq!(verified, caller);
        assert!(verified.is_admin());
    }

    #[test]
    fn tokens_signed_with_another_secret_are_refused() {
        let other = Auth::new(
            Some("another-secret-another-secret-xx"),
            false,
            Duration::from_secs(60),
        )
        .expect("auth");
        let (token, _) = other
            .issue(&Caller::new("mallory".into(), vec![]).expect("caller"))
            .expect("token");
        assert!(auth().verify(&token).is_err());
        assert!(auth().verify("not-a-jwt").is_err());
    }

    #[test]
    fn expired_tokens_are_refused() {
        let claims = Claims {
            sub: "alice".into(),
            roles: vec![],
            exp: 1_000,
            iat: 900,
        };
        let token = jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &EncodingKey::from_secret(SECRET.as_bytes()),
        )
        .expect("encode");
        let err = auth().verify(&token).expect_err("expired");
        assert_eq!(err.message, "the token has expired");
    }

    #[test]
    fn short_secrets_and_missing_keys() {
        assert!(Auth::new(Some("short"), false, Duration::from_secs(1)).is_err());
        let none = Auth::new(None, false, Duration::from_secs(1)).expect("auth");
        assert!(none.verify("x").is_err());
        let dev = Auth::new(None, true, Duration::from_secs(60)).expect("auth");
        let (token, _) = dev
            .issue(&Caller::new("dev".into(), vec![]).expect("caller"))
            .expect("token");
        assert_eq!(dev.verify(&token).expect("verified").subject, "dev");
    }

    #[test]
    fn subjects_must_be_usable_as_actors() {
        assert!(Caller::new("  ".into(), vec![]).is_err());
        assert!(Caller::new("zoë".into(), vec![]).is_err());
        assert!(Caller::new("x".repeat(MAX_SUBJECT_CHARS + 1), vec![]).is_err());
        assert_eq!(
            Caller::new(" bob ".into(), vec![]).expect("caller").subject,
            "bob"
        );
    }
}
