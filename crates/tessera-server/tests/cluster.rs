//! Three Tessera processes on loopback sharing one PostgreSQL (and, in the second test, Redis):
//! one key set, tokens valid everywhere, revocations refused everywhere within 1 s, and reuse
//! caught on another node than the one that rotated.
mod support;

use serde_json::Value;
use support::*;

async fn scenario(redis: Option<String>) {
    let Some(admin_url) = required_env("TESSERA_TEST_DATABASE_URL") else {
        return;
    };
    let db = TestDb::create(&admin_url);
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let mut env = vec![
        ("TESSERA_DATABASE_URL", db.url.as_str()),
        ("TESSERA_TOKENS__REUSE_GRACE", "0"),
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
    let reg = register(&c, a, "cluster@example.com").await;
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
    let session: Value = login(&c, b, "cluster@example.com")
        .await
        .json()
        .await
        .unwrap();
    let rotated: Value = refresh(&c, b, s(&session, "refresh_token"))
        .await
        .json()
        .await
        .unwrap();
    let replay = refresh(&c, cn, s(&session, "refresh_token")).await;
    assert_eq!(replay.status(), 401);
    assert_eq!(
        replay.json::<Value>().await.unwrap()["code"],
        "refresh_token_reused"
    );
    let after = refresh(&c, a, s(&rotated, "refresh_token")).await;
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
    let before = register(&c, &a, "rotate@example.com").await;
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
    let after: Value = login(&c, &a, "rotate@example.com")
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
