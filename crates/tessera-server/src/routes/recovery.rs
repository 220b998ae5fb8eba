//! Account recovery and email verification (API.md §7). The tokens travel in a link's fragment
//! and come back in these POST bodies only.
use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use tessera_core::model::email_kind;

use crate::error::{ApiError, ApiResult};
use crate::extract::{Bearer, JsonBody, Meta, PathParam};
use crate::state::AppState;
use crate::views::{Status, rfc3339_ms};

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ForgotBody {
    #[schemars(length(max = 320))]
    email: String,
}

/// `POST /auth/password/forgot`: 202 and the same body whatever the email. The lookup and the
/// mail happen after the answer, so the answer's timing says nothing either.
pub async fn forgot(
    State(state): State<Arc<AppState>>,
    Meta(meta): Meta,
    JsonBody(b): JsonBody<ForgotBody>,
) -> ApiResult<(StatusCode, Json<Status>)> {
    if b.email.chars().count() > 320 {
        return Err(ApiError::bad_request("email is longer than 320 characters"));
    }
    state.engine.forgot_password_check(&meta).await?;
    let worker = state.clone();
    tokio::spawn(async move {
        if let Err(e) = worker.engine.send_reset(&b.email, &meta).await {
            tracing::warn!(error = %e, "reset mail not queued");
        }
    });
    Ok((StatusCode::ACCEPTED, Json(Status { status: "accepted" })))
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ResetBody {
    /// The `reset_token` of the link's fragment.
    token: String,
    new_password: String,
}

/// `POST /auth/password/reset`: 204; every session of the user ends.
pub async fn reset(
    State(state): State<Arc<AppState>>,
    Meta(meta): Meta,
    JsonBody(b): JsonBody<ResetBody>,
) -> ApiResult<StatusCode> {
    state
        .engine
        .reset_password(&b.token, b.new_password, &meta)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /auth/email/verify/send`: 202; at most one mail a minute.
pub async fn send_verification(
    State(state): State<Arc<AppState>>,
    Bearer(p): Bearer,
    Meta(meta): Meta,
) -> ApiResult<(StatusCode, Json<Status>)> {
    state.engine.send_verification(&p, &meta).await?;
    Ok((StatusCode::ACCEPTED, Json(Status { status: "accepted" })))
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct VerifyBody {
    /// The `verify_token` of the link's fragment.
    token: String,
}

/// `POST /auth/email/verify`: 204; the email is verified.
pub async fn verify(
    State(state): State<Arc<AppState>>,
    Meta(meta): Meta,
    JsonBody(b): JsonBody<VerifyBody>,
) -> ApiResult<StatusCode> {
    state.engine.verify_email(&b.token, &meta).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A token for an app that sends its own mail.
#[derive(Serialize, JsonSchema)]
pub struct EmailTokenView {
    token: String,
    expires_at: String,
}

async fn admin_token(
    state: &AppState,
    raw: &str,
    kind: &str,
    meta: &tessera_core::RequestMeta,
) -> ApiResult<(StatusCode, Json<EmailTokenView>)> {
    let id = uuid::Uuid::parse_str(raw).map_err(|_| ApiError::not_found())?;
    let t = state.engine.admin_email_token(id, kind, meta).await?;
    Ok((
        StatusCode::CREATED,
        Json(EmailTokenView {
            token: t.token.expose().clone(),
            expires_at: rfc3339_ms(t.expires_at),
        }),
    ))
}

/// `POST /admin/users/{id}/reset-token`.
pub async fn admin_reset_token(
    State(state): State<Arc<AppState>>,
    Meta(meta): Meta,
    PathParam(raw): PathParam,
) -> ApiResult<(StatusCode, Json<EmailTokenView>)> {
    admin_token(&state, &raw, email_kind::RESET, &meta).await
}

/// `POST /admin/users/{id}/verify-token`.
pub async fn admin_verify_token(
    State(state): State<Arc<AppState>>,
    Meta(meta): Meta,
    PathParam(raw): PathParam,
) -> ApiResult<(StatusCode, Json<EmailTokenView>)> {
    admin_token(&state, &raw, email_kind::VERIFY, &meta).await
}
