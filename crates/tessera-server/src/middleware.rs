//! Cross-cutting rules: security headers, the bearer challenge on protected routes, and the one
//! layer that observes every request (request id, access log, metrics).
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;
use tower_http::set_header::SetResponseHeaderLayer;
use tracing::Instrument;

use crate::error::ErrorCode;
use crate::state::AppState;

/// `X-Content-Type-Options: nosniff` everywhere, and `Cache-Control: no-store` on everything that
/// did not choose its own caching (so no token response can ever be cached). tower-http's layers:
/// no boxed future per request.
pub fn security_headers() -> (
    SetResponseHeaderLayer<HeaderValue>,
    SetResponseHeaderLayer<HeaderValue>,
) {
    (
        SetResponseHeaderLayer::overriding(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ),
        SetResponseHeaderLayer::if_not_present(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-store"),
        ),
    )
}

/// RFC 6750 §3: every 401 of a protected route carries a Bearer challenge naming the error.
pub async fn bearer_challenge(req: Request, next: Next) -> Response {
    let mut res = next.run(req).await;
    // A challenge of the error's own (step-up) stays.
    if res.status() == StatusCode::UNAUTHORIZED
        && !res.headers().contains_key(header::WWW_AUTHENTICATE)
    {
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

/// Everything that watches every request, in one layer: a span with a request id (so every line
/// logged while handling it carries the id), one access-log line (method and path only: no query
/// string, no headers, no bodies), and the request's metrics.
pub async fn observe(State(state): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    let id = REQUEST_IDS.fetch_add(1, Ordering::Relaxed);
    let route = req.extensions().get::<MatchedPath>().cloned();
    let method = req.method().clone();
    let uri = req.uri().clone();
    let started = Instant::now();
    let res = next
        .run(req)
        .instrument(tracing::info_span!("request", id))
        .await;
    let elapsed = started.elapsed();
    let status = res.status().as_u16();
    state.http_metrics.record(
        route.as_ref().map(MatchedPath::as_str),
        &method,
        status,
        elapsed,
    );
    let code = res.extensions().get::<ErrorCode>().map(|c| c.0);
    tracing::info!(
        id,
        method = method.as_str(),
        path = uri.path(),
        status,
        code,
        micros = elapsed.as_micros() as u64,
        "handled"
    );
    res
}
