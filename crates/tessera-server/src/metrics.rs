//! `/metrics` in the Prometheus text format. Labels are route templates, methods, status codes
//! and fixed result words: never an email, id, address or token.
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::error::ApiError;
use crate::extract::bearer_token;
use crate::state::AppState;

/// Latency histogram bounds, in seconds.
const BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];

#[derive(Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    sum: f64,
    count: u64,
}

/// Request counts and latencies by route template.
#[derive(Default)]
pub struct HttpMetrics {
    requests: Mutex<BTreeMap<(String, String, u16), u64>>,
    latency: Mutex<BTreeMap<String, Histogram>>,
}

impl HttpMetrics {
    fn record(&self, route: String, method: String, status: u16, seconds: f64) {
        *self
            .requests
            .lock()
            .expect("metrics lock")
            .entry((route.clone(), method, status))
            .or_default() += 1;
        let mut latency = self.latency.lock().expect("metrics lock");
        let h = latency.entry(route).or_default();
        for (i, bound) in BUCKETS.iter().enumerate() {
            if seconds <= *bound {
                h.counts[i] += 1;
            }
        }
        h.sum += seconds;
        h.count += 1;
    }
}

/// Records every request under its route template (`/auth/sessions/{id}`, never the id), or
/// `unmatched` for paths no route knows.
pub async fn record(State(state): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let method = req.method().as_str().to_owned();
    let started = Instant::now();
    let res = next.run(req).await;
    state.http_metrics.record(
        route,
        method,
        res.status().as_u16(),
        started.elapsed().as_secs_f64(),
    );
    res
}

/// The admin key in `X-Api-Key` or as a bearer token, unless `public_metrics`.
fn authorised(state: &AppState, req: &Request) -> bool {
    if state.settings.public_metrics {
        return true;
    }
    let presented = req
        .headers()
        .get("x-api-key")
        .map(|v| v.as_bytes().to_vec())
        .or_else(|| {
            bearer_token(req.headers())
                .ok()
                .flatten()
                .map(|t| t.as_bytes().to_vec())
        });
    let Some(presented) = presented.filter(|p| !p.is_empty()) else {
        return false;
    };
    let digest: [u8; 32] = Sha256::digest(&presented).into();
    let mut ok = subtle::Choice::from(0);
    for key in &state.admin_key_hashes {
        ok |= key.ct_eq(&digest);
    }
    ok.into()
}

pub async fn metrics(State(state): State<Arc<AppState>>, req: Request) -> Response {
    if !authorised(&state, &req) {
        return ApiError::unauthorized().into_response();
    }
    let mut res = render(&state).into_response();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    res
}

fn render(state: &AppState) -> String {
    let mut out = String::new();
    help(
        &mut out,
        "tessera_http_requests_total",
        "counter",
        "HTTP requests by route template, method and status.",
    );
    for ((route, method, status), n) in state
        .http_metrics
        .requests
        .lock()
        .expect("metrics lock")
        .iter()
    {
        let _ = writeln!(
            out,
            "tessera_http_requests_total{{route=\"{route}\",method=\"{method}\",status=\"{status}\"}} {n}"
        );
    }
    help(
        &mut out,
        "tessera_http_request_duration_seconds",
        "histogram",
        "HTTP request latency by route template.",
    );
    for (route, h) in state
        .http_metrics
        .latency
        .lock()
        .expect("metrics lock")
        .iter()
    {
        for (bound, n) in BUCKETS.iter().zip(h.counts) {
            let _ = writeln!(
                out,
                "tessera_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"{bound}\"}} {n}"
            );
        }
        let _ = writeln!(
            out,
            "tessera_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"+Inf\"}} {}",
            h.count
        );
        let _ = writeln!(
            out,
            "tessera_http_request_duration_seconds_sum{{route=\"{route}\"}} {}",
            h.sum
        );
        let _ = writeln!(
            out,
            "tessera_http_request_duration_seconds_count{{route=\"{route}\"}} {}",
            h.count
        );
    }
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

fn help(out: &mut String, name: &str, kind: &str, text: &str) {
    let _ = writeln!(out, "# HELP {name} {text}\n# TYPE {name} {kind}");
}

/// A counter family with one fixed-word label.
fn labelled(out: &mut String, name: &str, text: &str, label: &str, values: &[(&str, u64)]) {
    help(out, name, "counter", text);
    for (value, n) in values {
        let _ = writeln!(out, "{name}{{{label}=\"{value}\"}} {n}");
    }
}
