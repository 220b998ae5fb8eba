//! DPoP at Tessera's own routes (API.md §10): the proof of a request, checked by
//! `tessera_token::dpop` against the issuer's origin and the request's path, its `jti` claimed
//! once on every node, its nonce when `dpop.nonce` is on. Token-issuing routes answer a bad
//! proof 400 (RFC 9449 §5), resource routes 401, both with a `DPoP` challenge.
use std::sync::Arc;

use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use tessera_token::dpop::{Proof, ProofCheck, verify_proof};

use crate::error::ApiError;
use crate::state::AppState;

/// Why a request's proof was refused.
#[derive(Debug)]
pub enum Refusal {
    Invalid(String),
    /// `dpop.nonce` is on and the proof lacks a fresh nonce.
    Nonce,
}

impl Refusal {
    /// The answer, 400 at a token-issuing route, 401 at a resource route.
    pub fn answer(self, state: &AppState, status: StatusCode) -> ApiError {
        let (code, title, detail) = match self {
            Refusal::Invalid(d) => ("invalid_dpop_proof", "Invalid DPoP proof", d),
            Refusal::Nonce => (
                "use_dpop_nonce",
                "DPoP nonce required",
                "retry with the nonce of the DPoP-Nonce header".to_owned(),
            ),
        };
        let mut e = ApiError::new(status, code, title).detail(detail);
        e.challenge = Some(challenge(state, code));
        e
    }
}

/// `WWW-Authenticate: DPoP error="…", algs="…"`.
pub fn challenge(state: &AppState, code: &str) -> String {
    let algs: Vec<&str> = state
        .settings
        .dpop
        .algorithms
        .iter()
        .map(|a| a.as_str())
        .collect();
    format!("DPoP error=\"{code}\", algs=\"{}\"", algs.join(" "))
}

/// The request's proof, checked (with `access_token`, its `ath`); `None` without a `DPoP`
/// header.
pub async fn proof_of(
    state: &AppState,
    parts: &Parts,
    access_token: Option<&str>,
) -> Result<Option<Proof>, Refusal> {
    let mut values = parts.headers.get_all("dpop").iter();
    let Some(first) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(Refusal::Invalid("send one DPoP header".into()));
    }
    let proof = first
        .to_str()
        .map_err(|_| Refusal::Invalid("the DPoP header is not text".into()))?;
    let d = &state.settings.dpop;
    let url = format!("{}{}", d.origin, parts.uri.path());
    let check = ProofCheck {
        method: parts.method.as_str(),
        url: &url,
        access_token,
        algorithms: &d.algorithms,
        now: state.engine.now_ms().div_euclid(1000),
        max_age_secs: d.max_age_secs,
    };
    let p = verify_proof(proof, &check).map_err(|e| Refusal::Invalid(e.to_string()))?;
    if d.nonce
        && !p
            .nonce
            .as_deref()
            .is_some_and(|n| state.engine.dpop_nonce_is_fresh(n))
    {
        return Err(Refusal::Nonce);
    }
    // Within its whole window (its age plus the leeway either way), once on every node.
    let window = d.max_age_secs + 2 * tessera_token::dpop::PROOF_LEEWAY_SECS;
    if !state.engine.claim_dpop_jti(&p.jkt, &p.jti, window).await {
        return Err(Refusal::Invalid("the proof was used before".into()));
    }
    Ok(Some(p))
}

/// The key a new session is bound to, at a token-issuing route: the thumbprint of the request's
/// proof, or `None` without one. A bad proof is 400.
pub struct Binding(pub Option<String>);

impl FromRequestParts<Arc<AppState>> for Binding {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, Self::Rejection> {
        match proof_of(state, parts, None).await {
            Ok(p) => Ok(Binding(p.map(|p| p.jkt))),
            Err(r) => Err(r.answer(state, StatusCode::BAD_REQUEST)),
        }
    }
}

/// With `dpop.nonce`, every answer to a request that carried a proof carries the current nonce
/// (RFC 9449 §8), errors included. The router installs this layer only with `dpop.nonce`.
pub async fn nonce_header(
    State(state): State<Arc<AppState>>,
    req: Request,
    next: Next,
) -> Response {
    let dpop = req.headers().contains_key("dpop");
    let mut res = next.run(req).await;
    if dpop && let Ok(v) = HeaderValue::from_str(&state.engine.dpop_nonce()) {
        res.headers_mut().insert("dpop-nonce", v);
    }
    res
}
