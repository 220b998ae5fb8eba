//! Cross-cutting rules: security headers, the bearer challenge on protected routes, and the one
//! layer that observes every request (request id, access log, metrics).
use std::convert::Infallible;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};
use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::http::{HeaderValue, Method, StatusCode, Uri, header};
use axum::middleware::Next;
use axum::response::Response;
use pin_project_lite::pin_project;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_layer::Layer;
use tower_service::Service;
use tracing::Span;

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
    ($level:ident, $seen:expr, $status:expr, $code:expr, $elapsed:expr) => {
        tracing::$level!(
            id = %$seen.id,
            method = $seen.method.as_str(),
            path = $seen.uri.path(),
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
///
/// A tower layer of its own rather than `from_fn`: `from_fn` boxes a future and clones the
/// route's boxed service (an allocation) on every request.
#[derive(Clone)]
pub struct ObserveLayer(pub Arc<AppState>);

impl<S> Layer<S> for ObserveLayer {
    type Service = Observe<S>;

    fn layer(&self, inner: S) -> Observe<S> {
        Observe {
            inner,
            state: self.0.clone(),
        }
    }
}

#[derive(Clone)]
pub struct Observe<S> {
    inner: S,
    state: Arc<AppState>,
}

/// What the layer noted of a request before handing it on.
struct Seen {
    state: Arc<AppState>,
    id: RequestId,
    route: Option<MatchedPath>,
    method: Method,
    /// A parsed URI shares its bytes: the clone is a reference count.
    uri: Uri,
    started: Instant,
}

impl<S> Service<Request> for Observe<S>
where
    S: Service<Request, Response = Response, Error = Infallible>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Observed<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request) -> Self::Future {
        let route = req.extensions().get::<MatchedPath>().cloned();
        let seen = Seen {
            state: self.state.clone(),
            id: RequestId::next(),
            method: req.method().clone(),
            uri: req.uri().clone(),
            started: Instant::now(),
            route,
        };
        let span = if quiet(&seen.method, seen.route(), 200) {
            tracing::debug_span!("request", id = %seen.id)
        } else {
            tracing::info_span!("request", id = %seen.id)
        };
        let inner = {
            let _entered = span.enter();
            self.inner.call(req)
        };
        Observed {
            inner,
            span,
            seen: Some(seen),
        }
    }
}

impl Seen {
    fn route(&self) -> Option<&str> {
        self.route.as_ref().map(MatchedPath::as_str)
    }

    fn finish(self, res: &Response) {
        let elapsed = self.started.elapsed();
        let status = res.status().as_u16();
        let route = self.route();
        self.state
            .http_metrics
            .record(route, &self.method, status, elapsed);
        let code = res.extensions().get::<ErrorCode>().map(|c| c.0);
        if quiet(&self.method, route, status) {
            access_line!(debug, self, status, code, elapsed);
        } else {
            access_line!(info, self, status, code, elapsed);
        }
    }
}

pin_project! {
    /// The route's own future, inside the request's span; counted and logged when it is done.
    pub struct Observed<F> {
        #[pin]
        inner: F,
        span: Span,
        seen: Option<Seen>,
    }
}

impl<F> Future for Observed<F>
where
    F: Future<Output = Result<Response, Infallible>>,
{
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let _entered = this.span.enter();
        let Poll::Ready(Ok(res)) = this.inner.poll(cx) else {
            return Poll::Pending;
        };
        if let Some(seen) = this.seen.take() {
            seen.finish(&res);
        }
        Poll::Ready(Ok(res))
    }
}
