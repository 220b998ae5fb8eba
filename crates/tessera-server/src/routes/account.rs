//! The signed-in user's own account: who am I, my sessions, my password.
use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use schemars::JsonSchema;
use serde::Deserialize;
use tessera_core::engine::accounts::PasswordChange;

use crate::error::{ApiError, ApiResult};
use crate::extract::{Bearer, JsonBody, Meta, PathParam, QueryParams, bearer_token};
use crate::state::AppState;
use crate::views::{MeView, Reauthenticated, Revoked, SessionList, SessionView, UserView};

pub async fn me(State(state): State<Arc<AppState>>, Bearer(p): Bearer) -> ApiResult<Json<MeView>> {
    let (user, session) = state.engine.me(&p).await?;
    Ok(Json(MeView {
        user: UserView::from(&user),
        session: SessionView::new(&session, true),
    }))
}

pub async fn list_sessions(
    State(state): State<Arc<AppState>>,
    Bearer(p): Bearer,
) -> ApiResult<Json<SessionList>> {
    let sessions = state.engine.sessions(&p).await?;
    let views: Vec<_> = sessions
        .iter()
        .map(|s| SessionView::new(s, s.id == p.session_id))
        .collect();
    Ok(Json(SessionList { sessions: views }))
}

pub async fn revoke_session(
    State(state): State<Arc<AppState>>,
    Bearer(p): Bearer,
    Meta(meta): Meta,
    PathParam(id): PathParam,
) -> ApiResult<StatusCode> {
    let id = uuid::Uuid::parse_str(&id).map_err(|_| ApiError::not_found())?;
    state.engine.revoke_own_session(&p, id, &meta).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RevokeAllQuery {
    keep_current: Option<bool>,
}

pub async fn revoke_sessions(
    State(state): State<Arc<AppState>>,
    Bearer(p): Bearer,
    Meta(meta): Meta,
    QueryParams(q): QueryParams<RevokeAllQuery>,
) -> ApiResult<Json<Revoked>> {
    let revoked = state
        .engine
        .revoke_own_sessions(&p, q.keep_current.unwrap_or(false), &meta)
        .await?;
    Ok(Json(Revoked {
        revoked: revoked as u64,
    }))
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordBody {
    #[schemars(length(min = 3, max = 320))]
    email: Option<String>,
    current_password: String,
    new_password: String,
}

/// With an access token: change it and revoke the user's other sessions. Without: by email and
/// current password (the way out of `password_expired`), revoking every session.
pub async fn change_password(
    State(state): State<Arc<AppState>>,
    Meta(meta): Meta,
    headers: HeaderMap,
    JsonBody(body): JsonBody<PasswordBody>,
) -> ApiResult<StatusCode> {
    let principal = match bearer_token(&headers)? {
        Some(token) => Some(state.engine.verify_access(token)?),
        None => None,
    };
    let change = PasswordChange {
        email: body.email,
        current_password: body.current_password,
        new_password: body.new_password,
    };
    state
        .engine
        .change_password(principal.as_deref(), change, &meta)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The password (and a code, for a user with a second factor), or a passkey assertion.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReauthenticateBody {
    password: Option<String>,
    /// A TOTP code or a recovery code: required with a password for a user with a second factor.
    #[schemars(length(max = 64))]
    code: Option<String>,
    /// A passkey instead: the ceremony of `POST /auth/passkeys/login/options`...
    #[schemars(length(max = 64))]
    ceremony_id: Option<String>,
    /// ...and its `AuthenticationResponseJSON`.
    credential: Option<serde_json::Map<String, serde_json::Value>>,
}

/// `POST /auth/reauthenticate` (RFC 9470 step-up): the password again, for a token of this
/// session with a fresh `auth_time`. Failures count like failed logins.
pub async fn reauthenticate(
    State(state): State<Arc<AppState>>,
    Bearer(p): Bearer,
    Meta(meta): Meta,
    JsonBody(b): JsonBody<ReauthenticateBody>,
) -> ApiResult<Json<Reauthenticated>> {
    let r = match (b.password, b.ceremony_id, b.credential) {
        (Some(password), None, None) => {
            state
                .engine
                .reauthenticate(&p, password, b.code, &meta)
                .await?
        }
        (None, Some(id), Some(credential)) if b.code.is_none() => {
            let id = super::passkeys::ceremony_id(&id)?;
            state
                .engine
                .reauthenticate_with_passkey(&p, id, credential.into(), &meta)
                .await?
        }
        _ => {
            return Err(tessera_core::Error::InvalidRequest(
                "send {password, code?} or {ceremony_id, credential}",
            )
            .into());
        }
    };
    Ok(Json(Reauthenticated {
        access_token: r.access_token.expose().clone(),
        expires_in: r.expires_in,
        access_expires_at: crate::views::rfc3339_secs(r.access_expires_at),
        auth_time: r.auth_time,
    }))
}
