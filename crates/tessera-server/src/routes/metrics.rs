//! `GET /metrics`: the node's counters in the Prometheus text format, for the admin key (in
//! `X-Api-Key` or as a bearer token) unless `public_metrics`.
use std::fmt::Write as _;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;
use crate::extract::admin_key_or_bearer;
use crate::metrics::{help, labelled};
use crate::state::AppState;

pub async fn metrics(State(state): State<Arc<AppState>>, req: Request) -> Response {
    if !state.settings.public_metrics && !admin_key_or_bearer(req.headers(), &state) {
        return ApiError::unauthorized().into_response();
    }
    let mut out = render(&state);
    // The outbox is shared by every node: these are the deployment's figures.
    if let Ok(c) = state.engine.mail_counts().await {
        help(
            &mut out,
            "tessera_mail_queued",
            "gauge",
            "Mails waiting to be sent (or retried).",
        );
        let _ = writeln!(out, "tessera_mail_queued {}", c.queued);
        help(
            &mut out,
            "tessera_mail_sent_total",
            "counter",
            "Mails sent.",
        );
        let _ = writeln!(out, "tessera_mail_sent_total {}", c.sent);
        help(
            &mut out,
            "tessera_mail_failed_total",
            "counter",
            "Mails given up (refused for good, or too many attempts).",
        );
        let _ = writeln!(out, "tessera_mail_failed_total {}", c.failed);
    }
    let mut res = out.into_response();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    res
}

fn render(state: &AppState) -> String {
    let mut out = String::new();
    state.http_metrics.render(&mut out);
    let stats = state.engine.stats();
    labelled(
        &mut out,
        "tessera_logins_total",
        "Logins by result.",
        "result",
        &stats.logins(),
    );
    labelled(
        &mut out,
        "tessera_refreshes_total",
        "Refreshes by result.",
        "result",
        &stats.refreshes(),
    );
    labelled(
        &mut out,
        "tessera_revocations_total",
        "Sessions revoked, by reason.",
        "reason",
        &stats.revocations(),
    );
    help(
        &mut out,
        "tessera_refresh_reuse_detected_total",
        "counter",
        "Rotated refresh tokens presented again: sessions revoked as stolen.",
    );
    let _ = writeln!(
        out,
        "tessera_refresh_reuse_detected_total {}",
        stats.reuse_detections()
    );
    help(
        &mut out,
        "tessera_revoked_sessions_held",
        "gauge",
        "Revoked sessions this node refuses from memory (until their last access token expires).",
    );
    let _ = writeln!(
        out,
        "tessera_revoked_sessions_held {}",
        state.engine.revocations().set().len()
    );
    help(
        &mut out,
        "tessera_signing_key_age_seconds",
        "gauge",
        "How long the current signing key has been signing.",
    );
    let _ = writeln!(
        out,
        "tessera_signing_key_age_seconds {}",
        state.engine.signing_key_age_secs()
    );
    out
}
