//! What happens when a part fails (issue 4 §6): Redis dies, PostgreSQL stops, a node is killed
//! mid-refresh. Private PostgreSQL and Redis servers, so the machine's own are left alone.

use std::time::{Duration, Instant};

use crate::support::*;
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_killed_mid_run_keeps_revocations_and_service() {
    let Some(admin_url) = required_env("TESSERA_TEST_DATABASE_URL") else {
        return;
    };
    let db = TestDb::create(&admin_url);
    let mut redis = PrivateRedis::start();
    let redis_url = redis.url();
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let env = [
        ("TESSERA_DATABASE_URL", db.url.as_str()),
        ("TESSERA_REDIS_URL", redis_url.as_str()),
        SLOW_POLL,
    ];
    let (a, b) = (
        Node::spawn(dir.path(), "a", &env),
        Node::spawn(dir.path(), "b", &env),
    );
    let c = reqwest::Client::new();
    a.ready(&c).await;
    b.ready(&c).await;
    let first = a.register("redis@example.com").await;
    let second: Value = a.try_login("redis@example.com").await.json().await.unwrap();

    redis.kill();

    // Revocations still reach the other node (through PostgreSQL's NOTIFY: the poll is slowed to
    // a minute), and nothing else stops.
    let res = c
        .post(a.url("/auth/logout"))
        .bearer_auth(s(&first, "access_token"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    refused_within_a_second(&c, &b, s(&first, "access_token")).await;
    assert_eq!(me_status(&c, &b, s(&second, "access_token")).await.0, 200);
    assert_eq!(b.try_login("redis@example.com").await.status(), 200);
    assert_eq!(b.refresh(s(&second, "refresh_token")).await.status(), 200);
    // Nothing revoked comes back while Redis stays down.
    tokio::time::sleep(Duration::from_millis(300)).await;
    for n in [&a, &b] {
        assert!(!active(&c, n, s(&first, "access_token")).await);
    }
    let log = std::fs::read_to_string(&a.log).unwrap();
    assert_eq!(
        log.matches("Redis (publishing) unreachable").count(),
        1,
        "logged once:\n{log}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_stopped_gives_503_and_service_returns_without_a_restart() {
    if required_env("TESSERA_TEST_DATABASE_URL").is_none() {
        return; // gate on the same variable: a machine with PostgreSQL tools
    }
    let pg = PrivatePostgres::start();
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let url = pg.url();
    let node = Node::spawn(
        dir.path(),
        "solo",
        &[("TESSERA_DATABASE_URL", url.as_str())],
    );
    let c = reqwest::Client::new();
    node.ready(&c).await;
    let reg = node.register("pgdown@example.com").await;

    pg.stop();
    let res = node.try_login("pgdown@example.com").await;
    assert_eq!(res.status(), 503);
    assert_eq!(res.headers()["retry-after"], "1");
    assert_eq!(res.json::<Value>().await.unwrap()["code"], "unavailable");
    let ready = c.get(node.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 503);
    let health = c.get(node.url("/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 200, "the process itself is fine");
    // Verification needs no database: introspection still answers.
    let intro: Value = c
        .post(node.url("/auth/introspect"))
        .header("x-api-key", ADMIN_KEY)
        .json(&json!({"token": reg["access_token"]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(intro["active"], true);

    pg.restart();
    let started = Instant::now();
    loop {
        if c.get(node.url("/readyz")).send().await.unwrap().status() == 200 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "never became ready again"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(node.try_login("pgdown@example.com").await.status(), 200);
    assert_eq!(node.refresh(s(&reg, "refresh_token")).await.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_mid_refresh_loop_leaves_one_live_lineage() {
    let Some(admin_url) = required_env("TESSERA_TEST_DATABASE_URL") else {
        return;
    };
    let db = TestDb::create(&admin_url);
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let mut node = Node::spawn(
        dir.path(),
        "victim",
        &[("TESSERA_DATABASE_URL", db.url.as_str())],
    );
    let c = reqwest::Client::new();
    node.ready(&c).await;
    let reg = node.register("crash@example.com").await;

    // Refresh as fast as possible; the node is killed mid-loop.
    let url = node.url("/auth/refresh");
    let looping = c.clone();
    let first = s(&reg, "refresh_token").to_owned();
    let loop_task = tokio::spawn(async move {
        let mut handed_out = vec![first];
        loop {
            let last = handed_out.last().unwrap().clone();
            match looping
                .post(&url)
                .json(&json!({"refresh_token": last}))
                .send()
                .await
            {
                Ok(res) if res.status() == 200 => {
                    let body: Value = res.json().await.unwrap();
                    handed_out.push(body["refresh_token"].as_str().unwrap().to_owned());
                }
                _ => return handed_out,
            }
        }
    });
    tokio::time::sleep(Duration::from_millis(400)).await;
    node.kill9();
    let handed_out = loop_task.await.unwrap();
    assert!(handed_out.len() > 3, "the loop ran before the kill");

    node.start();
    node.ready(&c).await;
    let sid = s(&reg, "session_id");
    assert_eq!(
        db.query(&format!(
            "SELECT count(*) FROM sessions WHERE id = '{sid}' AND revoked_at IS NULL"
        )),
        "1"
    );
    // The last token handed out works (it is current, or the predecessor of a rotation whose
    // answer was lost in the kill, which the grace covers).
    let last = handed_out.last().unwrap();
    let res = node.refresh(last).await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    // Older tokens are dead: presenting one is reuse, which ends the session.
    let old = &handed_out[handed_out.len() - 3];
    let res = node.refresh(old).await;
    assert_eq!(
        res.json::<Value>().await.unwrap()["code"],
        "refresh_token_reused"
    );
    assert_eq!(
        db.query(&format!(
            "SELECT count(*) FROM sessions WHERE id = '{sid}' AND revoked_at IS NULL"
        )),
        "0"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limits_hold_across_nodes_and_fall_back_per_node_without_redis() {
    let Some(admin_url) = required_env("TESSERA_TEST_DATABASE_URL") else {
        return;
    };
    let db = TestDb::create(&admin_url);
    let mut redis = PrivateRedis::start();
    let redis_url = redis.url();
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let env = [
        ("TESSERA_DATABASE_URL", db.url.as_str()),
        ("TESSERA_REDIS_URL", redis_url.as_str()),
        ("TESSERA_RATE_LIMIT__LOGIN_PER_IP_PER_MINUTE", "0"),
        ("TESSERA_RATE_LIMIT__FAILED_LOGINS_PER_ACCOUNT", "4"),
    ];
    let (a, b) = (
        Node::spawn(dir.path(), "a", &env),
        Node::spawn(dir.path(), "b", &env),
    );
    let c = reqwest::Client::new();
    a.ready(&c).await;
    b.ready(&c).await;
    let wrong = |node: &Node, email: &str| {
        let req = c
            .post(node.url("/auth/login"))
            .json(&json!({"email": email, "password": "wrong password, long enough"}));
        async move { req.send().await.unwrap().status().as_u16() }
    };
    // Shared counters: failures on either node add up.
    for node in [&a, &b, &a, &b] {
        assert_eq!(wrong(node, "shared@example.com").await, 401);
    }
    assert_eq!(wrong(&a, "shared@example.com").await, 429);
    assert_eq!(wrong(&b, "shared@example.com").await, 429);

    // Redis gone: each node still limits, on its own.
    redis.kill();
    for _ in 0..4 {
        assert_eq!(wrong(&a, "local@example.com").await, 401);
    }
    assert_eq!(wrong(&a, "local@example.com").await, 429, "never no limit");
    let log = std::fs::read_to_string(&a.log).unwrap();
    assert_eq!(
        log.matches("Redis (rate limits; counting per node meanwhile) unreachable")
            .count(),
        1,
        "logged once:\n{log}"
    );
}
