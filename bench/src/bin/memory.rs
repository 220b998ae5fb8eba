//! Server memory with a large store: 1 000 000 sessions (1 000 users × 1 000) and the last
//! 100 000 of them revoked within the access-token lifetime, so the server holds all 100 000 in
//! its in-memory revocation set. The rows are written with SQL directly (a million logins would
//! take hours of Argon2id); then the release server starts on that database, is exercised, and
//! its resident memory is read from /proc. Loopback only.
//!
//!     cargo build --release --locked -p tessera-server -p tessera-bench
//!     target/release/memory [sessions] [revoked]
use std::time::Instant;

use serde_json::json;
use tessera_bench::Node;

#[tokio::main]
async fn main() {
    let args: Vec<u64> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let sessions = args.first().copied().unwrap_or(1_000_000).min(5_000_000);
    let revoked = args.get(1).copied().unwrap_or(100_000).min(sessions);
    let dir =
        std::env::temp_dir().join(format!("tessera_memory_{}", uuid::Uuid::new_v4().simple()));
    let db = dir.join("tessera-data/tessera.db");
    let store = tessera_store::sqlite::SqliteStore::open(&db).await.unwrap();
    store.migrate().await.unwrap();
    store.close().await;

    let started = Instant::now();
    let mut conn = rusqlite::Connection::open(&db).unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let tx = conn.transaction().unwrap();
    let users = sessions.div_ceil(1000);
    let mut user_ids = Vec::new();
    for u in 0..users {
        let id = uuid::Uuid::now_v7().to_string();
        tx.execute("INSERT INTO users (id, email, password_hash, roles, banned, created_at, password_changed_at) VALUES (?1, ?2, 'x', '[]', 0, ?3, ?3)",
            rusqlite::params![id, format!("user{u}@example.com"), now]).unwrap();
        user_ids.push(id);
    }
    {
        let mut insert = tx.prepare("INSERT INTO sessions (id, user_id, namespace, created_at, last_active_at, expires_at, absolute_expires_at, ip, user_agent, refresh_count, generation, secret_hash, prev_secret_hash, rotated_at, revoked_at, revoke_reason) VALUES (?1, ?2, 'default', ?3, ?3, ?4, ?4, '203.0.113.1', 'bench', 0, 1, ?5, NULL, NULL, ?6, ?7)").unwrap();
        let mut revoke = tx
            .prepare("INSERT INTO revocations (kind, target, at) VALUES ('session', ?1, ?2)")
            .unwrap();
        for i in 0..sessions {
            let id = uuid::Uuid::now_v7().to_string();
            let is_revoked = i >= sessions - revoked;
            insert
                .execute(rusqlite::params![
                    id,
                    user_ids[(i / 1000) as usize],
                    now,
                    now + 86_400_000,
                    vec![0u8; 32],
                    is_revoked.then_some(now),
                    is_revoked.then_some("bench")
                ])
                .unwrap();
            if is_revoked {
                revoke.execute(rusqlite::params![id, now]).unwrap();
            }
        }
    }
    tx.commit().unwrap();
    drop(conn);
    println!(
        "wrote {sessions} sessions ({revoked} revoked) in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    let node = Node::spawn(
        &dir,
        &[("TESSERA_RATE_LIMIT__LOGIN_PER_IP_PER_MINUTE", "0")],
    );
    let c = reqwest::Client::new();
    let ready = node.ready(&c).await;
    // Exercise it: a user, refreshes, then a login storm.
    let email = "memory@example.com";
    let reg: serde_json::Value = c
        .post(format!("{}/auth/register", node.base))
        .json(&json!({"email": email, "password": "a long and unusual passphrase 9"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut token = reg["refresh_token"].as_str().unwrap().to_owned();
    for _ in 0..200 {
        let v: serde_json::Value = c
            .post(format!("{}/auth/refresh", node.base))
            .json(&json!({"refresh_token": token}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        token = v["refresh_token"].as_str().unwrap().to_owned();
    }
    let after_refreshes = rss_mib(node.pid());
    // A login storm: 200 logins on 16 connections keep every hashing thread busy, so their
    // Argon2 working memory (and any allocator retention) shows in the figure.
    let logins: Vec<_> = (0..16)
        .map(|_| {
            let (c, url) = (c.clone(), format!("{}/auth/login", node.base));
            tokio::spawn(async move {
                for _ in 0..200 / 16 + 1 {
                    let res = c
                        .post(&url)
                        .json(
                            &json!({"email": email, "password": "a long and unusual passphrase 9"}),
                        )
                        .send()
                        .await
                        .unwrap();
                    assert_eq!(res.status(), 200);
                }
            })
        })
        .collect();
    for l in logins {
        l.await.unwrap();
    }
    let after_logins = rss_mib(node.pid());
    println!(
        "server ready after {:.0} ms on that database",
        ready.as_secs_f64() * 1000.0
    );
    println!(
        "server RSS with {revoked} revocations held and {sessions} sessions stored: {after_refreshes:.1} MiB; after 208 more logins on 16 connections: {after_logins:.1} MiB"
    );
    drop(node);
    let _ = std::fs::remove_dir_all(&dir);
}

fn rss_mib(pid: u32) -> f64 {
    let kib = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap()
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        .unwrap_or(0);
    kib as f64 / 1024.0
}
