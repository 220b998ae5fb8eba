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

/// RFC 7662 the way standard clients send it: a form with `token_type_hint`, the resource key
/// as the password of HTTP Basic (any client id); the header `X-Api-Key` and JSON still work.
#[tokio::test]
async fn introspection_takes_a_form_a_hint_and_the_key_as_http_basic() {
    let srv = start(&format!("resource_server_keys = [\"{RESOURCE_KEY}\"]")).await;
    let t = srv.register("rfc7662@example.com").await;
    let token = s(&t, "access_token");
    let introspect = |body: String, ctype: &'static str, auth: Option<(&str, &str)>| {
        let mut req = srv
            .client
            .post(srv.url("/auth/introspect"))
            .header("content-type", ctype)
            .body(body);
        if let Some((user, password)) = auth {
            req = req.basic_auth(user, Some(password));
        }
        req.send()
    };
    let form = serde_urlencoded::to_string([("token", token), ("token_type_hint", "access_token")])
        .unwrap();
    let ctype = "application/x-www-form-urlencoded";
    for user in ["my-api", "", "another client"] {
        let res = introspect(form.clone(), ctype, Some((user, RESOURCE_KEY)))
            .await
            .unwrap();
        let body = json_ok(res).await;
        assert_eq!(body["active"], true, "{user:?}: {body}");
    }
    // The admin key too; a wrong key, a key as the user name, or no password: 401.
    let res = introspect(form.clone(), ctype, Some(("x", ADMIN_KEY)));
    assert_eq!(res.await.unwrap().status(), 200);
    for auth in [
        Some(("x", "not-the-key-0123456789")),
        Some((RESOURCE_KEY, "")),
        None,
    ] {
        let res = introspect(form.clone(), ctype, auth).await.unwrap();
        problem(res, 401, "unauthorized").await;
    }
    // A Basic header that is not base64, or has no colon: 401, never a 500.
    for header in ["Basic !!!", "Basic bm9jb2xvbg==", "Basic"] {
        let res = srv
            .client
            .post(srv.url("/auth/introspect"))
            .header("content-type", ctype)
            .header("authorization", header)
            .body(form.clone())
            .send()
            .await
            .unwrap();
        problem(res, 401, "unauthorized").await;
    }
    // JSON with the hint and X-Api-Key; a refresh token is not an access token.
    let body = json!({"token": s(&t, "refresh_token"), "token_type_hint": "refresh_token"});
    let res = srv
        .client
        .post(srv.url("/auth/introspect"))
        .header("x-api-key", RESOURCE_KEY)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(json_ok(res).await, json!({"active": false}));
    // A form without a token is a 400; another media type a 415.
    let res = introspect("token_type_hint=x".into(), ctype, Some(("a", RESOURCE_KEY)));
    problem(res.await.unwrap(), 400, "invalid_request").await;
    let res = introspect(form, "text/plain", Some(("a", RESOURCE_KEY)));
    assert_eq!(res.await.unwrap().status(), 415);
}

#[tokio::test]
async fn the_metadata_says_what_is_supported_and_nothing_more() {
    let srv = start("").await;
    let res = srv
        .client
        .get(srv.url("/.well-known/oauth-authorization-server"))
        .send()
        .await
        .unwrap();
    let doc: Value = res.json().await.unwrap();
    // No authorization or OAuth token endpoint: no grant types, no response types (RFC 8414's
    // defaults for absent members would claim authorization_code and implicit).
    assert_eq!(doc["grant_types_supported"], json!([]));
    assert_eq!(doc["response_types_supported"], json!([]));
    assert!(doc.get("authorization_endpoint").is_none());
    assert!(doc.get("token_endpoint").is_none());
    assert_eq!(
        doc["introspection_endpoint_auth_methods_supported"],
        json!(["client_secret_basic"])
    );
    assert_eq!(
        doc["revocation_endpoint_auth_methods_supported"],
        json!(["none"])
    );
}

/// authlib, a standard OAuth client, as a new user would use it: its metadata checks, its
/// introspection (form, hint, client_secret_basic) and its revocation.
#[tokio::test]
async fn authlib_introspects_revokes_and_validates_the_metadata() {
    let has_authlib = std::process::Command::new("python3")
        .args(["-c", "import authlib, requests"])
        .status()
        .is_ok_and(|s| s.success());
    if !has_authlib {
        assert!(
            std::env::var("CI").ok().as_deref() != Some("true"),
            "CI must install authlib"
        );
        eprintln!(
            "\n*** SKIPPED: pip install authlib==1.9.10 requests to run the authlib test ***\n"
        );
        return;
    }
    // An https issuer, as in production: authlib checks every URL's scheme.
    let srv = start(&format!(
        "issuer = \"https://auth.example.com\"\nresource_server_keys = [\"{RESOURCE_KEY}\"]"
    ))
    .await;
    let t = srv.register("authlib@example.com").await;
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/python/authlib_client.py"
    );
    // Not on this thread: the server under test answers on this test's runtime.
    let args = [
        srv.url(""),
        RESOURCE_KEY.to_owned(),
        s(&t, "access_token").to_owned(),
        s(&t, "refresh_token").to_owned(),
    ];
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new("python3")
            .arg(script)
            .args(args)
            .output()
    })
    .await
    .unwrap()
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let seen: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(seen["introspect_status"], 200, "{seen}");
    assert_eq!(seen["introspection"]["active"], true, "{seen}");
    assert_eq!(
        seen["introspection"]["sub"],
        claims_of(s(&t, "access_token"))["sub"]
    );
    assert_eq!(seen["altered"], json!({"active": false}));
    assert_eq!(seen["wrong_key_status"], 401);
    assert_eq!(seen["revoke_status"], 200);
    assert_eq!(seen["after_revoke"], json!({"active": false}), "{seen}");
    // Only the checks that need an OAuth token or authorization endpoint fail: Tessera has
    // neither (docs/resource-servers.md, "Standard OAuth clients").
    let failed: Vec<&String> = seen["metadata_failed"]
        .as_object()
        .unwrap()
        .keys()
        .collect();
    assert_eq!(
        failed,
        ["response_types_supported", "token_endpoint"],
        "{seen}"
    );
}

async fn json_ok(res: Response) -> Value {
    let status = res.status();
    assert_eq!(status, 200, "{}", res.text().await.unwrap());
    res.json().await.unwrap()
}

fn claims_of(token: &str) -> Value {
    use base64::Engine as _;
    let payload = token.split('.').nth(1).unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}
