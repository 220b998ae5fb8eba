//! `tessera-axum` (through its example, as it ships) against a hostile or newer Tessera
//! (issue 27): an entry it cannot apply fails closed instead of open, and oversized answers are
//! refused at their bound instead of being buffered whole.

use std::time::{Duration, Instant};

use crate::common::*;
use crate::example;
use crate::fake_tessera::{FakeTessera, HUGE, Scenario};
use crate::resource_server::{Api, s};

/// The example, built as its command line builds it, following `fake`; tokens come from a real
/// test server (issuer `http://tessera.test`).
async fn api_for(fake: &FakeTessera) -> Api {
    let t = example::tessera(
        &fake.base,
        RESOURCE_KEY,
        Some("http://tessera.test".into()),
        vec![],
        Duration::from_secs(60),
        "http://127.0.0.1",
    )
    .unwrap();
    Api::start(t).await
}

#[tokio::test]
async fn an_entry_it_cannot_apply_makes_the_feed_stale_at_once_and_reconnects_back_off() {
    let real = start("").await;
    let user = real.register("from-the-future@example.com").await;
    let token = s(&user, "access_token").to_owned();
    let sid = s(&user, "session_id").to_owned();
    let fake = FakeTessera::start(&real.base, Scenario::UnknownKindThenRevocation { sid }).await;
    let api = api_for(&fake).await;
    api.ready().await;
    let started = Instant::now();

    // The entry after the unknown one revokes this very session: the resource server cannot
    // know that, so it must refuse (503, the stale policy), well before stale_after (60 s).
    let deadline = started + Duration::from_secs(5);
    loop {
        let res = api.hello(&token).await;
        if res.status() == 503 {
            break;
        }
        assert_eq!(res.status(), 200);
        assert!(
            Instant::now() < deadline,
            "a token was still accepted 5 s after an entry that could not be applied"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let health = api.get("/healthz", None).await;
    assert_eq!(health.status(), 503, "/healthz says healthy while blocked");
    let status = api.tessera.status();
    assert!(status.feed_blocked && status.stale, "{status:?}");

    // Still refused a few seconds on, and reconnecting with backoff, not at once and forever
    // (before the fix: about 9 reconnects a second).
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(api.hello(&token).await.status(), 503);
    let elapsed = started.elapsed().as_secs_f64();
    let streams = fake.streams();
    assert!(
        streams <= 8,
        "{streams} streams opened in {elapsed:.1} s: reconnects do not back off"
    );
}

#[tokio::test]
async fn oversized_jwks_pages_and_events_are_refused_at_their_bound() {
    let real = start("").await;
    let bound = 16 * 1024 * 1024;
    for scenario in [
        Scenario::HugeJwks { declared: false },
        Scenario::HugeJwks { declared: true },
        Scenario::HugePage { declared: false },
        Scenario::HugePage { declared: true },
        Scenario::EndlessEvent,
    ] {
        let name = match &scenario {
            Scenario::HugeJwks { declared } => format!("JWKS (length announced: {declared})"),
            Scenario::HugePage { declared } => format!("feed page (length announced: {declared})"),
            Scenario::EndlessEvent => "stream event".into(),
            Scenario::UnknownKindThenRevocation { .. } => unreachable!(),
        };
        let endless = matches!(scenario, Scenario::EndlessEvent);
        let fake = FakeTessera::start(&real.base, scenario).await;
        let api = api_for(&fake).await;
        // A client that reads it all takes the whole body (and the test fails); one that stops
        // at its bound drops the connection after a few buffers.
        let (sent, ended) = fake.first_huge_body(Duration::from_secs(20)).await;
        assert!(ended, "{name}: the client neither read it all nor let go");
        assert!(
            sent < bound as u64,
            "{name}: {sent} of {HUGE} bytes read before the client let go"
        );
        if endless {
            assert!(api.tessera.is_ready(), "the snapshot was fine");
            let status = api.tessera.status();
            assert!(
                !status.feed_connected || status.feed_reconnects > 0,
                "{status:?}"
            );
        } else {
            assert!(
                !api.tessera.is_ready(),
                "{name}: ready on an oversized answer"
            );
            let health = api.get("/healthz", None).await;
            assert_eq!(health.status(), 503, "{name}");
        }
    }
}
