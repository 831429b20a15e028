//! Who is calling, at every door: HS256 bearer tokens with a subject and roles, verified the same
//! way by the gateway (HTTP) and by both gRPC services, and a tower layer that does it for gRPC.
//!
//! Owns [`Claims`], [`Caller`], [`TokenKeys`] (verify and issue), the role names and
//! [`GrpcAuthLayer`]. Must not depend on any store, broker or domain crate, nor on the project's
//! error-code table: the layer asks its service to word a refusal ([`Rejection`] → `Status`), so
//! the one table stays in the proto crate.
//!
//! Why every service verifies: the network is not part of the trust model (DESIGN.md, "Who may do
//! what"). A process that can reach a gRPC port must still prove who it is; no header names a user
//! on trust, and the actor of a command is the token's subject.

use std::{
    fmt,
    sync::Arc,
    task::{Context, Poll},
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use tonic::codegen::http;

/// HS256 keys shorter than the hash output weaken the signature (RFC 7518, section 3.2).
pub const MIN_SECRET_BYTES: usize = 32;

/// The longest subject, in characters: the domain's bound on actor names (kept equal by a test in
/// the gateway, which sees both crates).
pub const MAX_SUBJECT_CHARS: usize = 128;

/// May read and change customers and orders, and read reports.
pub const STAFF_ROLE: &str = "staff";
/// May do everything, including dead letters and rebuilds.
pub const ADMIN_ROLE: &str = "admin";
/// Internal calls between services (a rebuild reading the whole event store).
pub const SERVICE_ROLE: &str = "service";

/// Why a secret cannot sign tokens.
#[derive(Debug, thiserror::Error)]
#[error("the token secret must be at least {MIN_SECRET_BYTES} bytes")]
pub struct SecretTooShort;

/// The claims of every token: who (`sub`), with which roles, until when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// The user or service; the actor of every command it sends.
    pub sub: String,
    /// Roles, e.g. `staff`, `admin`, `service`.
    #[serde(default)]
    pub roles: Vec<String>,
    /// Expiry, seconds since the Unix epoch.
    pub exp: u64,
    /// Issue time, seconds since the Unix epoch.
    #[serde(default)]
    pub iat: u64,
}

/// An authenticated caller: a token's subject and roles.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The actor of the caller's commands.
    pub subject: String,
    pub roles: Vec<String>,
}

impl Caller {
    /// A caller whose subject is usable as an actor and as gRPC metadata (visible ASCII).
    pub fn new(subject: impl Into<String>, roles: Vec<String>) -> Result<Self, &'static str> {
        let subject = subject.into().trim().to_owned();
        if subject.is_empty() {
            return Err("must not be blank");
        }
        if subject.chars().count() > MAX_SUBJECT_CHARS {
            return Err("is too long");
        }
        if !subject.chars().all(|c| c.is_ascii_graphic() || c == ' ') {
            return Err("must be printable ASCII");
        }
        Ok(Self { subject, roles })
    }

    pub fn has_role(&self, role: &str) -> bool {
        self.roles.iter().any(|r| r == role)
    }

    pub fn is_admin(&self) -> bool {
        self.has_role(ADMIN_ROLE)
    }

    /// Staff, or an admin (who may do everything staff may).
    pub fn is_staff(&self) -> bool {
        self.has_role(STAFF_ROLE) || self.is_admin()
    }
}

/// Why a request's credentials were refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("this call needs a bearer token")]
    Missing,
    #[error("expected authorization: Bearer <token>")]
    Malformed,
    #[error("the token has expired")]
    Expired,
    /// Forged, signed with another secret, `alg: none`, or not a JWT at all.
    #[error("the token is not valid")]
    Invalid,
    #[error("the token's subject {0}")]
    BadSubject(&'static str),
    #[error("authentication is not configured on this service")]
    NotConfigured,
}

/// The keys of the shared HS256 secret: verify everywhere, issue where allowed.
#[derive(Clone)]
pub struct TokenKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
}

impl fmt::Debug for TokenKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TokenKeys(..)")
    }
}

