//! The soak run: CLIENTS clients for SECONDS seconds against one real `tessera serve`, each
//! living like a real device. Each client signs up, then loops: refresh (the chain must move on:
//! a new, different refresh token every time), call `/auth/me` with the new access token, list
//! its sessions; now and then replay the refresh token it just spent (after the grace, so reuse
//! detection must fire and the session must be dead afterwards); and log out and in again.
//! Every client checks its own chain; any 5xx, any surprise status, any lost or doubled rotation
//! is counted. The server's RSS is sampled every 10 s.
//!
//! Run (SQLite by default; a PostgreSQL URL to use it):
//!
//!     cargo build --release --locked -p tessera-server -p tessera-bench
//!     target/release/soak [SECONDS] [CLIENTS] [postgres://…/test]
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tessera_bench::{Node, psql};

const PASSWORD: &str = "a long and unusual passphrase 9";

#[derive(Default)]
struct Tally {
    requests: AtomicU64,
    server_errors: AtomicU64,
    surprises: AtomicU64,
    rotations: AtomicU64,
    reuse_caught: AtomicU64,
    logins: AtomicU64,
}

impl Tally {
    fn surprise(&self, what: &str) {
        if self.surprises.fetch_add(1, Ordering::Relaxed) < 20 {
            eprintln!("surprise: {what}");
        }
    }
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let nums: Vec<u64> = args.iter().filter_map(|a| a.parse().ok()).collect();
    let seconds = nums.first().copied().unwrap_or(600).min(3600);
    let clients = nums.get(1).copied().unwrap_or(50).min(500) as usize;
    let pg = args.iter().find(|a| a.starts_with("postgres")).cloned();

    let dir = std::env::temp_dir().join(format!("tessera_soak_{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let db = pg.as_ref().map(|url| {
        let name = format!("tessera_soak_{}", uuid::Uuid::new_v4().simple());
        psql(url, &format!("CREATE DATABASE {name}"));
        let base = url.split('?').next().unwrap();
        (
            url.clone(),
            name.clone(),
            format!("{}/{name}", &base[..base.rfind('/').unwrap()]),
        )
    });
    let mut env = vec![
        ("TESSERA_ADMIN_API_KEYS", "soak-admin-key-0123456789"),
        ("TESSERA_PASSWORDS__ARGON2_MEMORY_KIB", "1024"),
        ("TESSERA_PASSWORDS__ARGON2_ITERATIONS", "1"),
        ("TESSERA_RATE_LIMIT__LOGIN_PER_IP_PER_MINUTE", "0"),
        ("TESSERA_RATE_LIMIT__FAILED_LOGINS_PER_ACCOUNT", "0"),
        // A short grace, so a replay a little later is reuse (API.md §4.3).
        ("TESSERA_TOKENS__REUSE_GRACE", "1s"),
    ];
    if let Some((_, _, url)) = &db {
        env.push(("TESSERA_DATABASE_URL", url.as_str()));
    }
    let node = Node::spawn(&dir, &env);
    let c = reqwest::Client::new();
    node.ready(&c).await;
    let pid = node.pid();
    let base = Arc::new(node.base.clone());
    let tally = Arc::new(Tally::default());
    let deadline = Instant::now() + Duration::from_secs(seconds);

    let mut rss = vec![rss_kib(pid)];
    let sampler = tokio::spawn(async move {
        let mut samples = Vec::new();
        while Instant::now() < deadline {
            tokio::time::sleep(Duration::from_secs(10)).await;
            samples.push(rss_kib(pid));
        }
        samples
    });
    let workers: Vec<_> = (0..clients)
        .map(|i| {
            let (c, base, tally) = (c.clone(), base.clone(), tally.clone());
            tokio::spawn(async move { client(i, c, &base, &tally, deadline).await })
        })
        .collect();
    for w in workers {
        w.await.unwrap();
    }
    rss.extend(sampler.await.unwrap());
    drop(node);
    let _ = std::fs::remove_dir_all(&dir);
    if let Some((admin, name, _)) = db {
        psql(
            &admin,
            &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
        );
    }

    let t = &tally;
    let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
    let first = rss[1.min(rss.len() - 1)];
    let last = *rss.last().unwrap();
    println!(
        "soak {}: {clients} clients, {seconds} s: {} requests, {} rotations, {} reuses caught, {} logins; 5xx: {}, surprises: {}",
        if pg.is_some() { "PostgreSQL" } else { "SQLite" },
        load(&t.requests),
        load(&t.rotations),
        load(&t.reuse_caught),
        load(&t.logins),
        load(&t.server_errors),
        load(&t.surprises),
    );
    println!(
        "RSS (KiB) at start {}, after 10 s {first}, at the end {last}; every 10 s: {rss:?}",
        rss[0]
    );
}

