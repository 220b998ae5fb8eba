//! Why a request was refused, as problem+json (RFC 9457) with `WWW-Authenticate` (RFC 6750,
//! RFC 9470): the same codes and shape as Tessera's own answers (API.md §2).
use std::fmt;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// Why a request was refused. Every variant answers as `application/problem+json` with a stable
/// `code`; none of them ever carries the token or any part of it.
///
/// ```
/// use axum::response::IntoResponse;
/// let res = tessera_axum::AuthError::SessionRevoked.into_response();
/// assert_eq!(res.status(), 401);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum AuthError {
    /// No `Authorization: Bearer` header (a header of another scheme counts as none).
    MissingToken,
    /// Not a token of this Tessera as presented: bad signature, wrong `alg`, `kid`, `typ`,
    /// `iss` or `aud`, garbage.
    InvalidToken,
    /// Past `exp`: the client should refresh.
    TokenExpired,
    /// The token's session was revoked (logout, ban, detected theft, ...): the user must sign in.
    SessionRevoked,
    /// The token lacks a role or permission this route needs (403).
    InsufficientScope {
        /// What was missing, for example `permission admin`.
        needed: String,
    },
    /// The user last proved a credential longer ago than this route allows (RFC 9470).
    InsufficientUserAuthentication {
        /// The route's bound, in seconds.
        max_age: u64,
    },
    /// The session's assurance (`acr`) is below what this route needs, e.g. `aal2` (RFC 9470).
    InsufficientAssurance {
        /// The level needed.
        acr: String,
    },
    /// A DPoP-bound token without a good proof by its key, or the `DPoP` scheme with a token
    /// that is not bound (RFC 9449 §7).
    InvalidDpopProof {
        /// Why, for the problem's `detail`.
        why: &'static str,
    },
    /// The verifier cannot vouch for a token now: keys or revocations not loaded yet, or the
    /// revocation feed unheard-of for longer than the configured bound (503).
    Unavailable,
    /// A guard or extractor ran without [`Tessera::layer`](crate::Tessera::layer) on the
    /// router: a programming error, answered 500.
    LayerMissing,
}

impl AuthError {
    /// The HTTP status this error answers with.
    pub fn status(&self) -> StatusCode {
        match self {
            AuthError::InsufficientScope { .. } => StatusCode::FORBIDDEN,
            AuthError::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            AuthError::LayerMissing => StatusCode::INTERNAL_SERVER_ERROR,
            _ => StatusCode::UNAUTHORIZED,
        }
    }

    /// The stable machine-readable code (API.md §2).
    pub fn code(&self) -> &'static str {
        match self {
            AuthError::MissingToken => "missing_token",
            AuthError::InvalidToken => "invalid_token",
            AuthError::TokenExpired => "token_expired",
            AuthError::SessionRevoked => "session_revoked",
            AuthError::InsufficientScope { .. } => "insufficient_scope",
            AuthError::InsufficientUserAuthentication { .. }
            | AuthError::InsufficientAssurance { .. } => "insufficient_user_authentication",
            AuthError::InvalidDpopProof { .. } => "invalid_dpop_proof",
            AuthError::Unavailable => "unavailable",
            AuthError::LayerMissing => "internal",
        }
    }

    fn title(&self) -> &'static str {
        match self {
            AuthError::MissingToken => "An access token is required",
            AuthError::InvalidToken => "The access token is not valid",
            AuthError::TokenExpired => "The access token has expired",
            AuthError::SessionRevoked => "The session has been revoked",
            AuthError::InsufficientScope { .. } => "The access token does not allow this",
            AuthError::InsufficientUserAuthentication { .. } => {
                "A more recent authentication is required"
            }
            AuthError::InsufficientAssurance { .. } => "A stronger authentication is required",
            AuthError::InvalidDpopProof { .. } => "Invalid DPoP proof",
            AuthError::Unavailable => "Tokens cannot be checked right now",
            AuthError::LayerMissing => "Authentication is not set up on this route",
        }
    }

    fn challenge(&self) -> Option<String> {
        let code = self.code();
        match self {
            AuthError::Unavailable | AuthError::LayerMissing => None,
            AuthError::InsufficientScope { .. } => Some(format!(
                "Bearer error=\"insufficient_scope\", error_description=\"{code}\""
            )),
            AuthError::InsufficientUserAuthentication { max_age } => Some(format!(
                "Bearer error=\"insufficient_user_authentication\", \
                 error_description=\"A more recent authentication is required\", max_age={max_age}"
            )),
            AuthError::InsufficientAssurance { acr } => Some(format!(
                "Bearer error=\"insufficient_user_authentication\", \
                 error_description=\"A stronger authentication is required\", acr_values=\"{acr}\""
            )),
            AuthError::InvalidDpopProof { .. } => {
                Some("DPoP error=\"invalid_dpop_proof\", algs=\"ES256 EdDSA Ed25519\"".to_owned())
            }
            _ => Some(format!(
                "Bearer error=\"invalid_token\", error_description=\"{code}\""
            )),
        }
    }
}

impl fmt::Display for AuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl std::error::Error for AuthError {}

impl IntoResponse for AuthError {
    fn into_response(self) -> Response {
        let code = self.code();
        let mut body = serde_json::json!({
            "type": format!("urn:tessera:problem:{code}"),
            "status": self.status().as_u16(),
            "code": code,
            "title": self.title(),
        });
        match &self {
            AuthError::InsufficientScope { needed } => {
                body["detail"] = format!("needs {needed}").into()
            }
            AuthError::InsufficientUserAuthentication { max_age } => {
                body["detail"] =
                    format!("sign in again: this needs an authentication within {max_age} s").into()
            }
            AuthError::InsufficientAssurance { acr } => {
                body["detail"] =
                    format!("this needs a session of assurance {acr}: sign in with a second factor")
                        .into()
            }
            AuthError::InvalidDpopProof { why } => body["detail"] = (*why).into(),
            _ => {}
        }
        let mut res = (self.status(), body.to_string()).into_response();
        let h = res.headers_mut();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if let Some(v) = self
            .challenge()
            .and_then(|c| HeaderValue::from_str(&c).ok())
        {
            h.insert(header::WWW_AUTHENTICATE, v);
        }
        if self == AuthError::Unavailable {
            h.insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
        }
        res
    }
}
