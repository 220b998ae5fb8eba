//! The routes shaped by OAuth standards, so libraries that speak them find their way: RFC 7009
//! token revocation and RFC 8414 authorization-server metadata.
use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::error::ApiResult;
use crate::extract::{FormOrJson, Meta};
use crate::state::AppState;

/// RFC 7009 §2.1. Other parameters (a `client_id`, say) are allowed and ignored.
#[derive(Deserialize, JsonSchema)]
pub struct RevokeBody {
    /// A refresh token or an access token.
    token: String,
    /// `refresh_token` or `access_token`: which kind to try first.
    token_type_hint: Option<String>,
}

/// `POST /auth/revoke`: 200 whatever the token was (RFC 7009 §2.2), so the answer tells a
/// guesser nothing; a genuine token's session ends.
pub async fn revoke(
    State(state): State<Arc<AppState>>,
    Meta(meta): Meta,
    FormOrJson(body): FormOrJson<RevokeBody>,
) -> ApiResult<Response> {
    state
        .engine
        .revoke_token(&body.token, body.token_type_hint.as_deref(), &meta)
        .await?;
    // No body; `Cache-Control: no-store` comes from the shared security headers.
    Ok(StatusCode::OK.into_response())
}

/// RFC 8414 metadata, plus where the revocation feed is.
#[derive(Serialize, JsonSchema)]
pub struct Metadata {
    issuer: String,
    jwks_uri: String,
    introspection_endpoint: String,
    revocation_endpoint: String,
    revocation_feed_endpoint: String,
    /// Required by RFC 8414; empty, as Tessera has no authorization endpoint.
    response_types_supported: Vec<String>,
    /// Empty: Tessera has neither an authorization nor an OAuth token endpoint (its logins and
    /// refreshes are its own routes), and RFC 8414's default for an absent member would claim
    /// `authorization_code` and `implicit`.
    grant_types_supported: Vec<String>,
    /// The resource-server key as an OAuth client secret (HTTP Basic, any client id); the
    /// `X-Api-Key` header, which is no registered method, works too.
    introspection_endpoint_auth_methods_supported: Vec<&'static str>,
    /// RFC 7009 revocation needs no client authentication.
    revocation_endpoint_auth_methods_supported: Vec<&'static str>,
    /// The algorithms of DPoP proofs this server accepts (RFC 9449 §5.1).
    dpop_signing_alg_values_supported: Vec<&'static str>,
}

/// `GET /.well-known/oauth-authorization-server`.
pub async fn metadata(State(state): State<Arc<AppState>>) -> Response {
    let issuer = state
        .settings
        .engine
        .issuer
        .trim_end_matches('/')
        .to_owned();
    let at = |path: &str| format!("{issuer}{path}");
    let doc = Metadata {
        jwks_uri: at("/.well-known/jwks.json"),
        introspection_endpoint: at("/auth/introspect"),
        revocation_endpoint: at("/auth/revoke"),
        revocation_feed_endpoint: at("/auth/revocations"),
        response_types_supported: vec![],
        grant_types_supported: vec![],
        introspection_endpoint_auth_methods_supported: vec!["client_secret_basic"],
        revocation_endpoint_auth_methods_supported: vec!["none"],
        dpop_signing_alg_values_supported: state
            .settings
            .dpop
            .algorithms
            .iter()
            .map(|a| a.as_str())
            .collect(),
        issuer: state.settings.engine.issuer.clone(),
    };
    let mut res = Json(doc).into_response();
    res.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    res
}
