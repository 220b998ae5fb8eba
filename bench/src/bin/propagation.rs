//! Revocation propagation across nodes, measured where it matters: on the verify path. Three
//! nodes; each round logs in on one node, logs out there, and times how long until the two
//! others answer `POST /auth/introspect` with `active: false`. Introspection answers from the
//! node's in-memory revocation set and never reads the store, so a broadcast that never runs
//! shows as the poll's interval (or as "not propagated"), never as a fast store read.
//!
//! Three paths, each alone:
//! - PostgreSQL `NOTIFY`: nodes on one PostgreSQL, the fallback poll slowed to 60 s;
//! - Redis pub/sub: nodes on one SQLite file (no `NOTIFY` there), the poll slowed to 60 s;
//! - the poll alone: nodes on one SQLite file without Redis, the default 500 ms poll.
//!
//! Loopback only, bounded rounds (and at most 60 s a path).
//!
//!     cargo build --release --locked -p tessera-server
//!     cargo run --release -p tessera-bench --bin propagation -- postgres://postgres@127.0.0.1:5432/test [redis://127.0.0.1:6379] [rounds]
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tessera_bench::{Node, psql, summary};

const PASSWORD: &str = "a long and unusual passphrase 9";
const ADMIN_KEY: &str = "bench-admin-key-0123456789";
const SLOW_POLL: (&str, &str) = ("TESSERA_TEST_REVOCATION_POLL", "60s");

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let admin_url = args
        .get(1)
        .expect("usage: propagation POSTGRES_URL [REDIS_URL] [ROUNDS]")
        .clone();
    let redis = args.get(2).filter(|a| a.starts_with("redis")).cloned();
    let rounds: usize = args
        .iter()
        .skip(2)
        .find_map(|a| a.parse().ok())
        .unwrap_or(200)
        .min(2000);
    // NOTIFY: a database of its own on the PostgreSQL.
    let db = format!("tessera_bench_{}", uuid::Uuid::new_v4().simple());
    psql(&admin_url, &format!("CREATE DATABASE {db}"));
    let base = admin_url.split('?').next().unwrap();
    let url = format!("{}/{db}", &base[..base.rfind('/').unwrap()]);
    let notify = run(
        "PostgreSQL NOTIFY (poll slowed to 60 s)",
        &[("TESSERA_DATABASE_URL", url.as_str()), SLOW_POLL],
        rounds,
    )
    .await;
    println!("{notify}");
    psql(
        &admin_url,
        &format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"),
    );
    if let Some(redis) = redis {
        let redis = run(
            "Redis pub/sub alone (one SQLite file, poll slowed to 60 s)",
            &[("TESSERA_REDIS_URL", redis.as_str()), SLOW_POLL],
            rounds,
        )
        .await;
        println!("{redis}");
    }
    let poll = run(
        "the 500 ms poll alone (one SQLite file)",
        &[],
        rounds.min(100),
    )
    .await;
    println!("{poll}");
}

/// One path: three nodes with `env` (the database is a shared SQLite file unless `env` names
/// one), `rounds` logouts, each timed until both other nodes' introspection refuses the token.
async fn run(path: &str, env: &[(&str, &str)], rounds: usize) -> String {
    let dir = std::env::temp_dir().join(format!("tessera_bench_{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let issuer = format!("http://propagation-{}.test", uuid::Uuid::new_v4().simple());
    let mut env: Vec<(&str, &str)> = env.to_vec();
    env.extend([
        ("TESSERA_ISSUER", issuer.as_str()),
        ("TESSERA_ADMIN_API_KEYS", ADMIN_KEY),
        ("TESSERA_SECRET_KEY", "bench-master-secret-0123456789abcdef"),
        ("TESSERA_PASSWORDS__ARGON2_MEMORY_KIB", "1024"),
        ("TESSERA_PASSWORDS__ARGON2_ITERATIONS", "1"),
        ("TESSERA_RATE_LIMIT__LOGIN_PER_IP_PER_MINUTE", "0"),
    ]);
    let c = reqwest::Client::new();
    // The first node creates the database (a shared SQLite file, if that), then the others.
    let mut nodes = vec![Node::spawn(&dir, &env)];
    nodes[0].ready(&c).await;
    for _ in 0..2 {
        let n = Node::spawn(&dir, &env);
        n.ready(&c).await;
        nodes.push(n);
    }
    let email = "bench@example.com";
    c.post(format!("{}/auth/register", nodes[0].base))
        .json(&json!({"email": email, "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    let mut samples = Vec::with_capacity(rounds * 2);
    let deadline = Instant::now() + Duration::from_secs(60);
    for round in 0..rounds {
        if Instant::now() > deadline {
            break;
        }
        let origin = &nodes[round % 3];
        let body: Value = c
            .post(format!("{}/auth/login", origin.base))
            .json(&json!({"email": email, "password": PASSWORD}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let access = body["access_token"].as_str().unwrap().to_owned();
        c.post(format!("{}/auth/logout", origin.base))
            .bearer_auth(&access)
            .send()
            .await
            .unwrap();
        let revoked_at = Instant::now();
        for other in nodes.iter().filter(|n| n.base != origin.base) {
            while active(&c, other, &access).await {
                assert!(
                    revoked_at.elapsed() < Duration::from_secs(5),
                    "{path}: not propagated within 5 s"
                );
            }
            samples.push(revoked_at.elapsed());
        }
    }
    drop(nodes);
    let _ = std::fs::remove_dir_all(&dir);
    format!("{path}: {}", summary(&mut samples))
}

async fn active(c: &reqwest::Client, node: &Node, access: &str) -> bool {
    let body: Value = c
        .post(format!("{}/auth/introspect", node.base))
        .header("x-api-key", ADMIN_KEY)
        .json(&json!({"token": access}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    body["active"].as_bool().expect("an introspection answer")
}
