//! CORS per cors.allowed_origins (issue 3 §8).

use crate::common::*;
use reqwest::Method;
use serde_json::json;

const APP: &str = "https://app.example.com";

#[tokio::test]
async fn allowed_origins_get_credentialed_cors_and_preflights_are_answered() {
    let srv = start(&format!(
        "[cors]\nallowed_origins = [\"{APP}\", \"http://localhost:3000\"]"
    ))
    .await;
    let res = srv
        .client
        .post(srv.url("/auth/register"))
        .header("origin", APP)
        .json(&json!({"email": "cors@example.com", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let h = res.headers();
    assert_eq!(h["access-control-allow-origin"], APP);
    assert_eq!(h["access-control-allow-credentials"], "true");
    assert!(h["vary"].to_str().unwrap().contains("Origin"));
    assert!(
        h["access-control-expose-headers"]
            .to_str()
            .unwrap()
            .contains("retry-after")
    );

    let pre = srv
        .client
        .request(Method::OPTIONS, srv.url("/auth/refresh"))
        .header("origin", APP)
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "content-type, x-csrf-token",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(pre.status(), 204);
    let h = pre.headers();
    assert_eq!(h["access-control-allow-origin"], APP);
    assert_eq!(h["access-control-allow-credentials"], "true");
    assert!(
        h["access-control-allow-methods"]
            .to_str()
            .unwrap()
            .contains("POST")
    );
    let allowed = h["access-control-allow-headers"].to_str().unwrap();
    assert!(allowed.contains("x-csrf-token") && allowed.contains("authorization"));
    assert!(
        !allowed.contains("x-api-key"),
        "the admin API is not for browsers"
    );
    assert_eq!(h["x-content-type-options"], "nosniff");
}

#[tokio::test]
async fn unknown_and_null_origins_get_no_cors_headers() {
    let srv = start(&format!("[cors]\nallowed_origins = [\"{APP}\"]")).await;
    for origin in [
        "https://evil.example.com",
        "null",
        "https://app.example.com:8443",
        "http://app.example.com",
        "https://app.example.com.evil.com",
        "HTTPS://APP.EXAMPLE.COM",
        "https://app.example.com/",
    ] {
        let res = srv
            .client
            .get(srv.url("/healthz"))
            .header("origin", origin)
            .send()
            .await
            .unwrap();
        assert!(
            res.headers().get("access-control-allow-origin").is_none(),
            "{origin}"
        );
        assert!(
            res.headers()
                .get("access-control-allow-credentials")
                .is_none(),
            "{origin}"
        );
        let pre = srv
            .client
            .request(Method::OPTIONS, srv.url("/auth/login"))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .send()
            .await
            .unwrap();
        assert!(
            pre.headers().get("access-control-allow-origin").is_none(),
            "{origin}"
        );
        assert_ne!(pre.status(), 204, "{origin}: no preflight approval");
    }
}

#[tokio::test]
async fn no_cors_configured_means_no_cors_headers() {
    let srv = start("").await;
    let res = srv
        .client
        .get(srv.url("/healthz"))
        .header("origin", APP)
        .send()
        .await
        .unwrap();
    assert!(res.headers().get("access-control-allow-origin").is_none());
    assert!(res.headers().get("vary").is_none());
}
