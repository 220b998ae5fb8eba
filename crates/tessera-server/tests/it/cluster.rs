//! Three Tessera processes on loopback sharing one PostgreSQL (and, in the second test, Redis):
//! one key set, tokens valid everywhere, revocations refused everywhere within 1 s (on the verify
//! path, with the fallback poll slowed to a minute, so only a broadcast can make it), and reuse
//! caught on another node than the one that rotated. Then: Redis as the only broadcast (two
//! nodes on one SQLite file), and revocations racing refreshes across nodes whose clocks differ.

use crate::support::*;
use serde_json::Value;

async fn scenario(redis: Option<String>) {
    let Some(admin_url) = required_env("TESSERA_TEST_DATABASE_URL") else {
        return;
    };
    let db = TestDb::create(&admin_url);
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let mut env = vec![
        ("TESSERA_DATABASE_URL", db.url.as_str()),
        ("TESSERA_TOKENS__REUSE_GRACE", "0"),
        SLOW_POLL,
    ];
    if let Some(url) = &redis {
        env.push(("TESSERA_REDIS_URL", url.as_str()));
    }
    // Started together on an empty database.
    let nodes: Vec<Node> = ["a", "b", "c"]
        .iter()
        .map(|n| Node::spawn(dir.path(), n, &env))
        .collect();
    let c = reqwest::Client::new();
    for n in &nodes {
        n.ready(&c).await;
    }
    let (a, b, cn) = (&nodes[0], &nodes[1], &nodes[2]);

    // One key set, served identically.
    assert_eq!(
        db.query("SELECT count(*) FROM signing_keys WHERE state = 'current'"),
        "1"
    );
    let mut jwks = Vec::new();
    for n in &nodes {
        jwks.push(
            c.get(n.url("/.well-known/jwks.json"))
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap(),
        );
    }
    assert!(
        jwks.windows(2).all(|w| w[0] == w[1]),
        "every node serves the same JWKS"
    );
    assert_eq!(jwks[0]["keys"].as_array().unwrap().len(), 2);

    // A token from one node works on the others.
    let reg = a.register("cluster@example.com").await;
    for n in [b, cn] {
        assert_eq!(me_status(&c, n, s(&reg, "access_token")).await.0, 200);
    }

    // A revocation on one node is refused on the others within 1 s.
    let res = c
        .post(a.url("/auth/logout"))
        .bearer_auth(s(&reg, "access_token"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    for n in [b, cn] {
        let took = refused_within_a_second(&c, n, s(&reg, "access_token")).await;
        eprintln!(
            "revocation seen on node {} after {took:?} (redis: {})",
            n.port,
            redis.is_some()
        );
    }

    // Reuse of a rotated refresh token is caught on another node than the one that rotated it.
    let session: Value = b
        .try_login("cluster@example.com")
        .await
        .json()
        .await
        .unwrap();
    let rotated: Value = b
        .refresh(s(&session, "refresh_token"))
        .await
        .json()
        .await
        .unwrap();
    let replay = cn.refresh(s(&session, "refresh_token")).await;
    assert_eq!(replay.status(), 401);
    assert_eq!(
        replay.json::<Value>().await.unwrap()["code"],
        "refresh_token_reused"
    );
    let after = a.refresh(s(&rotated, "refresh_token")).await;
    assert_eq!(
        after.json::<Value>().await.unwrap()["code"],
        "session_revoked"
    );
    for n in [a, b, cn] {
        refused_within_a_second(&c, n, s(&rotated, "access_token")).await;
    }
    drop(nodes);
}

/// A rotation made by one party (here the CLI, on the shared database) is honoured by every
/// node: the key that starts signing was already published as `next`, so nodes that have not
/// reloaded yet verify its tokens.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_rotation_is_honoured_by_every_node() {
    let Some(admin_url) = required_env("TESSERA_TEST_DATABASE_URL") else {
        return;
    };
    let db = TestDb::create(&admin_url);
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let env = [("TESSERA_DATABASE_URL", db.url.as_str())];
    let mut a = Node::spawn(dir.path(), "a", &env);
    let b = Node::spawn(dir.path(), "b", &env);
    let c = reqwest::Client::new();
    a.ready(&c).await;
    b.ready(&c).await;
    let before = a.register("rotate@example.com").await;
    let out = std::process::Command::new(BIN)
        .args(["keys", "rotate"])
        .current_dir(dir.path())
        .env("TESSERA_DATABASE_URL", &db.url)
        .env("TESSERA_SECRET_KEY", SECRET)
        .env("TESSERA_DATA_DIR", dir.path().join("data"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    a.kill9();
    a.start();
    a.ready(&c).await;
    let after: Value = a
        .try_login("rotate@example.com")
        .await
        .json()
        .await
        .unwrap();
    let kid = |t: &str| {
        let h = t.split('.').next().unwrap().to_owned();
        let v: Value = serde_json::from_slice(&base64_decode(&h)).unwrap();
        v["kid"].as_str().unwrap().to_owned()
    };
    assert_ne!(
        kid(s(&after, "access_token")),
        kid(s(&before, "access_token")),
        "a signs with the new key"
    );
    for token in [s(&before, "access_token"), s(&after, "access_token")] {
        assert_eq!(
            me_status(&c, &b, token).await.0,
            200,
            "b verifies old and new without reloading"
        );
    }
    let jwks: Value = c
        .get(a.url("/.well-known/jwks.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(jwks["keys"].as_array().unwrap().len(), 3);
}

fn base64_decode(s: &str) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(s)
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_on_postgres_with_listen_notify() {
    scenario(None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_on_postgres_and_redis() {
    let Some(redis) = required_env("TESSERA_TEST_REDIS_URL") else {
        return;
    };
    scenario(Some(redis)).await;
}

/// Redis as the only broadcast: two nodes on one SQLite file (no NOTIFY there) with the poll
/// slowed to a minute. A revocation on one reaches the other's verify path within a second only
/// if the Redis listener runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_alone_carries_revocations_between_nodes() {
    let Some(redis) = required_env("TESSERA_TEST_REDIS_URL") else {
        return;
    };
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let issuer = format!("http://redis-only-{}.test", uuid::Uuid::new_v4().simple());
    let env = [
        ("TESSERA_REDIS_URL", redis.as_str()),
        ("TESSERA_ISSUER", issuer.as_str()),
        SLOW_POLL,
    ];
    let a = Node::spawn(dir.path(), "a", &env);
    let c = reqwest::Client::new();
    a.ready(&c).await; // a creates the database; b opens it
    let b = Node::spawn(dir.path(), "b", &env);
    b.ready(&c).await;
    for round in 0..5 {
        let reg = a.register(&format!("redis-only-{round}@example.com")).await;
        let token = s(&reg, "access_token");
        assert!(active(&c, &b, token).await);
        let (from, to) = if round % 2 == 0 { (&a, &b) } else { (&b, &a) };
        let res = c
            .post(from.url("/auth/logout"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 204);
        let took = refused_within_a_second(&c, to, token).await;
        eprintln!("revocation over Redis alone seen after {took:?}");
    }
}

/// API.md §4.4 across nodes: sessions refresh in tight loops on both nodes, node B's clock 3 s
/// ahead, while node A revokes all of the user's sessions. Once the revocation has returned, no
/// access token minted for those sessions works on A, and none on B within a second.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revocation_wins_races_across_nodes_with_skewed_clocks() {
    let Some(admin_url) = required_env("TESSERA_TEST_DATABASE_URL") else {
        return;
    };
    let db = TestDb::create(&admin_url);
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let env = [("TESSERA_DATABASE_URL", db.url.as_str())];
    let a = Node::spawn(dir.path(), "a", &env);
    let c = reqwest::Client::new();
    a.ready(&c).await;
    let skewed = [
        ("TESSERA_DATABASE_URL", db.url.as_str()),
        ("TESSERA_TEST_CLOCK_OFFSET", "3s"),
    ];
    let b = Node::spawn(dir.path(), "b", &skewed);
    b.ready(&c).await;
    let nodes = std::sync::Arc::new([a, b]);
    for round in 0..3 {
        let email = format!("skew-{round}@example.com");
        let reg = nodes[0].register(&email).await;
        let user_id = reg["user"]["id"].as_str().unwrap().to_owned();
        let mut sessions = vec![reg];
        for i in 1..6 {
            let res = nodes[i % 2].try_login(&email).await;
            sessions.push(res.json().await.unwrap());
        }
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let mut loops = Vec::new();
        for (i, sess) in sessions.iter().enumerate() {
            let (nodes, stop) = (nodes.clone(), stop.clone());
            let mut token = s(sess, "refresh_token").to_owned();
            let mut minted = vec![s(sess, "access_token").to_owned()];
            loops.push(tokio::spawn(async move {
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let res = nodes[i % 2].refresh(&token).await;
                    if res.status() != 200 {
                        break;
                    }
                    let body: Value = res.json().await.unwrap();
                    token = s(&body, "refresh_token").to_owned();
                    minted.push(s(&body, "access_token").to_owned());
                }
                minted
            }));
        }
        tokio::time::sleep(std::time::Duration::from_millis(150)).await;
        let res = c
            .delete(nodes[0].url(&format!("/admin/users/{user_id}/sessions")))
            .header("x-api-key", ADMIN_KEY)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let mut tokens = Vec::new();
        for l in loops {
            tokens.extend(l.await.unwrap());
        }
        for t in &tokens {
            assert!(
                !active(&c, &nodes[0], t).await,
                "round {round}: a token minted for a revoked session works on the revoking node"
            );
        }
        for t in &tokens {
            refused_within_a_second(&c, &nodes[1], t).await;
        }
        eprintln!("round {round}: {} tokens, all refused", tokens.len());
    }
}

/// A follower of the revocation stream on one node sees a revocation made on another as fast
/// as the nodes do (NOTIFY, the poll slowed to a minute).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_revocation_stream_follows_other_nodes() {
    let Some(admin_url) = required_env("TESSERA_TEST_DATABASE_URL") else {
        return;
    };
    let db = TestDb::create(&admin_url);
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let env = [("TESSERA_DATABASE_URL", db.url.as_str()), SLOW_POLL];
    let a = Node::spawn(dir.path(), "a", &env);
    let c = reqwest::Client::new();
    a.ready(&c).await;
    let b = Node::spawn(dir.path(), "b", &env);
    b.ready(&c).await;
    let reg = a.register("stream-cluster@example.com").await;
    let mut stream = c
        .get(b.url("/auth/revocations/stream"))
        .header("x-api-key", ADMIN_KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), 200);
    let res = c
        .post(a.url("/auth/logout"))
        .bearer_auth(s(&reg, "access_token"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    let started = std::time::Instant::now();
    let mut body = String::new();
    while !body.contains(s(&reg, "session_id")) {
        let left = std::time::Duration::from_secs(1).saturating_sub(started.elapsed());
        let chunk = tokio::time::timeout(left, stream.chunk())
            .await
            .unwrap_or_else(|_| panic!("not streamed by node b within 1 s:\n{body}"))
            .unwrap()
            .expect("open");
        body.push_str(&String::from_utf8_lossy(&chunk));
    }
    eprintln!("streamed by the other node after {:?}", started.elapsed());
}
