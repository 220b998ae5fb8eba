//! Register, login, refresh, logout.
use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use schemars::JsonSchema;
use serde::Deserialize;
use tessera_core::Issued;
use tessera_core::engine::accounts::Credentials;

use crate::config::Transport;
use crate::cookies;
use crate::dpop::Binding;
use crate::error::{ApiError, ApiResult};
use crate::extract::{JsonBody, Meta, OptionalJsonBody, bearer_token, cookie};
use crate::state::AppState;
use crate::views::token_response;

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CredentialsBody {
    #[schemars(length(min = 3, max = 320))]
    email: String,
    password: String,
    #[schemars(regex(pattern = r"^[A-Za-z0-9_.-]{1,64}$"))]
    namespace: Option<String>,
    transport: Option<TransportName>,
}

#[derive(Deserialize, Clone, Copy, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum TransportName {
    Body,
    Cookie,
}

impl TransportName {
    /// The transport asked for, or the server's default; and its name for the engine.
    pub fn resolve(name: Option<Self>, state: &AppState) -> (Transport, &'static str) {
        match name {
            Some(TransportName::Body) => (Transport::Body, "body"),
            Some(TransportName::Cookie) => (Transport::Cookie, "cookie"),
            None => match state.settings.cookies.default_transport {
                Transport::Body => (Transport::Body, "body"),
                Transport::Cookie => (Transport::Cookie, "cookie"),
            },
        }
    }
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshBody {
    refresh_token: Option<String>,
}

impl CredentialsBody {
    fn split(self, state: &AppState, binding: Binding) -> (Credentials, Transport) {
        let (transport, name) = TransportName::resolve(self.transport, state);
        let creds = Credentials {
            email: self.email,
            password: self.password,
            namespace: self.namespace,
            transport: name.into(),
            dpop_jkt: binding.0,
        };
        (creds, transport)
    }
}

pub async fn register(
    State(state): State<Arc<AppState>>,
    Meta(meta): Meta,
    binding: Binding,
    JsonBody(body): JsonBody<CredentialsBody>,
) -> ApiResult<Response> {
    let (creds, transport) = body.split(&state, binding);
    let issued = state.engine.register(creds, &meta).await?;
    Ok(respond(&state, StatusCode::CREATED, &issued, transport))
}

pub async fn login(
    State(state): State<Arc<AppState>>,
    Meta(meta): Meta,
    binding: Binding,
    JsonBody(body): JsonBody<CredentialsBody>,
) -> ApiResult<Response> {
    let (creds, transport) = body.split(&state, binding);
    let issued = state.engine.login(creds, &meta).await?;
    Ok(respond(&state, StatusCode::OK, &issued, transport))
}

pub async fn refresh(
    State(state): State<Arc<AppState>>,
    Meta(meta): Meta,
    binding: Binding,
    headers: HeaderMap,
    OptionalJsonBody(body): OptionalJsonBody<RefreshBody>,
) -> ApiResult<Response> {
    let (token, transport) = refresh_credential(&state, &headers, body)?.ok_or_else(|| {
        ApiError::from(tessera_core::Error::InvalidRefreshToken).detail("no refresh token was sent")
    })?;
    let issued = state
        .engine
        .refresh_with_proof(&token, binding.0.as_deref(), &meta)
        .await?;
    Ok(respond(&state, StatusCode::OK, &issued, transport))
}

/// Ends the session named by the access token (expired is fine, if genuine) or by the refresh
/// credential. Idempotent; always clears the cookies.
pub async fn logout(
    State(state): State<Arc<AppState>>,
    Meta(meta): Meta,
    headers: HeaderMap,
    OptionalJsonBody(body): OptionalJsonBody<RefreshBody>,
) -> ApiResult<Response> {
    if let Some(token) = bearer_token(&headers)? {
        let principal = state.engine.verify_for_logout(token)?;
        state.engine.logout(&principal, &meta).await?;
    } else if let Some((token, _)) = refresh_credential(&state, &headers, body)? {
        state.engine.logout_refresh(&token, &meta).await?;
    } else {
        return Err(ApiError::missing_token());
    }
    let mut res = StatusCode::NO_CONTENT.into_response();
    cookies::clear(res.headers_mut(), &state.settings.cookies);
    Ok(res)
}

/// The refresh token from the body, `X-Refresh-Token`, or the cookie (in that order). The cookie
/// is a credential the browser sends by itself, so it also needs the session's CSRF token.
fn refresh_credential(
    state: &AppState,
    headers: &HeaderMap,
    body: Option<RefreshBody>,
) -> ApiResult<Option<(String, Transport)>> {
    if let Some(token) = body.and_then(|b| b.refresh_token) {
        return Ok(Some((token, Transport::Body)));
    }
    if let Some(v) = headers.get("x-refresh-token") {
        let token = v
            .to_str()
            .map_err(|_| ApiError::from(tessera_core::Error::InvalidRefreshToken))?;
        return Ok(Some((token.trim().to_owned(), Transport::Body)));
    }
    let Some(token) = cookie(headers, &state.settings.cookies.refresh_name) else {
        return Ok(None);
    };
    let session_id = state.engine.refresh_token_session(token)?;
    let csrf = headers.get("x-csrf-token").and_then(|v| v.to_str().ok());
    state.engine.check_csrf(session_id, csrf)?;
    Ok(Some((token.to_owned(), Transport::Cookie)))
}

pub(super) fn respond(
    state: &AppState,
    status: StatusCode,
    issued: &Issued,
    transport: Transport,
) -> Response {
    let body = token_response(issued, transport == Transport::Body);
    let mut res = (status, axum::Json(body)).into_response();
    if transport == Transport::Cookie {
        let max_age = (issued.refresh_expires_at - state.engine.now_ms()) / 1000;
        cookies::set(
            res.headers_mut(),
            &state.settings.cookies,
            issued.refresh_token.expose(),
            issued.csrf_token.expose(),
            max_age,
        );
    }
    res
}