impl TokenKeys {
    pub fn from_secret(secret: &[u8]) -> Result<Self, SecretTooShort> {
        if secret.len() < MIN_SECRET_BYTES {
            return Err(SecretTooShort);
        }
        // Only HS256 is accepted: `alg: none` or an RSA/HMAC confusion fails validation.
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_required_spec_claims(&["exp", "sub"]);
        validation.leeway = 30;
        Ok(Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
        })
    }

    /// The caller a token names, or why it is refused.
    pub fn verify(&self, token: &str) -> Result<Caller, TokenError> {
        use jsonwebtoken::errors::ErrorKind;
        let claims = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map_err(|e| match e.kind() {
                ErrorKind::ExpiredSignature => TokenError::Expired,
                _ => TokenError::Invalid,
            })?
            .claims;
        Caller::new(claims.sub, claims.roles).map_err(TokenError::BadSubject)
    }

    /// A token for `caller` that expires after `ttl`, with its expiry (seconds since the epoch).
    pub fn issue(&self, caller: &Caller, ttl: Duration) -> Result<(String, u64), TokenError> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_err(|_| TokenError::NotConfigured)?
            .as_secs();
        let exp = now + ttl.as_secs().max(1);
        let claims = Claims {
            sub: caller.subject.clone(),
            roles: caller.roles.clone(),
            exp,
            iat: now,
        };
        let token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(|_| TokenError::Invalid)?;
        Ok((token, exp))
    }
}

/// The token of an `authorization` header value: `None` when absent, an error when not bearer.
pub fn bearer_token(value: Option<&[u8]>) -> Result<Option<&str>, TokenError> {
    let Some(value) = value else {
        return Ok(None);
    };
    std::str::from_utf8(value)
        .ok()
        .and_then(|v| {
            let (scheme, token) = v.trim().split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
        })
        .filter(|token| !token.is_empty())
        .map(Some)
        .ok_or(TokenError::Malformed)
}

/// What a gRPC method needs from its caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone (health, reflection, public reads). A token that is sent is still verified, so a
    /// public read can know its caller, and a bad token is refused rather than ignored.
    Public,
    /// Any valid token.
    SignedIn,
    /// A valid token with at least one of these roles.
    AnyRole(&'static [&'static str]),
}

/// Why the layer refused a call, for the service to word as a gRPC status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rejection {
    /// UNAUTHENTICATED: no usable token.
    Unauthenticated(TokenError),
    /// PERMISSION_DENIED: a valid token without a needed role.
    PermissionDenied { needs: &'static [&'static str] },
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Rejection::Unauthenticated(error) => error.fmt(f),
            Rejection::PermissionDenied { needs } => {
                write!(f, "this call needs the role {}", needs.join(" or "))
            }
        }
    }
}

/// Decides what a call needs from its full gRPC path (`/package.Service/Method`).
pub type Policy = fn(&str) -> Access;
/// Words a refusal as the service's gRPC status (with its error details).
pub type Reject = fn(&Rejection) -> tonic::Status;

/// A tower layer for a tonic server: verifies the bearer token of every call against the
/// service's [`Policy`] and puts the [`Caller`] into the request's extensions, where handlers
/// read it ([`caller`]).
#[derive(Clone)]
pub struct GrpcAuthLayer {
    keys: Option<Arc<TokenKeys>>,
    policy: Policy,
    reject: Reject,
}

impl GrpcAuthLayer {
    /// `keys` is `None` when no secret is configured: then only [`Access::Public`] calls without
    /// a token pass, and everything else is refused as not configured.
    pub fn new(keys: Option<Arc<TokenKeys>>, policy: Policy, reject: Reject) -> Self {
        Self {
            keys,
            policy,
            reject,
        }
    }

    fn check<B>(&self, request: &http::Request<B>) -> Result<Option<Caller>, Rejection> {
        let access = (self.policy)(request.uri().path());
        let header = request
            .headers()
            .get(http::header::AUTHORIZATION)
            .map(http::HeaderValue::as_bytes);
        let token = bearer_token(header).map_err(Rejection::Unauthenticated)?;
        let caller = match (token, &self.keys) {
            (None, _) => None,
            (Some(_), None) => return Err(Rejection::Unauthenticated(TokenError::NotConfigured)),
            (Some(token), Some(keys)) => {
                Some(keys.verify(token).map_err(Rejection::Unauthenticated)?)
            }
        };
        match (access, &caller) {
            (Access::Public, _) => Ok(caller),
            (_, None) if self.keys.is_none() => {
                Err(Rejection::Unauthenticated(TokenError::NotConfigured))
            }
            (_, None) => Err(Rejection::Unauthenticated(TokenError::Missing)),
            (Access::SignedIn, Some(_)) => Ok(caller),
            (Access::AnyRole(needs), Some(found)) => {
                if needs.iter().any(|role| found.has_role(role)) {
                    Ok(caller)
                } else {
                    Err(Rejection::PermissionDenied { needs })
                }
            }
        }
    }
}