/// One device's life, checked step by step.
async fn client(i: usize, c: reqwest::Client, base: &str, t: &Tally, deadline: Instant) {
    let email = format!("soak{i}@example.com");
    let mut session = post(
        &c,
        base,
        "/auth/register",
        json!({"email": email, "password": PASSWORD}),
        t,
        201,
    )
    .await;
    let mut round = 0u64;
    while Instant::now() < deadline {
        round += 1;
        let Some(s) = session.take() else {
            session = post(
                &c,
                base,
                "/auth/login",
                json!({"email": email, "password": PASSWORD}),
                t,
                200,
            )
            .await;
            t.logins.fetch_add(1, Ordering::Relaxed);
            continue;
        };
        let old_refresh = s["refresh_token"].as_str().unwrap_or_default().to_owned();
        let Some(next) = post(
            &c,
            base,
            "/auth/refresh",
            json!({"refresh_token": old_refresh}),
            t,
            200,
        )
        .await
        else {
            continue;
        };
        let new_refresh = next["refresh_token"].as_str().unwrap_or_default();
        if new_refresh.is_empty()
            || new_refresh == old_refresh
            || next["session_id"] != s["session_id"]
        {
            t.surprise("a rotation that did not move the chain on");
            continue;
        }
        t.rotations.fetch_add(1, Ordering::Relaxed);
        let access = next["access_token"].as_str().unwrap_or_default().to_owned();
        if get(&c, base, "/auth/me", &access, t).await != 200 {
            t.surprise("a fresh access token refused");
        }
        if get(&c, base, "/auth/sessions", &access, t).await != 200 {
            t.surprise("session list refused");
        }
        match round % 10 {
            // Now and then, a thief replays the token just spent, after the grace.
            3 => {
                tokio::time::sleep(Duration::from_millis(1100)).await;
                let res = post_raw(
                    &c,
                    base,
                    "/auth/refresh",
                    json!({"refresh_token": old_refresh}),
                    t,
                )
                .await;
                let body: Value = res.1;
                if res.0 != 401 || body["code"] != "refresh_token_reused" {
                    t.surprise(&format!("a replay answered {} {}", res.0, body["code"]));
                }
                t.reuse_caught.fetch_add(1, Ordering::Relaxed);
                // The session is dead for the owner too: its newest refresh token and access token.
                let res = post_raw(
                    &c,
                    base,
                    "/auth/refresh",
                    json!({"refresh_token": new_refresh}),
                    t,
                )
                .await;
                if res.0 != 401 {
                    t.surprise(&format!("the session survived reuse detection: {}", res.0));
                }
                if get(&c, base, "/auth/me", &access, t).await != 401 {
                    t.surprise("an access token of a revoked session still works");
                }
                session = None;
            }
            // And now and then, a logout.
            7 => {
                let res = c
                    .post(format!("{base}/auth/logout"))
                    .bearer_auth(&access)
                    .send()
                    .await;
                count(t, res.as_ref().map(|r| r.status().as_u16()).unwrap_or(0));
                if get(&c, base, "/auth/me", &access, t).await != 401 {
                    t.surprise("an access token works after logout");
                }
                session = None;
            }
            _ => session = Some(next),
        }
    }
}

fn count(t: &Tally, status: u16) {
    t.requests.fetch_add(1, Ordering::Relaxed);
    if status >= 500 || status == 0 {
        t.server_errors.fetch_add(1, Ordering::Relaxed);
    }
}

async fn post_raw(
    c: &reqwest::Client,
    base: &str,
    path: &str,
    body: Value,
    t: &Tally,
) -> (u16, Value) {
    match c.post(format!("{base}{path}")).json(&body).send().await {
        Ok(res) => {
            let status = res.status().as_u16();
            count(t, status);
            (status, res.json().await.unwrap_or(Value::Null))
        }
        Err(_) => {
            count(t, 0);
            (0, Value::Null)
        }
    }
}

async fn post(
    c: &reqwest::Client,
    base: &str,
    path: &str,
    body: Value,
    t: &Tally,
    want: u16,
) -> Option<Value> {
    let (status, body) = post_raw(c, base, path, body, t).await;
    if status != want {
        t.surprise(&format!("{path} answered {status} {}", body["code"]));
        return None;
    }
    Some(body)
}

async fn get(c: &reqwest::Client, base: &str, path: &str, access: &str, t: &Tally) -> u16 {
    let status = c
        .get(format!("{base}{path}"))
        .bearer_auth(access)
        .send()
        .await
        .map(|r| r.status().as_u16())
        .unwrap_or(0);
    count(t, status);
    status
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}
