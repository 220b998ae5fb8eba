//! The shared resource-server suite's scenarios of the feed, keys and DPoP (run against every
//! example by `example_suite.rs`): every kind of revocation through the stream, a revocation
//! made while Tessera was down, a key rotation, the stale policy, DPoP-bound tokens.

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{Value, json};

use crate::dpop_client::DpopKey;
use crate::example_suite::{Example, Lang, sub_of};
use crate::resource_server::{refused, s};
use crate::tessera_process::*;

pub(crate) async fn every_kind_of_revocation_arrives_through_the_stream_within_a_second(
    lang: Lang,
) {
    let t = TesseraProcess::start("", "").await;
    let Some(api) = Example::start(lang, &t.base(), &[]).await else {
        return;
    };
    api.healthy().await;
    let bound = Duration::from_secs(1);
    let mut timings = Vec::new();

    // A session (logout).
    let a = t.register("logout@example.com").await;
    assert_eq!(
        api.get("/hello", Some(s(&a, "access_token")))
            .await
            .status(),
        200
    );
    let res = t
        .client
        .post(t.url("/auth/logout"))
        .bearer_auth(s(&a, "access_token"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    timings.push((
        "session",
        api.time_until_revoked(s(&a, "access_token"), bound).await,
    ));

    // A user (ban); another user's token is unaffected.
    let b = t.register("ban@example.com").await;
    let other = t.register("other@example.com").await;
    let res = t
        .admin(
            Method::POST,
            &format!("/admin/users/{}/ban", sub_of(&b)),
            json!({}),
        )
        .await;
    assert_eq!(res.status(), 200);
    timings.push((
        "user",
        api.time_until_revoked(s(&b, "access_token"), bound).await,
    ));
    assert_eq!(
        api.get("/hello", Some(s(&other, "access_token")))
            .await
            .status(),
        200
    );

    // A user in one namespace; the same user elsewhere is unaffected.
    t.register("ns@example.com").await;
    let web = t.login_in("ns@example.com", Some("web")).await;
    let mobile = t.login_in("ns@example.com", Some("mobile")).await;
    let res = t
        .admin(
            Method::POST,
            "/admin/sessions/revoke",
            json!({"user_id": sub_of(&web), "namespace": "web"}),
        )
        .await;
    assert_eq!(res.status(), 200);
    timings.push((
        "user in namespace",
        api.time_until_revoked(s(&web, "access_token"), bound).await,
    ));
    assert_eq!(
        api.get("/hello", Some(s(&mobile, "access_token")))
            .await
            .status(),
        200
    );

    // A namespace.
    let res = t
        .admin(
            Method::POST,
            "/admin/sessions/revoke",
            json!({"namespace": "mobile"}),
        )
        .await;
    assert_eq!(res.status(), 200);
    timings.push((
        "namespace",
        api.time_until_revoked(s(&mobile, "access_token"), bound)
            .await,
    ));

    // Everything.
    let res = t
        .admin(Method::POST, "/admin/sessions/revoke", json!({"all": true}))
        .await;
    assert_eq!(res.status(), 200);
    timings.push((
        "all",
        api.time_until_revoked(s(&other, "access_token"), bound)
            .await,
    ));

    // Through the stream: it never broke, so nothing came by a poll (a poll is the only other
    // way in, and it runs only after a break).
    let status = api.status().await;
    assert_eq!(status["feed_reconnects"], 0, "{status}");
    assert_eq!(status["feed_connected"], true, "{status}");
    eprintln!("{lang:?} example: revocations refused after {timings:?}");
    // A token issued after the global cutoff passes.
    let fresh = t.login("other@example.com").await;
    assert_eq!(
        api.get("/hello", Some(s(&fresh, "access_token")))
            .await
            .status(),
        200
    );
}

pub(crate) async fn a_revocation_made_while_tessera_was_down_arrives_after_its_restart(lang: Lang) {
    let mut t = TesseraProcess::start("", "").await;
    let Some(api) = Example::start(lang, &t.base(), &[]).await else {
        return;
    };
    api.healthy().await;
    let a = t.register("kept@example.com").await;
    let b = t.register("revoked-offline@example.com").await;
    assert_eq!(
        api.get("/hello", Some(s(&b, "access_token")))
            .await
            .status(),
        200
    );

    t.kill();
    t.cli(&[
        "sessions",
        "revoke",
        "--user",
        "revoked-offline@example.com",
    ]);
    // Within the stale bound: still served from what was loaded.
    assert_eq!(
        api.get("/hello", Some(s(&b, "access_token")))
            .await
            .status(),
        200
    );

    t.run().await;
    // The backoff is capped at 5 s: the catch-up lands within it and a margin.
    let took = api
        .time_until_revoked(s(&b, "access_token"), Duration::from_secs(15))
        .await;
    eprintln!("{lang:?} example: the offline revocation applied {took:?} after the restart");
    assert_eq!(
        api.get("/hello", Some(s(&a, "access_token")))
            .await
            .status(),
        200
    );
    let status = api.status().await;
    assert!(status["feed_reconnects"].as_u64().unwrap() >= 1, "{status}");

    // And the stream follows again.
    let res = t
        .client
        .post(t.url("/auth/logout"))
        .bearer_auth(s(&a, "access_token"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    // The stream may still be reconnecting; the bound covers one backoff step.
    api.time_until_revoked(s(&a, "access_token"), Duration::from_secs(6))
        .await;
}

pub(crate) async fn a_key_rotation_is_honoured_without_a_restart(lang: Lang) {
    let t = TesseraProcess::start("", "").await;
    let Some(api) = Example::start(lang, &t.base(), &[]).await else {
        return;
    };
    api.healthy().await;
    let before = t.register("before@example.com").await;
    let fetches = api.status().await["jwks_fetches"].as_u64().unwrap();
    // Two rotations: the key that signs now was made after the example loaded the JWKS.
    for _ in 0..2 {
        let res = t.admin(Method::POST, "/admin/keys/rotate", json!({})).await;
        assert_eq!(res.status(), 200);
    }
    let after = t.register("after@example.com").await;
    assert_eq!(
        api.get("/hello", Some(s(&after, "access_token")))
            .await
            .status(),
        200
    );
    assert_eq!(
        api.status().await["jwks_fetches"],
        fetches + 1,
        "one fetch for the unknown kid"
    );
    // A token of the retiring key still verifies.
    assert_eq!(
        api.get("/hello", Some(s(&before, "access_token")))
            .await
            .status(),
        200
    );
}

pub(crate) async fn a_stale_feed_refuses_with_503_and_recovers(lang: Lang) {
    let mut t = TesseraProcess::start("", "").await;
    let Some(api) = Example::start(lang, &t.base(), &["--stale-after", "2"]).await else {
        return;
    };
    api.healthy().await;
    let token = s(&t.register("down@example.com").await, "access_token").to_owned();
    assert_eq!(api.get("/hello", Some(&token)).await.status(), 200);

    t.kill();
    assert_eq!(
        api.get("/hello", Some(&token)).await.status(),
        200,
        "within the bound"
    );
    tokio::time::sleep(Duration::from_millis(3500)).await;
    let res = api.get("/hello", Some(&token)).await;
    assert_eq!(res.headers()["retry-after"], "5");
    refused(res, 503, "unavailable").await;
    let res = api.client.get(api.url("/healthz")).send().await.unwrap();
    assert_eq!(res.status(), 503);
    assert_eq!(api.status().await["stale"], true);

    t.run().await;
    let started = Instant::now();
    while api.get("/hello", Some(&token)).await.status() != 200 {
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "never recovered"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        api.client
            .get(api.url("/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
}

pub(crate) async fn a_dpop_bound_token_needs_its_proof(lang: Lang) {
    let t = TesseraProcess::start("", "").await;
    let Some(api) = Example::start(lang, &t.base(), &[]).await else {
        return;
    };
    api.healthy().await;
    t.register("dpop@example.com").await;
    let key = DpopKey::new();
    let login_url = t.url("/auth/login");
    let res = t
        .client
        .post(&login_url)
        .header("dpop", key.proof("POST", &login_url, None, None))
        .json(&json!({"email": "dpop@example.com", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let tokens: Value = res.json().await.unwrap();
    assert_eq!(tokens["token_type"], "DPoP");
    let access = s(&tokens, "access_token").to_owned();
    let url = api.url("/hello");
    let hello = |auth: String, proof: Option<String>| {
        let mut req = api.client.get(&url).header("authorization", auth);
        if let Some(p) = proof {
            req = req.header("dpop", p);
        }
        req.send()
    };
    let dpop = format!("DPoP {access}");
    let proof = key.proof("GET", &url, Some(&access), None);
    let res = hello(dpop.clone(), Some(proof.clone())).await.unwrap();
    assert_eq!(res.status(), 200);
    // The same proof again: a replay.
    let challenge = refused(
        hello(dpop.clone(), Some(proof)).await.unwrap(),
        401,
        "invalid_dpop_proof",
    )
    .await;
    assert!(challenge.starts_with("DPoP "), "{challenge}");
    // As Bearer; without a proof; by another key; for another URL; for another method.
    refused(
        hello(format!("Bearer {access}"), None).await.unwrap(),
        401,
        "invalid_token",
    )
    .await;
    refused(
        hello(dpop.clone(), None).await.unwrap(),
        401,
        "invalid_dpop_proof",
    )
    .await;
    let foreign = DpopKey::new().proof("GET", &url, Some(&access), None);
    refused(
        hello(dpop.clone(), Some(foreign)).await.unwrap(),
        401,
        "invalid_dpop_proof",
    )
    .await;
    let elsewhere = key.proof("GET", &t.url("/hello"), Some(&access), None);
    refused(
        hello(dpop.clone(), Some(elsewhere)).await.unwrap(),
        401,
        "invalid_dpop_proof",
    )
    .await;
    let post = key.proof("POST", &url, Some(&access), None);
    refused(
        hello(dpop.clone(), Some(post)).await.unwrap(),
        401,
        "invalid_dpop_proof",
    )
    .await;
    // A proof for another token (ath).
    let other = key.proof("GET", &url, Some("another-token"), None);
    refused(
        hello(dpop.clone(), Some(other)).await.unwrap(),
        401,
        "invalid_dpop_proof",
    )
    .await;
    // An unbound token sent as DPoP.
    let plain = t.register("plain-dpop@example.com").await;
    let plain_token = s(&plain, "access_token");
    let p = key.proof("GET", &url, Some(plain_token), None);
    refused(
        hello(format!("DPoP {plain_token}"), Some(p)).await.unwrap(),
        401,
        "invalid_dpop_proof",
    )
    .await;
    // A fresh proof still works; the query string is not part of htu.
    let res = api
        .client
        .get(format!("{url}?x=1"))
        .header("authorization", &dpop)
        .header("dpop", key.proof("GET", &url, Some(&access), None))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
}