impl<S> tower::Layer<S> for GrpcAuthLayer {
    type Service = GrpcAuth<S>;

    fn layer(&self, inner: S) -> Self::Service {
        GrpcAuth {
            inner,
            layer: self.clone(),
        }
    }
}

/// The service [`GrpcAuthLayer`] wraps around a tonic server.
#[derive(Clone)]
pub struct GrpcAuth<S> {
    inner: S,
    layer: GrpcAuthLayer,
}

impl<S, B, R> tower::Service<http::Request<B>> for GrpcAuth<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<R>>,
    S::Future: Send + 'static,
    R: Default,
{
    type Response = http::Response<R>;
    type Error = S::Error;
    type Future =
        futures::future::Either<S::Future, std::future::Ready<Result<http::Response<R>, S::Error>>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: http::Request<B>) -> Self::Future {
        match self.layer.check(&request) {
            Ok(caller) => {
                if let Some(caller) = caller {
                    request.extensions_mut().insert(caller);
                }
                futures::future::Either::Left(self.inner.call(request))
            }
            Err(rejection) => {
                let status = (self.layer.reject)(&rejection);
                let (parts, ()) = status.into_http::<()>().into_parts();
                futures::future::Either::Right(std::future::ready(Ok(http::Response::from_parts(
                    parts,
                    R::default(),
                ))))
            }
        }
    }
}

