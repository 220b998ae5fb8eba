//! tessera-axum when Tessera is down, restarted, rotated or misconfigured (issue 12): nothing
//! is lost across a crash and restart, keys rotate without a restart of the API, unknown kids
//! cost one fetch, and the documented policy holds while Tessera is unreachable.

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::json;
use tessera_axum::{OnStale, Tessera};

use crate::resource_server::{Api, claims_of, refused, s};
use crate::tessera_process::*;

#[tokio::test]
async fn nothing_is_lost_across_a_crash_and_restart_of_tessera() {
    let mut t = TesseraProcess::start("", "").await;
    // The backoff while Tessera is down is capped at 1 s (5 s by default), so the catch-up
    // after the restart lands well within time_until_revoked's 5 s on a loaded machine.
    let api = Api::tuned(&t.base(), |b| {
        b.stale_after(Duration::from_secs(60))
            .poll_interval(Duration::from_secs(1))
    })
    .await;
    api.ready().await;
    let a = t.register("kept@example.com").await;
    let b = t.register("revoked-offline@example.com").await;
    assert_eq!(api.hello(s(&b, "access_token")).await.status(), 200);

    // Tessera crashes; while it is down, the CLI revokes b's sessions in the database.
    t.kill();
    t.cli(&[
        "sessions",
        "revoke",
        "--user",
        "revoked-offline@example.com",
    ]);
    // Still served from what was loaded (the feed is not stale yet).
    assert_eq!(api.hello(s(&a, "access_token")).await.status(), 200);
    assert_eq!(api.hello(s(&b, "access_token")).await.status(), 200);

    // Tessera is back: the resource server resumes from its cursor and gets the revocation
    // recorded while it was away.
    t.run().await;
    let took = api.time_until_revoked(s(&b, "access_token")).await;
    eprintln!("revocation made during the outage applied {took:?} after Tessera came back");
    assert_eq!(api.hello(s(&a, "access_token")).await.status(), 200);
    assert!(api.tessera.status().feed_reconnects >= 1);

    // And the stream follows again: a new revocation arrives through it.
    let res = t
        .client
        .post(t.url("/auth/logout"))
        .bearer_auth(s(&a, "access_token"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    let took = api.time_until_revoked(s(&a, "access_token")).await;
    assert!(took < Duration::from_secs(1), "{took:?}");
}

#[tokio::test]
async fn a_key_rotation_on_tessera_is_honoured_without_a_restart() {
    let t = TesseraProcess::start("", "").await;
    let api = Api::example(&t.base()).await;
    let before = api.tessera.status().jwks_fetches;
    // Two rotations: the key that signs now was created after the resource server loaded
    // the JWKS, so only a fetch on the unknown kid can know it.
    for _ in 0..2 {
        let res = t.admin(Method::POST, "/admin/keys/rotate", json!({})).await;
        assert_eq!(res.status(), 200);
    }
    // The unknown-kid fetch is rate-limited to one a second; the start-up load does not count.
    let token = s(&t.register("rot@example.com").await, "access_token").to_owned();
    assert_eq!(api.hello(&token).await.status(), 200);
    assert_eq!(api.tessera.status().jwks_fetches, before + 1);
}

#[tokio::test]
async fn unknown_kids_fetch_the_jwks_once_at_a_time_and_at_most_once_a_second() {
    let t = TesseraProcess::start("", "").await;
    let api = Api::tuned(&t.base(), |b| {
        b.kid_refetch_interval(Duration::from_secs(60))
    })
    .await;
    api.ready().await;
    let before = api.tessera.status().jwks_fetches;
    let forger = tessera_token::SigningKey::generate(tessera_token::Algorithm::EdDSA).unwrap();
    let claims = claims_of(s(&t.register("kid@example.com").await, "access_token"));
    let forged = tessera_token::sign(&serde_json::from_value(claims).unwrap(), &forger);
    let answers = futures_util::future::join_all((0..50).map(|_| api.hello(&forged))).await;
    for res in answers {
        refused(res, 401, "invalid_token").await;
    }
    assert_eq!(
        api.tessera.status().jwks_fetches,
        before + 1,
        "one fetch for 50 requests"
    );
}

#[tokio::test]
async fn tessera_unreachable_refuses_after_the_bound_and_recovers() {
    let mut t = TesseraProcess::start("", "").await;
    let stale_after = Duration::from_secs(2);
    let api = Api::tuned(&t.base(), |b| b.stale_after(stale_after)).await;
    let tolerant = Api::tuned(&t.base(), |b| {
        b.stale_after(stale_after).on_stale(OnStale::Accept)
    })
    .await;
    api.ready().await;
    tolerant.ready().await;
    let token = s(&t.register("down@example.com").await, "access_token").to_owned();
    assert_eq!(api.hello(&token).await.status(), 200);

    t.kill();
    // Within the bound: still served.
    assert_eq!(api.hello(&token).await.status(), 200);
    tokio::time::sleep(stale_after + Duration::from_millis(1500)).await;
    let res = api.hello(&token).await;
    assert_eq!(res.headers()["retry-after"], "5");
    refused(res, 503, "unavailable").await;
    assert_eq!(api.get("/healthz", None).await.status(), 503);
    assert!(api.tessera.status().stale);
    // The tolerant one keeps serving, and counts it.
    assert_eq!(tolerant.hello(&token).await.status(), 200);
    assert!(tolerant.tessera.status().stale_accepted >= 1);

    t.run().await;
    let started = Instant::now();
    while api.hello(&token).await.status() != 200 {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "never recovered"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(api.get("/healthz", None).await.status(), 200);
}

#[tokio::test]
async fn not_ready_until_tessera_has_answered() {
    // Tessera is not there yet: the resource server serves, but refuses tokens with 503.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let api = Api::tuned(&format!("http://127.0.0.1:{port}"), |b| b).await;
    assert_eq!(api.get("/healthz", None).await.status(), 503);
    refused(api.hello("any.token.at-all").await, 503, "unavailable").await;
    assert!(!api.tessera.status().ready);
}

#[tokio::test]
async fn a_wrong_resource_server_key_never_gets_ready() {
    let t = TesseraProcess::start("", "").await;
    let api = Api::tuned(&t.base(), |b| b).await;
    api.ready().await;
    let wrong = Tessera::builder(&t.base(), "not-the-key-0123456789")
        .start()
        .unwrap();
    assert!(
        tokio::time::timeout(Duration::from_millis(1500), wrong.ready())
            .await
            .is_err(),
        "the feed refused the key, so there is no snapshot"
    );
}
