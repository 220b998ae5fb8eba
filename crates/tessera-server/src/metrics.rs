//! `/metrics` in the Prometheus text format. Labels are route templates, methods, status codes
//! and fixed result words: never an email, id, address or token.
use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, header};
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
/// The `method` label: these, and `other` for any other token a client sends (a label per
/// made-up method would let anyone grow `/metrics` without bound).
const METHODS: [&str; 8] = [
    "GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "other",
];
/// The `status` label: the statuses the API answers with, and `other`.
const STATUSES: [u16; 17] = [
    200, 201, 202, 204, 400, 401, 403, 404, 405, 409, 413, 415, 422, 429, 500, 501, 503,
];
const UNMATCHED: &str = "unmatched";

/// One route's counters: requests by method and status, and a latency histogram.
struct RouteMetrics {
    requests: [[AtomicU64; STATUSES.len() + 1]; METHODS.len()],
    buckets: [AtomicU64; BUCKETS.len()],
    count: AtomicU64,
    sum_micros: AtomicU64,
}

impl RouteMetrics {
    fn new() -> Self {
        RouteMetrics {
            requests: std::array::from_fn(|_| std::array::from_fn(|_| AtomicU64::new(0))),
            buckets: std::array::from_fn(|_| AtomicU64::new(0)),
            count: AtomicU64::new(0),
            sum_micros: AtomicU64::new(0),
        }
    }
}

/// Request counts and latencies by route template: a fixed table of atomics, built from the route
/// table at start, so recording a request takes no lock and allocates nothing.
pub struct HttpMetrics {
    /// Route templates, `unmatched` last.
    routes: Vec<&'static str>,
    index: HashMap<&'static str, usize>,
    table: Vec<RouteMetrics>,
}

impl HttpMetrics {
    pub fn new(templates: impl IntoIterator<Item = &'static str>) -> Self {
        let mut routes: Vec<&'static str> = templates.into_iter().collect();
        routes.sort();
        routes.dedup();
        routes.push(UNMATCHED);
        let index = routes.iter().enumerate().map(|(i, r)| (*r, i)).collect();
        let table = routes.iter().map(|_| RouteMetrics::new()).collect();
        HttpMetrics {
            routes,
            index,
            table,
        }
    }

    /// Counts one request under its route template (`/auth/sessions/{id}`, never the id), or
    /// `unmatched` for paths no route knows.
    pub fn record(&self, route: Option<&str>, method: &Method, status: u16, elapsed: Duration) {
        let m = METHODS
            .iter()
            .position(|m| *m == method.as_str())
            .unwrap_or(METHODS.len() - 1);
        let r = route
            .and_then(|p| self.index.get(p).copied())
            .unwrap_or(self.routes.len() - 1);
        let st = STATUSES
            .iter()
            .position(|s| *s == status)
            .unwrap_or(STATUSES.len());
        let t = &self.table[r];
        t.requests[m][st].fetch_add(1, Ordering::Relaxed);
        let seconds = elapsed.as_secs_f64();
        if let Some(i) = BUCKETS.iter().position(|b| seconds <= *b) {
            t.buckets[i].fetch_add(1, Ordering::Relaxed);
        }
        t.count.fetch_add(1, Ordering::Relaxed);
        t.sum_micros
            .fetch_add(elapsed.as_micros() as u64, Ordering::Relaxed);
    }
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
    help(
        &mut out,
        "tessera_http_requests_total",
        "counter",
        "HTTP requests by route template, method and status.",
    );
    let m = &state.http_metrics;
    for (route, t) in m.routes.iter().zip(&m.table) {
        for (method, row) in METHODS.iter().zip(&t.requests) {
            for (i, n) in row.iter().enumerate() {
                let n = n.load(Ordering::Relaxed);
                if n == 0 {
                    continue;
                }
                let status = STATUSES.get(i).map_or("other".to_owned(), u16::to_string);
                let _ = writeln!(
                    out,
                    "tessera_http_requests_total{{route=\"{route}\",method=\"{method}\",status=\"{status}\"}} {n}"
                );
            }
        }
    }
    help(
        &mut out,
        "tessera_http_request_duration_seconds",
        "histogram",
        "HTTP request latency by route template.",
    );
    for (route, t) in m.routes.iter().zip(&m.table) {
        let count = t.count.load(Ordering::Relaxed);
        if count == 0 {
            continue;
        }
        let mut cumulative = 0;
        for (bound, n) in BUCKETS.iter().zip(&t.buckets) {
            cumulative += n.load(Ordering::Relaxed);
            let _ = writeln!(
                out,
                "tessera_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"{bound}\"}} {cumulative}"
            );
        }
        let _ = writeln!(
            out,
            "tessera_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"+Inf\"}} {count}"
        );
        let sum = t.sum_micros.load(Ordering::Relaxed) as f64 / 1e6;
        let _ = writeln!(
            out,
            "tessera_http_request_duration_seconds_sum{{route=\"{route}\"}} {sum}"
        );
        let _ = writeln!(
            out,
            "tessera_http_request_duration_seconds_count{{route=\"{route}\"}} {count}"
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
