//! The refresh and CSRF cookies of API.md §4.2.
use axum::http::{HeaderMap, HeaderValue, header};

use crate::config::CookieSettings;

/// Sets both cookies for a session: the refresh token (HttpOnly, Path=/auth) and the CSRF token
/// (readable by scripts, Path=/), each living until the session's idle expiry.
pub fn set(
    headers: &mut HeaderMap,
    c: &CookieSettings,
    refresh: &str,
    csrf: &str,
    max_age_secs: i64,
) {
    let max_age = max_age_secs.max(0);
    append(
        headers,
        format!(
            "{}={refresh}; HttpOnly; SameSite={}; Path=/auth; Max-Age={max_age}{}",
            c.refresh_name,
            c.same_site.as_str(),
            secure(c)
        ),
    );
    append(
        headers,
        format!(
            "{}={csrf}; SameSite={}; Path=/; Max-Age={max_age}{}",
            c.csrf_name,
            c.same_site.as_str(),
            secure(c)
        ),
    );
}

/// Expires both cookies (logout).
pub fn clear(headers: &mut HeaderMap, c: &CookieSettings) {
    append(
        headers,
        format!(
            "{}=; HttpOnly; SameSite={}; Path=/auth; Max-Age=0{}",
            c.refresh_name,
            c.same_site.as_str(),
            secure(c)
        ),
    );
    append(
        headers,
        format!(
            "{}=; SameSite={}; Path=/; Max-Age=0{}",
            c.csrf_name,
            c.same_site.as_str(),
            secure(c)
        ),
    );
}

fn secure(c: &CookieSettings) -> &'static str {
    if c.secure { "; Secure" } else { "" }
}

fn append(headers: &mut HeaderMap, value: String) {
    if let Ok(v) = HeaderValue::from_str(&value) {
        headers.append(header::SET_COOKIE, v);
    }
}
