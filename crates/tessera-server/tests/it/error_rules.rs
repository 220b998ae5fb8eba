//! Every bad input is a clear problem+json with the codes of API.md §2, never a 5xx.

use crate::common::*;
use serde_json::{Value, json};

#[tokio::test]
async fn unknown_routes_are_404_and_wrong_methods_405() {
    let srv = start("").await;
    for path in [
        "/nope",
        "/auth",
        "/auth/registerx",
        "/admin/unknown",
        "/.well-known/other",
    ] {
        let res = srv.client.get(srv.url(path)).send().await.unwrap();
        problem(res, 404, "not_found").await;
    }
    for (method, path) in [
        ("GET", "/auth/login"),
        ("PUT", "/auth/register"),
        ("POST", "/auth/me"),
        ("DELETE", "/healthz"),
        ("POST", "/.well-known/jwks.json"),
        ("GET", "/auth/refresh"),
    ] {
        let res = srv
            .client
            .request(method.parse().unwrap(), srv.url(path))
            .send()
            .await
            .unwrap();
        problem(res, 405, "method_not_allowed").await;
    }
}

#[tokio::test]
async fn path_parameters_that_are_not_valid_are_problem_json() {
    let srv = start("").await;
    let a = srv.register("pathparam@example.com").await;
    let access = s(&a, "access_token");
    for path in [
        "/auth/sessions/%ff",
        "/auth/sessions/%C3%28",
        "/auth/sessions/not-an-id",
    ] {
        let res = srv
            .client
            .delete(srv.url(path))
            .bearer_auth(access)
            .send()
            .await
            .unwrap();
        problem(res, 404, "not_found").await;
    }
    for (method, path) in [
        (reqwest::Method::GET, "/admin/users/%ff"),
        (reqwest::Method::DELETE, "/admin/users/%ff"),
        (reqwest::Method::GET, "/admin/users/%ff/sessions"),
        (reqwest::Method::POST, "/admin/users/%ff/ban"),
        (reqwest::Method::DELETE, "/admin/sessions/%ff"),
        (reqwest::Method::DELETE, "/admin/roles/%ff"),
        (reqwest::Method::PUT, "/admin/roles/%ff"),
    ] {
        let res = srv
            .client
            .request(method.clone(), srv.url(path))
            .header("x-api-key", ADMIN_KEY)
            .header("content-type", "application/json")
            .body(r#"{"permissions": []}"#)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 404, "{method} {path}");
        problem(res, 404, "not_found").await;
    }
}

#[tokio::test]
async fn oversized_bodies_are_413() {
    let srv = start("max_body_bytes = 2048").await;
    let big = json!({"email": "big@example.com", "password": "x".repeat(4000)});
    problem(
        srv.post("/auth/register", big.clone()).await,
        413,
        "payload_too_large",
    )
    .await;
    problem(srv.post("/auth/login", big).await, 413, "payload_too_large").await;
}

#[tokio::test]
async fn non_json_bodies_are_415() {
    let srv = start("").await;
    let body = r#"{"email":"ct@example.com","password":"correct horse battery staple"}"#;
    for ct in [
        None,
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
        Some("multipart/form-data"),
    ] {
        let mut req = srv.client.post(srv.url("/auth/register")).body(body);
        if let Some(ct) = ct {
            req = req.header("content-type", ct);
        }
        problem(req.send().await.unwrap(), 415, "unsupported_media_type").await;
    }
    let ok = srv
        .client
        .post(srv.url("/auth/register"))
        .header("content-type", "application/json; charset=utf-8")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 201, "parameters on the media type are fine");
    let res = srv
        .client
        .post(srv.url("/auth/refresh"))
        .header("content-type", "text/plain")
        .body("rt_x")
        .send()
        .await
        .unwrap();
    problem(res, 415, "unsupported_media_type").await;
}

