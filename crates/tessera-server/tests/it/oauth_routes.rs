//! RFC 7009 token revocation (`POST /auth/revoke`) and RFC 8414 metadata, over HTTP.

use reqwest::Response;
use serde_json::{Value, json};

use crate::common::*;

async fn revoke_form(srv: &TestServer, form: &[(&str, &str)]) -> Response {
    srv.client
        .post(srv.url("/auth/revoke"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(serde_urlencoded::to_string(form).unwrap())
        .send()
        .await
        .unwrap()
}

/// The same token with one character of its secret changed: well-formed, never issued.
fn altered(token: &str) -> String {
    let mut bytes = token.as_bytes().to_vec();
    let i = bytes.len() - 5;
    bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
    String::from_utf8(bytes).unwrap()
}

async fn assert_ended(srv: &TestServer, tokens: &Value) {
    problem(
        srv.me(s(tokens, "access_token")).await,
        401,
        "session_revoked",
    )
    .await;
    problem(
        srv.refresh(s(tokens, "refresh_token")).await,
        401,
        "session_revoked",
    )
    .await;
}

#[tokio::test]
async fn a_refresh_token_or_an_access_token_ends_its_session_as_json_or_form() {
    let srv = start("").await;
    let a = srv.register("rfc7009@example.com").await;
    let res = srv
        .post("/auth/revoke", json!({"token": s(&a, "refresh_token")}))
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["cache-control"], "no-store");
    assert_ended(&srv, &a).await;

    // An access token, as a form, with and without the (wrong) hint.
    for hint in [None, Some("refresh_token"), Some("access_token")] {
        let t = srv.login("rfc7009@example.com").await;
        let mut form = vec![("token", s(&t, "access_token"))];
        if let Some(h) = hint {
            form.push(("token_type_hint", h));
        }
        form.push(("client_id", "any-client")); // other parameters are ignored
        assert_eq!(revoke_form(&srv, &form).await.status(), 200, "{hint:?}");
        assert_ended(&srv, &t).await;
    }

    // A rotated-out refresh token is still genuine: it proves the holder had the session.
    let t = srv.login("rfc7009@example.com").await;
    let next: Value = srv
        .refresh(s(&t, "refresh_token"))
        .await
        .json()
        .await
        .unwrap();
    let res = revoke_form(&srv, &[("token", s(&t, "refresh_token"))]).await;
    assert_eq!(res.status(), 200);
    assert_ended(&srv, &next).await;
}

#[tokio::test]
async fn an_expired_access_token_still_ends_its_session() {
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    // No leeway, so the token is past `exp` after one second.
    let srv = start_tuned(dir, "[tokens]\naccess_ttl = \"1s\"\n", |s| {
        s.engine.leeway_secs = 0
    })
    .await;
    let t = srv.register("expired7009@example.com").await;
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    problem(srv.me(s(&t, "access_token")).await, 401, "token_expired").await;
    let res = revoke_form(&srv, &[("token", s(&t, "access_token"))]).await;
    assert_eq!(res.status(), 200);
    problem(
        srv.refresh(s(&t, "refresh_token")).await,
        401,
        "session_revoked",
    )
    .await;
}

#[tokio::test]
async fn unknown_forged_and_garbage_tokens_get_200_and_change_nothing() {
    let srv = start("").await;
    let t = srv.register("guess7009@example.com").await;
    let forged_refresh = altered(s(&t, "refresh_token"));
    let forged_access = altered(s(&t, "access_token"));
    for token in [
        "",
        "garbage",
        "rt_",
        "rt_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        forged_refresh.as_str(),
        forged_access.as_str(),
        "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.",
    ] {
        for hint in ["refresh_token", "access_token", "nonsense"] {
            let res = revoke_form(&srv, &[("token", token), ("token_type_hint", hint)]).await;
            assert_eq!(res.status(), 200, "{token:?} {hint}");
        }
        let res = srv.post("/auth/revoke", json!({"token": token})).await;
        assert_eq!(res.status(), 200, "{token:?}");
    }
    // Still alive: guessing can never sign anyone out.
    assert_eq!(srv.me(s(&t, "access_token")).await.status(), 200);
    assert_eq!(srv.refresh(s(&t, "refresh_token")).await.status(), 200);
}

#[tokio::test]
async fn a_request_without_a_token_or_of_another_type_is_refused() {
    let srv = start("").await;
    problem(
        revoke_form(&srv, &[("token_type_hint", "refresh_token")]).await,
        400,
        "invalid_request",
    )
    .await;
    problem(
        srv.post("/auth/revoke", json!({"token": 5})).await,
        400,
        "invalid_request",
    )
    .await;
    let res = srv
        .client
        .post(srv.url("/auth/revoke"))
        .header("content-type", "text/plain")
        .body("token=abc")
        .send()
        .await
        .unwrap();
    let body = problem(res, 415, "unsupported_media_type").await;
    // The route takes a form as well as JSON, and says so.
    assert!(body["title"].as_str().unwrap().contains("form"), "{body}");
}

#[tokio::test]
async fn the_metadata_document_names_the_issuer_and_the_endpoints() {
    let srv = start("").await;
    let res = srv
        .client
        .get(srv.url("/.well-known/oauth-authorization-server"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["cache-control"], "public, max-age=300");
    let doc: Value = res.json().await.unwrap();
    let iss = "http://tessera.test";
    assert_eq!(doc["issuer"], iss);
    assert_eq!(doc["jwks_uri"], format!("{iss}/.well-known/jwks.json"));
    assert_eq!(
        doc["introspection_endpoint"],
        format!("{iss}/auth/introspect")
    );
    assert_eq!(doc["revocation_endpoint"], format!("{iss}/auth/revoke"));
    assert_eq!(
        doc["revocation_feed_endpoint"],
        format!("{iss}/auth/revocations")
    );
    // The issuer in the document is the issuer in the tokens (RFC 8414 §3.3).
    let t = srv.register("meta@example.com").await;
    let payload = s(&t, "access_token").split('.').nth(1).unwrap().to_owned();
    use base64::Engine as _;
    let claims: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap();
    assert_eq!(claims["iss"], doc["issuer"]);
}
