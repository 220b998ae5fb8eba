//! Cross-cutting response rules: security headers, the bearer challenge on protected routes, and
//! a request log line with a request id (path only: no query string, no headers, no bodies).
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument;

use crate::error::ErrorCode;

/// `X-Content-Type-Options: nosniff` everywhere, and `Cache-Control: no-store` on everything that
/// did not choose its own caching (so no token response can ever be cached).
pub async fn security_headers(req: Request, next: Next) -> Response {
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    res
}

/// RFC 6750 §3: every 401 of a protected route carries a Bearer challenge naming the error.
pub async fn bearer_challenge(req: Request, next: Next) -> Response {
    let mut res = next.run(req).await;
    if res.status() == StatusCode::UNAUTHORIZED {
        let code = res
            .extensions()
            .get::<ErrorCode>()
            .map_or("invalid_token", |c| c.0);
        let value = format!(
            "Bearer realm=\"tessera\", error=\"invalid_token\", error_description=\"{code}\""
        );
        if let Ok(v) = HeaderValue::from_str(&value) {
            res.headers_mut().insert(header::WWW_AUTHENTICATE, v);
        }
    }
    res
}

static REQUEST_IDS: AtomicU64 = AtomicU64::new(1);

/// One span per request, with an id on every line logged inside it.
pub async fn request_log(req: Request, next: Next) -> Response {
    let id = REQUEST_IDS.fetch_add(1, Ordering::Relaxed);
    let span = tracing::info_span!("request", id, method = %req.method(), path = %req.uri().path());
    async move {
        let started = Instant::now();
        let res = next.run(req).await;
        let code = res.extensions().get::<ErrorCode>().map(|c| c.0);
        tracing::info!(
            status = res.status().as_u16(),
            code,
            micros = started.elapsed().as_micros() as u64,
            "handled"
        );
        res
    }
    .instrument(span)
    .await
}
