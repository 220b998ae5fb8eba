//! The extractors that hand a verified [`Auth`] to handlers: `Auth` and `Option<Auth>`, verified
//! once per request however many guards and extractors ask.
use axum::extract::{FromRequestParts, OptionalFromRequestParts};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;

use crate::Tessera;
use crate::error::AuthError;
use crate::identity::Auth;

/// A verification result cached in the request, so guards and extractors verify once.
#[derive(Clone)]
struct Verified(Result<Auth, AuthError>);

/// Verifies the request's token once (guards and extractors share the result).
pub(crate) async fn authenticate(parts: &mut Parts) -> Result<Auth, AuthError> {
    if let Some(Verified(done)) = parts.extensions.get::<Verified>() {
        return done.clone();
    }
    let tessera = parts
        .extensions
        .get::<Tessera>()
        .cloned()
        .ok_or(AuthError::LayerMissing)?;
    let result = tessera
        .authenticate_request(
            &parts.method,
            parts.uri.path(),
            parts.headers.get(AUTHORIZATION),
            parts.headers.get("dpop"),
        )
        .await;
    parts.extensions.insert(Verified(result.clone()));
    result
}

impl<S: Send + Sync> FromRequestParts<S> for Auth {
    type Rejection = AuthError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, AuthError> {
        authenticate(parts).await
    }
}

impl<S: Send + Sync> OptionalFromRequestParts<S> for Auth {
    type Rejection = AuthError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Option<Self>, AuthError> {
        let header = parts.headers.get(AUTHORIZATION).map(|v| v.as_bytes());
        if tessera_token::bearer_credential(header) == tessera_token::Credential::Missing {
            return Ok(None);
        }
        authenticate(parts).await.map(Some)
    }
}
