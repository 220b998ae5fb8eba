//! JWKS, introspection and access-token handling over HTTP (API.md §3).

use crate::admin_routes::{admin, ok_json};
use crate::common::*;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::Method;
use serde_json::{Value, json};

async fn introspect(srv: &TestServer, key: Option<&str>, token: &str) -> reqwest::Response {
    let mut req = srv
        .client
        .post(srv.url("/auth/introspect"))
        .json(&json!({"token": token}));
    if let Some(k) = key {
        req = req.header("x-api-key", k);
    }
    req.send().await.unwrap()
}

#[tokio::test]
async fn jwks_verifies_tokens_with_a_standard_library() {
    let srv = start("").await;
    let a = srv.register("jwks@example.com").await;
    let res = srv
        .client
        .get(srv.url("/.well-known/jwks.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["cache-control"], "public, max-age=300");
    let jwks: Value = res.json().await.unwrap();
    let keys = jwks["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 2, "current and next are published");
    for k in keys {
        assert_eq!(k["use"], "sig");
        assert_eq!(k["alg"], "EdDSA");
        assert!(k["kid"].is_string() && k.get("d").is_none());
    }
    jsonwebtoken::crypto::rust_crypto::DEFAULT_PROVIDER
        .install_default()
        .ok();
    let set: jsonwebtoken::jwk::JwkSet = serde_json::from_value(jwks).unwrap();
    let token = s(&a, "access_token");
    let header = jsonwebtoken::decode_header(token).unwrap();
    assert_eq!(header.typ.as_deref(), Some("at+jwt"));
    let key =
        jsonwebtoken::DecodingKey::from_jwk(set.find(header.kid.as_deref().unwrap()).unwrap())
            .unwrap();
    let mut v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::EdDSA);
    v.set_issuer(&["http://tessera.test"]);
    let data = jsonwebtoken::decode::<Value>(token, &key, &v).unwrap();
    let c = data.claims;
    assert_eq!(c["sid"], a["session_id"]);
    assert_eq!(c["sub"], a["user"]["id"]);
    assert_eq!(c["ns"], "default");
    assert_eq!(c["exp"].as_i64().unwrap() - c["iat"].as_i64().unwrap(), 900);
    assert!(c["jti"].is_string() && c["roles"].is_array() && c["perms"].is_array());
    assert!(c.get("aud").is_none(), "no audience unless configured");
}

#[tokio::test]
async fn tokens_survive_a_restart_on_the_same_database() {
    let srv = start("").await;
    let a = srv.register("restart@example.com").await;
    let jwks_before: Value = srv.jwks().await;
    let again = srv.restart("").await;
    assert_eq!(
        again.me(s(&a, "access_token")).await.status(),
        200,
        "issued before the restart"
    );
    assert_eq!(again.refresh(s(&a, "refresh_token")).await.status(), 200);
    let jwks_after: Value = again.jwks().await;
    assert_eq!(jwks_before, jwks_after);
}

#[tokio::test]
async fn audience_is_put_in_and_checked_when_configured() {
    let srv = start("audience = [\"my-api\"]").await;
    let a = srv.register("aud@example.com").await;
    let payload = s(&a, "access_token").split('.').nth(1).unwrap().to_owned();
    let claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
    assert_eq!(claims["aud"], "my-api");
    assert_eq!(srv.me(s(&a, "access_token")).await.status(), 200);
}

#[tokio::test]
async fn introspection_needs_the_admin_key_and_reports_activity() {
    let srv = start("").await;
    let a = srv.register("intro@example.com").await;
    let access = s(&a, "access_token");
    problem(introspect(&srv, None, access).await, 401, "unauthorized").await;
    problem(
        introspect(&srv, Some("wrong-key-0123456789"), access).await,
        401,
        "unauthorized",
    )
    .await;
    problem(
        introspect(&srv, Some(""), access).await,
        401,
        "unauthorized",
    )
    .await;
    let res = introspect(&srv, Some(ADMIN_KEY), access).await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["active"], true);
    assert_eq!(body["sid"], a["session_id"]);
    assert_eq!(body["sub"], a["user"]["id"]);
    for k in ["exp", "iat", "ns", "roles", "perms"] {
        assert!(!body[k].is_null(), "{k}");
    }
    for dead in ["garbage", s(&a, "refresh_token"), &format!("{access}x")] {
        let body: Value = introspect(&srv, Some(ADMIN_KEY), dead)
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(body, json!({"active": false}));
    }
    srv.client
        .post(srv.url("/auth/logout"))
        .bearer_auth(access)
        .send()
        .await
        .unwrap();
    let body: Value = introspect(&srv, Some(ADMIN_KEY), access)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        body,
        json!({"active": false}),
        "revoked from the next request on"
    );
}

#[tokio::test]
async fn access_tokens_come_only_from_the_authorization_header() {
    let srv = start("").await;
    let a = srv.register("hdr@example.com").await;
    let access = s(&a, "access_token");
    for scheme in ["Bearer", "bearer", "BEARER", "bEaReR"] {
        let res = srv
            .client
            .get(srv.url("/auth/me"))
            .header("authorization", format!("{scheme} {access}"))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "{scheme}");
    }
    let res = srv
        .client
        .get(srv.url(&format!("/auth/me?access_token={access}")))
        .send()
        .await
        .unwrap();
    problem(res, 401, "missing_token").await;
    let res = srv
        .client
        .get(srv.url("/auth/me"))
        .header("cookie", format!("access_token={access}"))
        .send()
        .await
        .unwrap();
    problem(res, 401, "missing_token").await;
    // Another scheme, or none, is no credential at all (API.md §2).
    for other in [format!("Basic {access}"), access.to_owned()] {
        let res = srv
            .client
            .get(srv.url("/auth/me"))
            .header("authorization", other)
            .send()
            .await
            .unwrap();
        problem(res, 401, "missing_token").await;
    }
    for bad in ["Bearer", "Bearer ", "bearer  "] {
        let res = srv
            .client
            .get(srv.url("/auth/me"))
            .header("authorization", bad)
            .send()
            .await
            .unwrap();
        problem(res, 401, "invalid_token").await;
    }
}

