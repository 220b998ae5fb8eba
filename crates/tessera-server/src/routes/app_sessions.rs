//! Sessions for apps (API.md §8): `POST /admin/sessions` for a user the app authenticated
//! itself, and `PUT /admin/users/{id}/claims`. Both need the admin key (the admin router checks
//! it before anything else).
use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Map, Value};
use tessera_core::engine::app_sessions::AppSession;
use uuid::Uuid;

use crate::error::{ApiError, ApiResult};
use crate::extract::{JsonBody, MAX_USER_AGENT_CHARS, Meta, PathParam};
use crate::state::AppState;
use crate::views::{UserView, token_response};

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NewAppSession {
    #[schemars(extend("format" = "uuid"))]
    user_id: String,
    #[schemars(regex(pattern = r"^[A-Za-z0-9_.-]{1,64}$"))]
    namespace: Option<String>,
    /// This session's claims, over the user's, in the tokens' `ext` (at most 4096 bytes of JSON).
    claims: Option<Map<String, Value>>,
    /// The user's IP address as the app saw it.
    #[schemars(extend("anyOf" = [{"format": "ipv4"}, {"format": "ipv6"}]))]
    ip: Option<String>,
    /// The user's browser or device, as the app saw it.
    #[schemars(length(max = 512))]
    user_agent: Option<String>,
    /// How the app authenticated the user (RFC 8176 methods, e.g. `["pwd","otp","mfa"]`);
    /// default none. The session's `acr` follows from it (`aal2` for `mfa`, or `hwk`/`swk`
    /// with `user`).
    #[schemars(length(max = 16))]
    amr: Option<Vec<String>>,
    /// Binds the session to the client's DPoP key: its RFC 7638 SHA-256 thumbprint, base64url.
    #[schemars(regex(pattern = r"^[A-Za-z0-9_-]{43}$"))]
    dpop_jkt: Option<String>,
}

/// `POST /admin/sessions`: 201 with the token response, refresh token in the body.
pub(super) async fn create_session(
    State(st): State<Arc<AppState>>,
    Meta(meta): Meta,
    JsonBody(b): JsonBody<NewAppSession>,
) -> ApiResult<Response> {
    let user_id = Uuid::parse_str(&b.user_id)
        .map_err(|_| ApiError::bad_request("user_id is not a user id"))?;
    if let Some(ip) = &b.ip
        && ip.parse::<std::net::IpAddr>().is_err()
    {
        return Err(ApiError::bad_request("ip is not an IP address"));
    }
    if b.user_agent
        .as_ref()
        .is_some_and(|ua| ua.chars().count() > MAX_USER_AGENT_CHARS)
    {
        return Err(ApiError::bad_request(
            "user_agent is longer than 512 characters",
        ));
    }
    // A SHA-256 in base64url: 43 characters of its alphabet.
    if b.dpop_jkt.as_ref().is_some_and(|j| {
        j.len() != 43
            || !j
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
    }) {
        return Err(ApiError::bad_request(
            "dpop_jkt is not an RFC 7638 SHA-256 thumbprint",
        ));
    }
    let req = AppSession {
        user_id,
        namespace: b.namespace,
        claims: b.claims.unwrap_or_default(),
        ip: b.ip,
        user_agent: b.user_agent,
        amr: b.amr.unwrap_or_default(),
        dpop_jkt: b.dpop_jkt,
    };
    let issued = st.engine.create_app_session(req, &meta).await?;
    Ok((StatusCode::CREATED, Json(token_response(&issued, true))).into_response())
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ClaimsBody {
    /// Replaces the user's claims (at most 4096 bytes of JSON); `{}` clears them.
    claims: Map<String, Value>,
}

/// `PUT /admin/users/{id}/claims`: new access tokens carry them from the next refresh on.
pub(super) async fn set_claims(
    State(st): State<Arc<AppState>>,
    PathParam(raw): PathParam,
    JsonBody(b): JsonBody<ClaimsBody>,
) -> ApiResult<Json<UserView>> {
    let id = Uuid::parse_str(&raw).map_err(|_| ApiError::not_found())?;
    let user = st.engine.set_user_claims(id, b.claims).await?;
    Ok(Json(UserView::from(&user)))
}