#[tokio::test]
async fn malformed_unknown_missing_and_mistyped_fields_are_400() {
    let srv = start("").await;
    let cases: Vec<String> = vec![
        "{".into(),
        "not json".into(),
        "[]".into(),
        "null".into(),
        r#"{"email":"a@example.com"}"#.into(),
        r#"{"password":"correct horse battery staple"}"#.into(),
        r#"{"email":"a@example.com","password":"correct horse battery staple","admin":true}"#.into(),
        r#"{"email":42,"password":"correct horse battery staple"}"#.into(),
        r#"{"email":"a@example.com","password":12345678901234567}"#.into(),
        r#"{"email":"a@example.com","password":"correct horse battery staple","transport":"carrier-pigeon"}"#.into(),
        r#"{"email":"a@example.com","password":"correct horse battery staple","namespace":7}"#.into(),
        "\u{0}\u{1}\u{2}".into(),
    ];
    // A struct's fields as an array (serde would take it), on a route whose fields are all
    // optional.
    for body in ["[null, null]", "[\"a@example.com\", null]"] {
        let res = srv
            .client
            .post(srv.url("/auth/passkeys/login/options"))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        problem(res, 400, "invalid_request").await;
    }
    for body in &cases {
        for route in ["/auth/register", "/auth/login"] {
            let res = srv
                .client
                .post(srv.url(route))
                .header("content-type", "application/json")
                .body(body.clone())
                .send()
                .await
                .unwrap();
            let p = problem(res, 400, "invalid_request").await;
            assert!(
                !p.to_string().contains("12345678901234567"),
                "values are never echoed: {p}"
            );
        }
    }
    let res = srv
        .post(
            "/auth/refresh",
            json!({"refresh_token": "rt_x", "extra": 1}),
        )
        .await;
    problem(res, 400, "invalid_request").await;
    let res = srv.post("/auth/introspect", json!({"tok": "x"})).await;
    let status = res.status().as_u16();
    assert_eq!(status, 401, "the admin key is checked before the body");
}

#[tokio::test]
async fn every_response_is_nosniff_and_token_responses_are_no_store() {
    let srv = start("").await;
    let a = srv.register("hdr@example.com").await;
    for res in [
        srv.client.get(srv.url("/healthz")).send().await.unwrap(),
        srv.client.get(srv.url("/readyz")).send().await.unwrap(),
        srv.client
            .get(srv.url("/.well-known/jwks.json"))
            .send()
            .await
            .unwrap(),
        srv.client.get(srv.url("/missing")).send().await.unwrap(),
        srv.me(s(&a, "access_token")).await,
    ] {
        assert_eq!(
            res.headers()["x-content-type-options"],
            "nosniff",
            "{}",
            res.url()
        );
    }
    let login = srv
        .post(
            "/auth/login",
            json!({"email": "hdr@example.com", "password": PASSWORD}),
        )
        .await;
    assert_eq!(login.headers()["cache-control"], "no-store");
    let refresh = srv.refresh(s(&a, "refresh_token")).await;
    assert_eq!(refresh.headers()["cache-control"], "no-store");
}

#[tokio::test]
async fn protected_routes_challenge_with_www_authenticate() {
    let srv = start("").await;
    for (method, path) in [
        ("GET", "/auth/me"),
        ("GET", "/auth/sessions"),
        ("DELETE", "/auth/sessions"),
        ("DELETE", "/auth/sessions/x"),
        ("POST", "/auth/logout"),
    ] {
        let res = srv
            .client
            .request(method.parse().unwrap(), srv.url(path))
            .send()
            .await
            .unwrap();
        let www = res
            .headers()
            .get("www-authenticate")
            .map(|v| v.to_str().unwrap().to_owned());
        let body = problem(res, 401, "missing_token").await;
        let www = www.unwrap_or_else(|| panic!("no challenge on {path}: {body}"));
        assert!(
            www.starts_with("Bearer ") && www.contains("error=\"invalid_token\""),
            "{www}"
        );
    }
    let res = srv
        .client
        .get(srv.url("/auth/me"))
        .bearer_auth("x.y.z")
        .send()
        .await
        .unwrap();
    assert!(
        res.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("invalid_token")
    );
    // Not on the public routes.
    let res = srv
        .post(
            "/auth/login",
            json!({"email": "no@example.com", "password": PASSWORD}),
        )
        .await;
    assert!(res.headers().get("www-authenticate").is_none());
}

#[tokio::test]
async fn health_and_readiness() {
    let srv = start("").await;
    let res = srv.client.get(srv.url("/healthz")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "application/json");
    assert_eq!(res.headers()["cache-control"], "no-store");
    assert_eq!(res.json::<Value>().await.unwrap(), json!({"status": "ok"}));
    let res = srv.client.get(srv.url("/readyz")).send().await.unwrap();
    assert_eq!(res.status(), 200);
}