#[tokio::test]
async fn altered_and_forged_access_tokens_are_401_never_5xx() {
    let srv = start("").await;
    let a = srv.register("forge@example.com").await;
    let access = s(&a, "access_token");
    let parts: Vec<&str> = access.split('.').collect();
    let claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    let enc = |v: &Value| URL_SAFE_NO_PAD.encode(v.to_string());
    let mut other_sub = claims.clone();
    other_sub["sub"] = json!(uuid::Uuid::now_v7().to_string());
    let none_header = json!({"alg": "none", "typ": "at+jwt", "kid": "x"});
    let hs_header = json!({"alg": "HS256", "typ": "at+jwt", "kid": "x"});
    let mut bad_types = claims.clone();
    bad_types["exp"] = json!("tomorrow");
    let forged = [
        format!("{}.{}.{}", parts[0], enc(&other_sub), parts[2]),
        format!("{}.{}.", enc(&none_header), parts[1]),
        format!("{}.{}.{}", enc(&hs_header), parts[1], parts[2]),
        format!("{}.{}.{}", parts[0], enc(&bad_types), parts[2]),
        format!("{}.{}.{}=", parts[0], parts[1], parts[2]),
        format!("{{\"payload\":\"{}\"}}", parts[1]),
        "a.b.c".into(),
        "\u{1F600}".into(),
        "x".repeat(9000),
    ];
    for f in &forged {
        let res = srv
            .client
            .get(srv.url("/auth/me"))
            .bearer_auth(f)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status().as_u16(), 401, "for {f:.60}");
        let www = res.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(
            www.starts_with("Bearer ") && www.contains("error=\"invalid_token\""),
            "{www}"
        );
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["code"], "invalid_token");
    }
}

#[tokio::test]
async fn every_configured_algorithm_signs_and_verifies() {
    for (extra, alg, published) in [
        ("[tokens]\nalgorithm = \"ES256\"", "ES256", true),
        ("[tokens]\nalgorithm = \"Ed25519\"", "Ed25519", true),
        ("[tokens]\nalgorithm = \"RS256\"", "RS256", true),
        (
            "[tokens]\nalgorithm = \"HS256\"\nhs256_secret = \"0123456789abcdef0123456789abcdef\"",
            "HS256",
            false,
        ),
    ] {
        let srv = start(extra).await;
        let a = srv.register("alg@example.com").await;
        let header = s(&a, "access_token").split('.').next().unwrap().to_owned();
        let header: Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).unwrap()).unwrap();
        assert_eq!(header["alg"], alg);
        assert_eq!(header["typ"], "at+jwt");
        assert_eq!(srv.me(s(&a, "access_token")).await.status(), 200, "{alg}");
        let jwks: Value = srv.jwks().await;
        let keys = jwks["keys"].as_array().unwrap();
        if published {
            assert!(keys.iter().all(|k| k["alg"] == alg) && !keys.is_empty());
        } else {
            assert!(keys.is_empty(), "HS256 keys are never published");
        }
    }
}

/// RFC 9864's fully specified `Ed25519` (issue 24): Tessera signs and publishes under that name,
/// and tessera-axum, learning the algorithm from the JWKS, verifies it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ed25519_named_tokens_verify_in_tessera_axum() {
    let srv = start(&format!(
        "resource_server_keys = [\"{RESOURCE_KEY}\"]\n[tokens]\nalgorithm = \"Ed25519\""
    ))
    .await;
    let api =
        crate::resource_server::Api::tuned(&srv.base, |b| b.issuer("http://tessera.test")).await;
    api.ready().await;
    let a = srv.register("ed25519@example.com").await;
    assert_eq!(api.hello(s(&a, "access_token")).await.status(), 200);
}

/// `[events] refreshes = false`: refreshes rotate as ever and record no `session.refreshed`;
/// reuse and every other event are still recorded. (The default records it:
/// admin_routes.rs, `events_are_typed_newest_first_and_filtered`.)
#[tokio::test]
async fn refresh_events_can_be_left_out() {
    let srv = start("[tokens]\nreuse_grace = \"0\"\n[events]\nrefreshes = false").await;
    let a = srv.register("quiet-refresh@example.com").await;
    let first = a["refresh_token"].as_str().unwrap();
    let res = srv.refresh(first).await;
    assert_eq!(res.status(), 200);
    let rotated: Value = res.json().await.unwrap();
    let next = rotated["refresh_token"].as_str().unwrap();
    assert_ne!(next, first, "the token rotated");
    let reuse = srv.refresh(first).await; // the session ends, and that is recorded
    assert_eq!(reuse.status(), 401);
    let events = ok_json(admin(&srv, Method::GET, "/admin/events", None).await, 200).await;
    let types: Vec<&str> = events["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert!(!types.contains(&"session.refreshed"), "{types:?}");
    for t in ["user.registered", "session.reuse_detected"] {
        assert!(types.contains(&t), "{t} in {types:?}");
    }
}
