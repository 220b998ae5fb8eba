//! Signing keys over HTTP (API.md §3, §5): listing and rotation, retired keys leaving the JWKS,
//! and tokens living longer than the configured lifetime.

use reqwest::Method;
use serde_json::Value;

use crate::admin_routes::{admin, ok_json};
use crate::common::*;

#[tokio::test]
async fn keys_are_listed_and_rotated() {
    let srv = start("").await;
    let before = srv.register("k@example.com").await;
    let keys = ok_json(admin(&srv, Method::GET, "/admin/keys", None).await, 200).await;
    let states: Vec<&str> = keys["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["state"].as_str().unwrap())
        .collect();
    assert_eq!(states.len(), 2);
    assert!(states.contains(&"current") && states.contains(&"next"));
    let next_kid = keys["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["state"] == "next")
        .unwrap()["kid"]
        .clone();
    let now = ok_json(
        admin(&srv, Method::POST, "/admin/keys/rotate", None).await,
        200,
    )
    .await;
    assert_eq!(now["kid"], next_kid);
    assert_eq!(now["state"], "current");
    assert_eq!(now["alg"], "EdDSA");
    let after = srv.login("k@example.com").await;
    let header = s(&after, "access_token")
        .split('.')
        .next()
        .unwrap()
        .to_owned();
    assert!(
        String::from_utf8(base64_decode(&header))
            .unwrap()
            .contains(next_kid.as_str().unwrap())
    );
    assert_eq!(
        srv.me(s(&before, "access_token")).await.status(),
        200,
        "the retiring key still verifies"
    );
    let jwks: Value = srv.jwks().await;
    assert_eq!(jwks["keys"].as_array().unwrap().len(), 3);
    let events = ok_json(
        admin(&srv, Method::GET, "/admin/events?type=key.rotated", None).await,
        200,
    )
    .await;
    assert_eq!(events["events"].as_array().unwrap().len(), 1);
}

/// API.md §3: a retired key stays published for `access_ttl` (plus the leeway) after it stopped
/// signing, and then leaves the JWKS: four rotations do not leave six keys behind.
#[tokio::test]
async fn retired_keys_leave_the_jwks_once_their_tokens_are_dead() {
    let srv = start("[tokens]\naccess_ttl = \"1s\"").await;
    let count = || async {
        let jwks: Value = srv.jwks().await;
        jwks["keys"].as_array().unwrap().len()
    };
    assert_eq!(count().await, 2);
    let early = srv.register("retire@example.com").await;
    for _ in 0..4 {
        assert_eq!(
            admin(&srv, Method::POST, "/admin/keys/rotate", None)
                .await
                .status(),
            200
        );
    }
    assert_eq!(
        count().await,
        6,
        "current, next and four retiring, still in their window"
    );
    // 1 s of access_ttl and 5 s of leeway later, the next key reload drops them (a rotation
    // reloads at once; the periodic reload would too).
    tokio::time::sleep(std::time::Duration::from_millis(6500)).await;
    assert_eq!(
        admin(&srv, Method::POST, "/admin/keys/rotate", None)
            .await
            .status(),
        200
    );
    assert_eq!(
        count().await,
        3,
        "current, next and the key retired just now"
    );
    // A token of a dropped key is refused like any unknown key.
    problem(
        srv.me(s(&early, "access_token")).await,
        401,
        "invalid_token",
    )
    .await;
}

/// API.md §3: a token whose lifetime is longer than the configured `access_ttl` is refused, so
/// shortening `access_ttl` never revives an old token.
#[tokio::test]
async fn a_shorter_access_ttl_refuses_tokens_issued_under_a_longer_one() {
    let srv = start("[tokens]\naccess_ttl = \"15m\"").await;
    let old = srv.register("ttl@example.com").await;
    assert_eq!(srv.me(s(&old, "access_token")).await.status(), 200);
    let srv = srv.restart("[tokens]\naccess_ttl = \"5m\"").await;
    problem(srv.me(s(&old, "access_token")).await, 401, "invalid_token").await;
    let fresh = srv.login("ttl@example.com").await;
    assert_eq!(srv.me(s(&fresh, "access_token")).await.status(), 200);
}

fn base64_decode(s: &str) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(s)
        .unwrap()
}
