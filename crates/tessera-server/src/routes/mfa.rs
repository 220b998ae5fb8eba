//! Second factors over HTTP (API.md §9.1, §9.2): TOTP enrolment and confirmation, the factor
//! list, removal, recovery codes, and the second step of a login. Each handler is one engine
//! call; the rules (recent aal2 for changes, single-use codes, the lock) are the engine's.
use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use tessera_core::mfa::Factor;

use super::auth::respond;
use crate::config::Transport;
use crate::error::{ApiError, ApiResult};
use crate::extract::{Bearer, JsonBody, Meta, OptionalJsonBody, PathParam};
use crate::state::AppState;
use crate::views::rfc3339_ms;

/// `Factor` of API.md §9.
#[derive(Serialize, JsonSchema)]
pub struct FactorView {
    id: String,
    /// `totp` or `passkey`.
    #[serde(rename = "type")]
    kind: String,
    name: String,
    /// A pending factor changes nothing until confirmed.
    confirmed: bool,
    created_at: String,
    last_used_at: Option<String>,
}

impl From<&Factor> for FactorView {
    fn from(f: &Factor) -> Self {
        FactorView {
            id: f.id.to_string(),
            kind: f.kind.clone(),
            name: f.name.clone(),
            confirmed: f.confirmed,
            created_at: rfc3339_ms(f.created_at),
            last_used_at: f.last_used_at.map(rfc3339_ms),
        }
    }
}

#[derive(Deserialize, JsonSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct EnrollBody {
    /// What the user calls it (at most 64 characters).
    name: Option<String>,
}

/// A pending TOTP factor; the secret is shown this once.
#[derive(Serialize, JsonSchema)]
pub struct TotpEnrolled {
    factor: FactorView,
    /// Base32, for typing into an authenticator app.
    secret: String,
    /// `otpauth://totp/…`, for the QR code.
    otpauth_url: String,
    /// `otpauth_url` as a QR code: a standalone SVG document (black modules on white), for a
    /// page to show as an image. Not in API.md's table; an addition for the account page.
    qr_svg: String,
}

/// The QR code of an `otpauth://` URL as SVG. Medium error correction: a phone's camera reads
/// it off a screen at any size the page draws it. The URL is bounded (issuer, an email of at
/// most 254 bytes, a name of at most 64), far below the 2,331 bytes such a code holds.
fn qr_svg(url: &str) -> Result<String, ApiError> {
    use qrcode::render::svg;
    let code = qrcode::QrCode::with_error_correction_level(url, qrcode::EcLevel::M)
        .map_err(|_| ApiError::internal())?;
    Ok(code
        .render::<svg::Color>()
        .min_dimensions(200, 200)
        .quiet_zone(true)
        .build())
}

pub async fn enroll_totp(
    State(st): State<Arc<AppState>>,
    Bearer(p): Bearer,
    OptionalJsonBody(body): OptionalJsonBody<EnrollBody>,
) -> ApiResult<(StatusCode, Json<TotpEnrolled>)> {
    let e = st
        .engine
        .enroll_totp(&p, body.unwrap_or_default().name)
        .await?;
    let out = TotpEnrolled {
        factor: FactorView::from(&e.factor),
        secret: e.secret.expose().clone(),
        qr_svg: qr_svg(e.otpauth_url.expose())?,
        otpauth_url: e.otpauth_url.expose().clone(),
    };
    Ok((StatusCode::CREATED, Json(out)))
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CodeBody {
    /// The six digits the app shows now.
    #[schemars(length(max = 64))]
    code: String,
}

#[derive(Serialize, JsonSchema)]
pub struct Confirmed {
    factor: FactorView,
    /// Ten single-use codes, shown this once: only with the user's first factor.
    #[serde(skip_serializing_if = "Option::is_none")]
    recovery_codes: Option<Vec<String>>,
}

impl From<tessera_core::engine::mfa::Confirmation> for Confirmed {
    fn from(c: tessera_core::engine::mfa::Confirmation) -> Self {
        Confirmed {
            factor: FactorView::from(&c.factor),
            recovery_codes: c
                .recovery_codes
                .map(|v| v.iter().map(|c| c.expose().clone()).collect()),
        }
    }
}

fn factor_id(raw: &str) -> Result<uuid::Uuid, ApiError> {
    uuid::Uuid::parse_str(raw).map_err(|_| ApiError::not_found())
}

pub async fn confirm_totp(
    State(st): State<Arc<AppState>>,
    Bearer(p): Bearer,
    Meta(meta): Meta,
    PathParam(id): PathParam,
    JsonBody(body): JsonBody<CodeBody>,
) -> ApiResult<Json<Confirmed>> {
    let c = st
        .engine
        .confirm_totp(&p, factor_id(&id)?, &body.code, &meta)
        .await?;
    Ok(Json(Confirmed::from(c)))
}

#[derive(Serialize, JsonSchema)]
pub struct FactorList {
    factors: Vec<FactorView>,
}

pub async fn list_factors(
    State(st): State<Arc<AppState>>,
    Bearer(p): Bearer,
) -> ApiResult<Json<FactorList>> {
    let factors = st.engine.factors(&p).await?;
    Ok(Json(FactorList {
        factors: factors.iter().map(FactorView::from).collect(),
    }))
}

pub async fn remove_factor(
    State(st): State<Arc<AppState>>,
    Bearer(p): Bearer,
    Meta(meta): Meta,
    PathParam(id): PathParam,
) -> ApiResult<StatusCode> {
    st.engine.remove_factor(&p, factor_id(&id)?, &meta).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Serialize, JsonSchema)]
pub struct RecoveryCodes {
    /// Ten single-use codes, shown this once; the old set stops working.
    recovery_codes: Vec<String>,
}

pub async fn new_recovery_codes(
    State(st): State<Arc<AppState>>,
    Bearer(p): Bearer,
    Meta(meta): Meta,
) -> ApiResult<Json<RecoveryCodes>> {
    let codes = st.engine.new_recovery_codes(&p, &meta).await?;
    Ok(Json(RecoveryCodes {
        recovery_codes: codes.iter().map(|c| c.expose().clone()).collect(),
    }))
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct VerifyBody {
    /// From the `mfa_required` answer of `POST /auth/login`.
    #[schemars(length(max = 128))]
    mfa_token: String,
    /// A TOTP code, or one of the user's recovery codes.
    #[schemars(length(max = 64))]
    code: String,
    /// The TOTP factor the code is from, if the user has several.
    factor_id: Option<String>,
}

/// The second step of a login: the token response, in the transport the first step asked for.
pub async fn verify(
    State(st): State<Arc<AppState>>,
    Meta(meta): Meta,
    binding: crate::dpop::Binding,
    JsonBody(body): JsonBody<VerifyBody>,
) -> ApiResult<Response> {
    let factor = match body.factor_id.as_deref() {
        None => None,
        Some(raw) => Some(
            uuid::Uuid::parse_str(raw)
                .map_err(|_| ApiError::from(tessera_core::Error::InvalidMfaCode))?,
        ),
    };
    let (issued, transport) = st
        .engine
        .verify_mfa_bound(&body.mfa_token, &body.code, factor, binding.0, &meta)
        .await?;
    let transport = match transport.as_str() {
        "cookie" => Transport::Cookie,
        _ => Transport::Body,
    };
    Ok(respond(&st, StatusCode::OK, &issued, transport))
}
