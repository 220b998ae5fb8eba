//! `GET /`: the account page, plain HTML, CSS and JS embedded in the binary. A strict
//! Content-Security-Policy (no inline script or style, nothing framed, nothing loaded from
//! elsewhere) and no referrer.
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

const HTML: &str = include_str!("../../assets/account.html");
const CSS: &str = include_str!("../../assets/account.css");
const JS: &str = include_str!("../../assets/account.js");
const MFA_JS: &str = include_str!("../../assets/account-mfa.js");
const ICON: &str = include_str!("../../assets/favicon.svg");
/// The browser client (clients/js), which the account page imports and apps may too.
const CLIENT: &str = include_str!("../../../../clients/js/tessera.js");

const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
    connect-src 'self'; form-action 'self'; frame-ancestors 'none'; object-src 'none'; base-uri 'none'";

fn asset(body: &'static str, content_type: &'static str) -> Response {
    let mut res = body.into_response();
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    res
}

pub async fn page() -> Response {
    asset(HTML, "text/html; charset=utf-8")
}

pub async fn css() -> Response {
    asset(CSS, "text/css; charset=utf-8")
}

pub async fn js() -> Response {
    asset(JS, "text/javascript; charset=utf-8")
}

pub async fn mfa_js() -> Response {
    asset(MFA_JS, "text/javascript; charset=utf-8")
}

/// `GET /tessera.js`: public code, so any origin may import it as a module (no credentials).
pub async fn client() -> Response {
    let mut res = asset(CLIENT, "text/javascript; charset=utf-8");
    res.headers_mut().insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    res
}

pub async fn icon() -> Response {
    asset(ICON, "image/svg+xml")
}
