//! The Authorization and Cookie header parsing on any bytes: never a panic; a bearer token is a
//! part of the header; a cookie value is a part of a Cookie header.
#![no_main]
use axum::http::{HeaderMap, HeaderValue, header};
use libfuzzer_sys::fuzz_target;
use tessera_server::parse::{bearer_token, cookie};

fuzz_target!(|data: &[u8]| {
    let Ok(value) = HeaderValue::from_bytes(data) else {
        return;
    };
    let mut headers = HeaderMap::new();
    headers.insert(header::AUTHORIZATION, value.clone());
    headers.append(header::COOKIE, value.clone());
    headers.append(header::COOKIE, value);
    if let Ok(Some(token)) = bearer_token(&headers) {
        assert!(!token.is_empty());
        assert!(data.windows(token.len()).any(|w| w == token.as_bytes()));
    }
    for name in ["__Secure-tessera_refresh", "__Host-tessera_csrf", ""] {
        if let Some(v) = cookie(&headers, name) {
            assert!(
                data.windows(v.len().max(1))
                    .any(|w| v.is_empty() || w == v.as_bytes())
            );
        }
    }
});
