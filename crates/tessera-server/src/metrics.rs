//! The HTTP counters behind `/metrics`, and the Prometheus text format they are written in.
//! Labels are route templates, methods, status codes and fixed result words: never an email, id,
//! address or token. The route that serves them is `routes/metrics.rs`.
use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::http::Method;

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

impl HttpMetrics {
    /// Writes the request counts and the latency histograms.
    pub fn render(&self, out: &mut String) {
        help(
            out,
            "tessera_http_requests_total",
            "counter",
            "HTTP requests by route template, method and status.",
        );
        let m = self;
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
            out,
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
    }
}

/// `# HELP` and `# TYPE` of a metric.
pub fn help(out: &mut String, name: &str, kind: &str, text: &str) {
    let _ = writeln!(out, "# HELP {name} {text}\n# TYPE {name} {kind}");
}

/// A counter family with one fixed-word label.
pub fn labelled(out: &mut String, name: &str, text: &str, label: &str, values: &[(&str, u64)]) {
    help(out, name, "counter", text);
    for (value, n) in values {
        let _ = writeln!(out, "{name}{{{label}=\"{value}\"}} {n}");
    }
}
