//! Revocation propagation across nodes: three nodes share one PostgreSQL (with and without
//! Redis); each round logs in on one node, logs out there, and times how long until the two
//! other nodes refuse the access token. Loopback only, bounded rounds.
//!
//!     cargo build --release --locked -p tessera-server
//!     cargo run --release -p tessera-bench --bin propagation -- postgres://postgres@127.0.0.1:5432/test [redis://127.0.0.1:6379] [rounds]
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tessera_bench::{Node, summary};

const PASSWORD: &str = "a long and unusual passphrase 9";

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
    println!("{}", run(&admin_url, None, rounds).await);
    if let Some(redis) = redis {
        println!("{}", run(&admin_url, Some(&redis), rounds).await);
    }
}

async fn run(admin_url: &str, redis: Option<&str>, rounds: usize) -> String {
    let db = format!("tessera_bench_{}", uuid::Uuid::new_v4().simple());
    psql(admin_url, &format!("CREATE DATABASE {db}"));
    let base = admin_url.split('?').next().unwrap();
    let url = format!("{}/{db}", &base[..base.rfind('/').unwrap()]);
    let dir = std::env::temp_dir().join(&db);
    std::fs::create_dir_all(&dir).unwrap();
    let mut env = vec![
        ("TESSERA_DATABASE_URL", url.as_str()),
        ("TESSERA_SECRET_KEY", "bench-master-secret-0123456789abcdef"),
        ("TESSERA_PASSWORDS__ARGON2_MEMORY_KIB", "1024"),
        ("TESSERA_PASSWORDS__ARGON2_ITERATIONS", "1"),
        ("TESSERA_RATE_LIMIT__LOGIN_PER_IP_PER_MINUTE", "0"),
    ];
    if let Some(r) = redis {
        env.push(("TESSERA_REDIS_URL", r));
    }
    let nodes: Vec<Node> = (0..3).map(|_| Node::spawn(&dir, &env)).collect();
    let c = reqwest::Client::new();
    for n in &nodes {
        n.ready(&c).await;
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
            loop {
                let res = c
                    .get(format!("{}/auth/me", other.base))
                    .bearer_auth(&access)
                    .send()
                    .await
                    .unwrap();
                if res.status() == 401 {
                    samples.push(revoked_at.elapsed());
                    break;
                }
                assert!(
                    revoked_at.elapsed() < Duration::from_secs(5),
                    "not propagated within 5 s"
                );
            }
        }
    }
    drop(nodes);
    psql(
        admin_url,
        &format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"),
    );
    let _ = std::fs::remove_dir_all(&dir);
    let path = if redis.is_some() {
        "PostgreSQL + Redis pub/sub"
    } else {
        "PostgreSQL LISTEN/NOTIFY"
    };
    format!("{path}: {}", summary(&mut samples))
}

fn psql(url: &str, sql: &str) {
    let ok = Command::new("psql")
        .args([url, "-qAtc", sql])
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    assert!(ok, "psql {sql} failed");
}