/// The caller [`GrpcAuthLayer`] verified for this request, if it sent a token.
pub fn caller<T>(request: &tonic::Request<T>) -> Option<&Caller> {
    request.extensions().get::<Caller>()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

    fn keys() -> TokenKeys {
        TokenKeys::from_secret(SECRET).expect("keys")
    }

    fn token(subject: &str, roles: &[&str]) -> String {
        let caller =
            Caller::new(subject, roles.iter().map(|r| (*r).to_owned()).collect()).expect("caller");
        keys()
            .issue(&caller, Duration::from_secs(60))
            .expect("token")
            .0
    }

    fn signed(claims: &Claims, secret: &[u8], alg: Algorithm) -> String {
        jsonwebtoken::encode(&Header::new(alg), claims, &EncodingKey::from_secret(secret))
            .expect("encode")
    }

    fn claims(exp: u64) -> Claims {
        Claims {
            sub: "alice".into(),
            roles: vec!["admin".into()],
            exp,
            iat: 0,
        }
    }

    fn in_an_hour() -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs()
            + 3600
    }

    #[test]
    fn issued_tokens_verify_with_subject_and_roles() {
        let verified = keys()
            .verify(&token("alice", &["staff"]))
            .expect("verified");
        assert_eq!(verified.subject, "alice");
        assert!(verified.is_staff() && !verified.is_admin());
        let admin = keys().verify(&token("root", &["admin"])).expect("verified");
        assert!(admin.is_staff(), "an admin may do what staff may");
    }

    #[test]
    fn forged_expired_and_unsigned_tokens_are_refused() {
        let other = signed(
            &claims(in_an_hour()),
            b"another-secret-another-secret-xx",
            Algorithm::HS256,
        );
        assert_eq!(keys().verify(&other), Err(TokenError::Invalid));
        let expired = signed(&claims(1_000), SECRET, Algorithm::HS256);
        assert_eq!(keys().verify(&expired), Err(TokenError::Expired));
        let hs512 = signed(&claims(in_an_hour()), SECRET, Algorithm::HS512);
        assert_eq!(keys().verify(&hs512), Err(TokenError::Invalid));
        // alg: none, as an attacker writes it by hand: header.payload. with no signature.
        let header = base64url(br#"{"alg":"none","typ":"JWT"}"#);
        let payload = base64url(
            format!(
                r#"{{"sub":"alice","roles":["admin"],"exp":{}}}"#,
                in_an_hour()
            )
            .as_bytes(),
        );
        let unsigned = format!("{header}.{payload}.");
        assert_eq!(keys().verify(&unsigned), Err(TokenError::Invalid));
        assert_eq!(keys().verify("not-a-jwt"), Err(TokenError::Invalid));
    }

    fn base64url(bytes: &[u8]) -> String {
        use base64::Engine;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    }

    #[test]
    fn short_secrets_are_refused() {
        assert!(TokenKeys::from_secret(b"short").is_err());
    }

    #[test]
    fn subjects_must_be_usable_as_actors() {
        assert!(Caller::new("  ", vec![]).is_err());
        assert!(Caller::new("zoë", vec![]).is_err());
        assert!(Caller::new("x".repeat(MAX_SUBJECT_CHARS + 1), vec![]).is_err());
        assert_eq!(Caller::new(" bob ", vec![]).expect("caller").subject, "bob");
    }

    #[test]
    fn bearer_headers() {
        assert_eq!(bearer_token(None), Ok(None));
        assert_eq!(bearer_token(Some(b"Bearer abc")), Ok(Some("abc")));
        assert_eq!(bearer_token(Some(b"bearer  abc ")), Ok(Some("abc")));
        assert_eq!(bearer_token(Some(b"Basic abc")), Err(TokenError::Malformed));
        assert_eq!(bearer_token(Some(b"Bearer ")), Err(TokenError::Malformed));
        assert_eq!(bearer_token(Some(b"\xff")), Err(TokenError::Malformed));
    }

    fn policy(path: &str) -> Access {
        match path {
            "/admin" => Access::AnyRole(&[ADMIN_ROLE]),
            "/store" => Access::AnyRole(&[ADMIN_ROLE, SERVICE_ROLE]),
            "/write" => Access::SignedIn,
            _ => Access::Public,
        }
    }

    fn reject(rejection: &Rejection) -> tonic::Status {
        match rejection {
            Rejection::Unauthenticated(e) => tonic::Status::unauthenticated(e.to_string()),
            Rejection::PermissionDenied { .. } => {
                tonic::Status::permission_denied(rejection.to_string())
            }
        }
    }

    fn check(path: &str, token: Option<&str>) -> Result<Option<String>, Rejection> {
        let layer = GrpcAuthLayer::new(Some(Arc::new(keys())), policy, reject);
        let mut request = http::Request::builder().uri(path);
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        layer
            .check(&request.body(()).expect("request"))
            .map(|caller| caller.map(|c| c.subject))
    }

    #[test]
    fn the_layer_follows_the_policy() {
        let user = token("bob", &[]);
        let admin = token("root", &["admin"]);
        let service = token("query-service", &["service"]);
        assert_eq!(check("/read", None), Ok(None));
        assert_eq!(check("/read", Some(&user)), Ok(Some("bob".into())));
        assert_eq!(
            check("/read", Some("garbage")),
            Err(Rejection::Unauthenticated(TokenError::Invalid))
        );
        assert_eq!(
            check("/write", None),
            Err(Rejection::Unauthenticated(TokenError::Missing))
        );
        assert_eq!(check("/write", Some(&user)), Ok(Some("bob".into())));
        assert!(matches!(
            check("/admin", Some(&user)),
            Err(Rejection::PermissionDenied { .. })
        ));
        assert_eq!(check("/admin", Some(&admin)), Ok(Some("root".into())));
        assert_eq!(
            check("/store", Some(&service)),
            Ok(Some("query-service".into()))
        );
        assert!(matches!(
            check("/admin", Some(&service)),
            Err(Rejection::PermissionDenied { .. })
        ));
    }

    #[tokio::test]
    async fn a_refused_call_never_reaches_the_service() {
        use tower::{Layer, ServiceExt};
        let reached = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let seen = reached.clone();
        let inner = tower::service_fn(move |_: http::Request<()>| {
            seen.store(true, std::sync::atomic::Ordering::SeqCst);
            async { Ok::<_, std::convert::Infallible>(http::Response::new(String::new())) }
        });
        let service = GrpcAuthLayer::new(Some(Arc::new(keys())), policy, reject).layer(inner);
        let request = http::Request::builder()
            .uri("/admin")
            .body(())
            .expect("request");
        let response = service.oneshot(request).await.expect("response");
        assert_eq!(
            response.headers().get("grpc-status").map(|v| v.as_bytes()),
            Some(b"16".as_slice()),
            "UNAUTHENTICATED"
        );
        assert!(!reached.load(std::sync::atomic::Ordering::SeqCst));
    }
}
