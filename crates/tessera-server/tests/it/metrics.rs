//! /metrics (issue 3 §5): Prometheus text, behind the admin key, no user data in labels.

use crate::common::*;
use serde_json::json;

async fn scrape(srv: &TestServer) -> String {
    let res = srv
        .client
        .get(srv.url("/metrics"))
        .header("x-api-key", ADMIN_KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain; version=0.0.4")
    );
    res.text().await.unwrap()
}

fn value(text: &str, series: &str) -> u64 {
    text.lines()
        .find_map(|l| {
            l.strip_prefix(series)
                .and_then(|rest| rest.strip_prefix(' '))
        })
        .unwrap_or_else(|| panic!("{series} not in:\n{text}"))
        .parse()
        .unwrap()
}

#[tokio::test]
async fn metrics_need_the_admin_key_unless_public() {
    let srv = start("").await;
    problem(
        srv.client.get(srv.url("/metrics")).send().await.unwrap(),
        401,
        "unauthorized",
    )
    .await;
    let wrong = srv
        .client
        .get(srv.url("/metrics"))
        .header("x-api-key", "wrong-key-0123456789")
        .send()
        .await
        .unwrap();
    problem(wrong, 401, "unauthorized").await;
    let bearer = srv
        .client
        .get(srv.url("/metrics"))
        .bearer_auth(ADMIN_KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(
        bearer.status(),
        200,
        "Authorization: Bearer <admin key> works too"
    );
    let public = start("public_metrics = true").await;
    assert_eq!(
        public
            .client
            .get(public.url("/metrics"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
}

#[tokio::test]
async fn metrics_count_requests_logins_refreshes_reuse_and_revocations_without_user_data() {
    let srv = start("[tokens]\nreuse_grace = \"0\"").await;
    let a = srv.register("metrics-user@example.com").await;
    srv.post(
        "/auth/login",
        json!({"email": "metrics-user@example.com", "password": "wrong but long enough 1"}),
    )
    .await;
    let b = srv.login("metrics-user@example.com").await;
    srv.refresh(s(&a, "refresh_token")).await;
    srv.refresh(s(&a, "refresh_token")).await; // reuse
    srv.refresh("rt_forged").await;
    let sid = s(&b, "session_id");
    srv.client
        .delete(srv.url(&format!("/auth/sessions/{sid}")))
        .bearer_auth(s(&b, "access_token"))
        .send()
        .await
        .unwrap();
    srv.client
        .get(srv.url("/no/such/path/with-secret-looking-bits"))
        .send()
        .await
        .unwrap();

    let text = scrape(&srv).await;
    assert_eq!(value(&text, "tessera_logins_total{result=\"success\"}"), 1);
    assert_eq!(value(&text, "tessera_logins_total{result=\"failure\"}"), 1);
    assert_eq!(
        value(&text, "tessera_refreshes_total{result=\"rotated\"}"),
        1
    );
    assert_eq!(
        value(&text, "tessera_refreshes_total{result=\"reused\"}"),
        1
    );
    assert_eq!(
        value(&text, "tessera_refreshes_total{result=\"invalid\"}"),
        1
    );
    assert_eq!(value(&text, "tessera_refresh_reuse_detected_total"), 1);
    assert_eq!(
        value(&text, "tessera_revocations_total{reason=\"reuse\"}"),
        1
    );
    assert_eq!(
        value(&text, "tessera_revocations_total{reason=\"user\"}"),
        1
    );
    assert_eq!(
        value(
            &text,
            "tessera_http_requests_total{route=\"/auth/register\",method=\"POST\",status=\"201\"}"
        ),
        1
    );
    assert_eq!(
        value(
            &text,
            "tessera_http_requests_total{route=\"/auth/sessions/{id}\",method=\"DELETE\",status=\"204\"}"
        ),
        1
    );
    assert_eq!(
        value(
            &text,
            "tessera_http_requests_total{route=\"unmatched\",method=\"GET\",status=\"404\"}"
        ),
        1
    );
    assert!(text.contains(
        "tessera_http_request_duration_seconds_bucket{route=\"/auth/login\",le=\"+Inf\"} 2"
    ));
    assert!(text.contains("# TYPE tessera_http_request_duration_seconds histogram"));
    assert!(text.contains("tessera_signing_key_age_seconds "));
    assert_eq!(
        value(&text, "tessera_revoked_sessions_held"),
        2,
        "the reused and the revoked session, held in memory"
    );
    for secret in [
        "metrics-user",
        "example.com",
        "127.0.0.1",
        sid,
        a["user"]["id"].as_str().unwrap(),
        s(&a, "access_token"),
        s(&a, "refresh_token"),
        "with-secret-looking-bits",
        "rt_forged",
    ] {
        assert!(!text.contains(secret), "{secret} appears in /metrics");
    }
}

/// Labels come from fixed sets: made-up methods become `other`, unknown paths `unmatched`, so no
/// client can add series (or grow `/metrics`) by sending odd requests.
#[tokio::test]
async fn odd_methods_and_paths_add_no_series() {
    let srv = start("").await;
    let series = |text: &str| {
        text.lines()
            .filter(|l| l.starts_with("tessera_http_requests_total{"))
            .map(|l| l.rsplit_once(' ').unwrap().0.to_owned())
            .collect::<std::collections::BTreeSet<_>>()
    };
    for i in 0..30 {
        let method =
            reqwest::Method::from_bytes(format!("M{i}{}", "X".repeat(200)).as_bytes()).unwrap();
        srv.client
            .request(method, srv.url("/healthz"))
            .send()
            .await
            .unwrap();
        srv.client
            .get(srv.url(&format!("/no/such/path/{i}")))
            .send()
            .await
            .unwrap();
    }
    let text = scrape(&srv).await;
    let got = series(&text);
    assert!(
        got.iter()
            .all(|s| !s.contains("XXXX") && !s.contains("/no/such")),
        "{got:?}"
    );
    assert_eq!(
        value(
            &text,
            "tessera_http_requests_total{route=\"/healthz\",method=\"other\",status=\"405\"}"
        ),
        30
    );
    assert_eq!(
        value(
            &text,
            "tessera_http_requests_total{route=\"unmatched\",method=\"GET\",status=\"404\"}"
        ),
        30
    );
}
