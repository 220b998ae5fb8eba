//! Cross-cutting rules: security headers, the bearer challenge on protected routes, and the one
//! layer that observes every request (request id, access log, metrics).
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
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

/// Request ids: a random prefix per process and a counter, so ids of two nodes (or two runs of
/// one) never collide, and making one costs one atomic add. Formatted only when a line is written.
#[derive(Clone, Copy)]
struct RequestId(u64);

static REQUEST_IDS: AtomicU64 = AtomicU64::new(1);
static PROCESS_PREFIX: OnceLock<u32> = OnceLock::new();

impl RequestId {
    fn next() -> Self {
        RequestId(REQUEST_IDS.fetch_add(1, Ordering::Relaxed))
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let prefix = PROCESS_PREFIX.get_or_init(rand::random);
        write!(f, "{prefix:08x}-{}", self.0)
    }
}

/// A successful read changes nothing and says nothing an operator needs at `info`: `GET`,
/// `HEAD`, `OPTIONS` and token introspection (a `POST` that only reads) below 400. Its access
/// line is at `debug`; every state-changing request and every failure is at `info`
/// (docs/operations.md, "Logs").
fn quiet(method: &Method, route: Option<&str>, status: u16) -> bool {
    status < 400
        && (matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
            || route == Some("/auth/introspect"))
}

/// The access line, at a level chosen at run time (tracing's macros want a constant one).
macro_rules! access_line {
    ($level:ident, $id:expr, $method:expr, $path:expr, $status:expr, $code:expr, $elapsed:expr) => {
        tracing::$level!(
            id = %$id,
            method = $method.as_str(),
            path = $path,
            status = $status,
            code = $code,
            micros = $elapsed.as_micros() as u64,
            "handled"
        )
    };
}

/// Everything that watches every request, in one layer: one access-log line (method and path
/// only: no query string, no headers, no bodies), the request's metrics, and a span with the
/// request id, so every line logged while handling it carries the id.
///
/// The span exists only where it can be used: for a route that may change state at `info`, for
/// a read only at `debug` (the lines of a read worth keeping are its failures, and those are in
/// its access line). A disabled span or line costs a cached level check.
pub async fn observe(State(state): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    let id = RequestId::next();
    let route = req.extensions().get::<MatchedPath>().cloned();
    let route_str = route.as_ref().map(MatchedPath::as_str);
    let method = req.method().clone();
    let started = Instant::now();
    let span = if quiet(&method, route_str, 200) {
        tracing::debug_span!("request", id = %id)
    } else {
        tracing::info_span!("request", id = %id)
    };
    // A parsed URI shares its bytes: the clone is a reference count.
    let uri = req.uri().clone();
    let res = if span.is_disabled() {
        next.run(req).await
    } else {
        next.run(req).instrument(span).await
    };
    let elapsed = started.elapsed();
    let status = res.status().as_u16();
    state
        .http_metrics
        .record(route_str, &method, status, elapsed);
    let code = res.extensions().get::<ErrorCode>().map(|c| c.0);
    let path = uri.path();
    if quiet(&method, route_str, status) {
        access_line!(debug, id, method, path, status, code, elapsed);
    } else {
        access_line!(info, id, method, path, status, code, elapsed);
    }
    res
}
