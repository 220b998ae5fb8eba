//! The cookie transport and CSRF (API.md §4.2). Cookies are set by hand: client jars will not
//! send `Secure` cookies over plain http.

use crate::common::*;
use reqwest::Response;
use serde_json::{Value, json};

fn set_cookies(res: &Response) -> Vec<String> {
    res.headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect()
}

fn cookie_value(cookies: &[String], name: &str) -> String {
    let c = cookies
        .iter()
        .find(|c| c.starts_with(&format!("{name}=")))
        .unwrap_or_else(|| panic!("{name} not set in {cookies:?}"));
    c[name.len() + 1..].split(';').next().unwrap().to_owned()
}

async fn cookie_login(srv: &TestServer, email: &str) -> (Value, String, String) {
    srv.register(email).await;
    let res = srv
        .post(
            "/auth/login",
            json!({"email": email, "password": PASSWORD, "transport": "cookie"}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let cookies = set_cookies(&res);
    let body: Value = res.json().await.unwrap();
    let rt = cookie_value(&cookies, "__Secure-tessera_refresh");
    let csrf = cookie_value(&cookies, "__Host-tessera_csrf");
    (body, rt, csrf)
}

#[tokio::test]
async fn cookie_login_sets_both_cookies_with_the_right_attributes() {
    let srv = start("").await;
    srv.register("c@example.com").await;
    let res = srv
        .post(
            "/auth/login",
            json!({"email": "c@example.com", "password": PASSWORD, "transport": "cookie"}),
        )
        .await;
    let cookies = set_cookies(&res);
    let body: Value = res.json().await.unwrap();
    assert!(
        body.get("refresh_token").is_none(),
        "the refresh token is not in the body"
    );
    assert!(
        body["access_token"].is_string(),
        "the access token stays in the body"
    );
    let refresh = cookies
        .iter()
        .find(|c| c.starts_with("__Secure-tessera_refresh=rt_"))
        .unwrap();
    for attr in [
        "HttpOnly",
        "SameSite=Strict",
        "Path=/auth",
        "Secure",
        "Max-Age=",
    ] {
        assert!(refresh.contains(attr), "{attr} missing in {refresh}");
    }
    let max_age: i64 = refresh
        .split("Max-Age=")
        .nth(1)
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        (14 * 86_400 - 10..=14 * 86_400).contains(&max_age),
        "{max_age}"
    );
    let csrf = cookies
        .iter()
        .find(|c| c.starts_with("__Host-tessera_csrf="))
        .unwrap();
    assert!(
        !csrf.contains("HttpOnly"),
        "scripts must read the csrf cookie"
    );
    for attr in ["SameSite=Strict", "Path=/", "Secure"] {
        assert!(csrf.contains(attr), "{attr} missing in {csrf}");
    }
    assert_eq!(
        cookie_value(&cookies, "__Host-tessera_csrf"),
        body["csrf_token"].as_str().unwrap()
    );
}

#[tokio::test]
async fn insecure_cookie_settings_use_plain_names_and_no_secure_flag() {
    let srv =
        start("[cookies]\nsecure = false\nsame_site = \"Lax\"\ndefault_transport = \"cookie\"")
            .await;
    let res = srv
        .post(
            "/auth/register",
            json!({"email": "plain@example.com", "password": PASSWORD}),
        )
        .await;
    let cookies = set_cookies(&res);
    let refresh = cookies
        .iter()
        .find(|c| c.starts_with("tessera_refresh="))
        .unwrap();
    assert!(!refresh.contains("Secure") && refresh.contains("SameSite=Lax"));
    assert!(cookies.iter().any(|c| c.starts_with("tessera_csrf=")));
}

#[tokio::test]
async fn cookie_refresh_needs_the_csrf_header_and_keeps_the_cookie_transport() {
    let srv = start("").await;
    let (_, rt, csrf) = cookie_login(&srv, "csrf@example.com").await;
    let cookie = format!("__Secure-tessera_refresh={rt}; __Host-tessera_csrf={csrf}");
    let no_header = srv
        .client
        .post(srv.url("/auth/refresh"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    problem(no_header, 403, "csrf_failed").await;
    let wrong = srv
        .client
        .post(srv.url("/auth/refresh"))
        .header("cookie", &cookie)
        .header("x-csrf-token", "forged")
        .send()
        .await
        .unwrap();
    problem(wrong, 403, "csrf_failed").await;
    // Another session's valid csrf token does not fit this session.
    let (_, _, other_csrf) = cookie_login(&srv, "csrf2@example.com").await;
    let crossed = srv
        .client
        .post(srv.url("/auth/refresh"))
        .header("cookie", &cookie)
        .header("x-csrf-token", &other_csrf)
        .send()
        .await
        .unwrap();
    problem(crossed, 403, "csrf_failed").await;
    let ok = srv
        .client
        .post(srv.url("/auth/refresh"))
        .header("cookie", &cookie)
        .header("x-csrf-token", &csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    let cookies = set_cookies(&ok);
    let body: Value = ok.json().await.unwrap();
    assert!(
        body.get("refresh_token").is_none(),
        "refresh keeps the cookie transport"
    );
    let next = cookie_value(&cookies, "__Secure-tessera_refresh");
    assert_ne!(next, rt);
    // The csrf token stays valid for the session's life, across rotations.
    assert_eq!(cookie_value(&cookies, "__Host-tessera_csrf"), csrf);
    let again = srv
        .client
        .post(srv.url("/auth/refresh"))
        .header("cookie", format!("__Secure-tessera_refresh={next}"))
        .header("x-csrf-token", &csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 200);
}

#[tokio::test]
async fn body_refresh_of_a_cookie_session_uses_the_body_transport() {
    let srv = start("").await;
    let (_, rt, _) = cookie_login(&srv, "mixed@example.com").await;
    let res = srv.refresh(&rt).await;
    assert_eq!(res.status(), 200);
    assert!(set_cookies(&res).is_empty());
    let body: Value = res.json().await.unwrap();
    assert!(body["refresh_token"].as_str().unwrap().starts_with("rt_"));
}

#[tokio::test]
async fn cookie_logout_needs_csrf_and_clears_the_cookies() {
    let srv = start("").await;
    let (body, rt, csrf) = cookie_login(&srv, "out@example.com").await;
    let cookie = format!("__Secure-tessera_refresh={rt}");
    let res = srv
        .client
        .post(srv.url("/auth/logout"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    problem(res, 403, "csrf_failed").await;
    assert_eq!(
        srv.me(s(&body, "access_token")).await.status(),
        200,
        "nothing happened without csrf"
    );
    let res = srv
        .client
        .post(srv.url("/auth/logout"))
        .header("cookie", &cookie)
        .header("x-csrf-token", &csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    let cleared = set_cookies(&res);
    assert!(
        cleared
            .iter()
            .any(|c| c.starts_with("__Secure-tessera_refresh=;") && c.contains("Max-Age=0")),
        "{cleared:?}"
    );
    assert!(
        cleared
            .iter()
            .any(|c| c.starts_with("__Host-tessera_csrf=;") && c.contains("Max-Age=0")),
        "{cleared:?}"
    );
    problem(
        srv.me(s(&body, "access_token")).await,
        401,
        "session_revoked",
    )
    .await;
}

#[tokio::test]
async fn a_forged_refresh_cookie_is_invalid_not_a_csrf_oracle() {
    let srv = start("").await;
    let res = srv
        .client
        .post(srv.url("/auth/refresh"))
        .header("cookie", "__Secure-tessera_refresh=rt_forged")
        .header("x-csrf-token", "x")
        .send()
        .await
        .unwrap();
    problem(res, 401, "invalid_refresh_token").await;
}
