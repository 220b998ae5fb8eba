//! Passkeys over HTTP (API.md §9.3): registration from a recent session, sign-in with the
//! passkey alone or as the second step, each a ceremony whose state stays on the server. The
//! checks are the engine's (and `webauthn-rs`'s); each handler is one engine call.
use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use tessera_core::engine::passkeys::{CeremonyStart, PasskeyLogin};

use super::auth::{TransportName, respond};
use super::mfa::Confirmed;
use crate::error::{ApiError, ApiResult};
use crate::extract::{Bearer, JsonBody, Meta, OptionalJsonBody};
use crate::state::AppState;

/// A ceremony begun.
#[derive(Serialize, JsonSchema)]
pub struct CeremonyView {
    /// Send it back with the credential.
    ceremony_id: String,
    /// `PublicKeyCredentialCreationOptionsJSON` or `PublicKeyCredentialRequestOptionsJSON`: for
    /// `PublicKeyCredential.parseCreationOptionsFromJSON` / `parseRequestOptionsFromJSON`.
    #[serde(rename = "publicKey")]
    public_key: serde_json::Value,
}

impl From<CeremonyStart> for CeremonyView {
    fn from(c: CeremonyStart) -> Self {
        CeremonyView {
            ceremony_id: c.ceremony_id.to_string(),
            public_key: c.public_key,
        }
    }
}

/// A ceremony id as sent; an unknown form is a ceremony that does not exist.
pub fn ceremony_id(raw: &str) -> Result<uuid::Uuid, ApiError> {
    uuid::Uuid::parse_str(raw).map_err(|_| ApiError::from(tessera_core::Error::InvalidCredentials))
}

#[derive(Deserialize, JsonSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct RegisterOptionsBody {
    /// What the user calls it (at most 64 characters).
    name: Option<String>,
}

pub async fn register_options(
    State(st): State<Arc<AppState>>,
    Bearer(p): Bearer,
    OptionalJsonBody(body): OptionalJsonBody<RegisterOptionsBody>,
) -> ApiResult<Json<CeremonyView>> {
    let name = body.unwrap_or_default().name;
    let start = st.engine.passkey_register_options(&p, name).await?;
    Ok(Json(start.into()))
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterBody {
    #[schemars(length(max = 64))]
    ceremony_id: String,
    /// `RegistrationResponseJSON` (what `PublicKeyCredential.toJSON()` gives).
    credential: serde_json::Map<String, serde_json::Value>,
    name: Option<String>,
}

pub async fn register(
    State(st): State<Arc<AppState>>,
    Bearer(p): Bearer,
    Meta(meta): Meta,
    JsonBody(b): JsonBody<RegisterBody>,
) -> ApiResult<(StatusCode, Json<Confirmed>)> {
    let id = uuid::Uuid::parse_str(&b.ceremony_id).map_err(|_| {
        ApiError::from(tessera_core::Error::InvalidRequest(
            "unknown, used or expired ceremony",
        ))
    })?;
    let c = st
        .engine
        .passkey_register(&p, id, b.credential.into(), b.name, &meta)
        .await?;
    Ok((StatusCode::CREATED, Json(c.into())))
}

#[derive(Deserialize, JsonSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct LoginOptionsBody {
    /// Whose passkey it must be; without it, any discoverable passkey (usernameless).
    #[schemars(length(max = 320))]
    email: Option<String>,
    /// The second step of a login (from `mfa_required`): one of that user's passkeys.
    #[schemars(length(max = 128))]
    mfa_token: Option<String>,
}

pub async fn login_options(
    State(st): State<Arc<AppState>>,
    Meta(meta): Meta,
    OptionalJsonBody(body): OptionalJsonBody<LoginOptionsBody>,
) -> ApiResult<Json<CeremonyView>> {
    let b = body.unwrap_or_default();
    // The bounds the schema states: no lookup for what no account or token can be.
    let too_long =
        |v: &Option<String>, max: usize| v.as_ref().is_some_and(|v| v.chars().count() > max);
    if too_long(&b.email, 320) || too_long(&b.mfa_token, 128) {
        return Err(crate::error::ApiError::bad_request(
            "email or mfa_token is too long",
        ));
    }
    let start = st
        .engine
        .passkey_login_options(b.email.as_deref(), b.mfa_token.as_deref(), &meta)
        .await?;
    Ok(Json(start.into()))
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginBody {
    #[schemars(length(max = 64))]
    ceremony_id: String,
    /// `AuthenticationResponseJSON` (what `PublicKeyCredential.toJSON()` gives). One that is
    /// not is a failed assertion (401 `invalid_credentials`).
    credential: serde_json::Map<String, serde_json::Value>,
    #[schemars(length(max = 128))]
    mfa_token: Option<String>,
    #[schemars(regex(pattern = r"^[A-Za-z0-9_.-]{1,64}$"))]
    namespace: Option<String>,
    transport: Option<TransportName>,
}

/// The token response, as a login's; with an mfa token, in the transport the first step asked.
pub async fn login(
    State(st): State<Arc<AppState>>,
    Meta(meta): Meta,
    binding: crate::dpop::Binding,
    JsonBody(b): JsonBody<LoginBody>,
) -> ApiResult<Response> {
    let (_, name) = TransportName::resolve(b.transport, &st);
    let login = PasskeyLogin {
        ceremony_id: ceremony_id(&b.ceremony_id)?,
        credential: b.credential.into(),
        mfa_token: b.mfa_token,
        namespace: b.namespace,
        transport: name.into(),
        dpop_jkt: binding.0,
    };
    let (issued, transport) = st.engine.passkey_login(login, &meta).await?;
    let transport = match transport.as_str() {
        "cookie" => crate::config::Transport::Cookie,
        _ => crate::config::Transport::Body,
    };
    Ok(respond(&st, StatusCode::OK, &issued, transport))
}
