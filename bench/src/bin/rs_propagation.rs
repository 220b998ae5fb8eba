//! Revocation reaching a resource server: the example of `tessera-axum` (a separate process,
//! following the feed of one Tessera node). Each round logs in, checks that `/hello` on the
//! resource server accepts the token, logs out, and times how long until `/hello` answers 401
//! `session_revoked`. The resource server never calls Tessera per request: a feed that never
//! delivered would show as "not refused within 5 s" (it polls only after its stream breaks).
//!
//! Two paths:
//! - the logout made on the node the resource server follows (SQLite);
//! - with a PostgreSQL URL: the logout made on another node, which reaches the followed node by
//!   `NOTIFY` (both nodes' fallback poll slowed to 60 s), then the resource server by the stream.
//!
//! Run:
//!
//!     cargo build --release --locked -p tessera-server -p tessera-axum --example resource_server
//!     cargo run --release -p tessera-bench --bin rs_propagation -- [postgres://…/test] [rounds]
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tessera_bench::{Node, free_port, psql, summary};

const PASSWORD: &str = "a long and unusual passphrase 9";
const ADMIN_KEY: &str = "bench-admin-key-0123456789";
const RESOURCE_KEY: &str = "bench-resource-key-0123456789";

struct Example(Child, String);

impl Drop for Example {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn example_binary() -> PathBuf {
    let bin =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/release/examples/resource_server");
    assert!(
        bin.exists(),
        "build it first: cargo build --release --locked -p tessera-axum --example resource_server"
    );
    bin
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let pg = args.iter().find(|a| a.starts_with("postgres")).cloned();
    let rounds: usize = args
        .iter()
        .find_map(|a| a.parse().ok())
        .unwrap_or(200)
        .min(2000);
    println!(
        "{}",
        run("logout on the node it follows (SQLite)", None, rounds).await
    );
    if let Some(pg) = pg {
        let db = format!("tessera_bench_{}", uuid::Uuid::new_v4().simple());
        psql(&pg, &format!("CREATE DATABASE {db}"));
        let base = pg.split('?').next().unwrap();
        let url = format!("{}/{db}", &base[..base.rfind('/').unwrap()]);
        println!(
            "{}",
            run(
                "logout on another node (PostgreSQL NOTIFY, polls slowed to 60 s)",
                Some(&url),
                rounds
            )
            .await
        );
        psql(&pg, &format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"));
    }
}

async fn run(path: &str, database: Option<&str>, rounds: usize) -> String {
    let dir = std::env::temp_dir().join(format!("tessera_bench_{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut env = vec![
        ("TESSERA_ADMIN_API_KEYS", ADMIN_KEY),
        ("TESSERA_RESOURCE_SERVER_KEYS", RESOURCE_KEY),
        ("TESSERA_SECRET_KEY", "bench-master-secret-0123456789abcdef"),
        ("TESSERA_PASSWORDS__ARGON2_MEMORY_KIB", "1024"),
        ("TESSERA_PASSWORDS__ARGON2_ITERATIONS", "1"),
        ("TESSERA_RATE_LIMIT__LOGIN_PER_IP_PER_MINUTE", "0"),
        ("TESSERA_TEST_REVOCATION_POLL", "60s"),
    ];
    // Both nodes must sign with one issuer: the followed node's default would differ per port.
    let issuer = "http://rs-propagation.test";
    env.push(("TESSERA_ISSUER", issuer));
    if let Some(url) = database {
        env.push(("TESSERA_DATABASE_URL", url));
    }
    let c = reqwest::Client::new();
    let followed = Node::spawn(&dir, &env);
    followed.ready(&c).await;
    let other = database.map(|_| Node::spawn(&dir, &env));
    if let Some(o) = &other {
        o.ready(&c).await;
    }
    let origin = other.as_ref().unwrap_or(&followed);
    // The example verifies `iss` against its URL unless told: tell it.
    let port = free_port();
    let child = Command::new(example_binary())
        .args(["--tessera", &followed.base, "--issuer", issuer])
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .env("TESSERA_RESOURCE_KEY", RESOURCE_KEY)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let api = Example(child, format!("http://127.0.0.1:{port}"));
    wait_ready(&c, &api.1).await;

    let email = "bench@example.com";
    c.post(format!("{}/auth/register", origin.base))
        .json(&json!({"email": email, "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    let mut samples = Vec::with_capacity(rounds);
    let deadline = Instant::now() + Duration::from_secs(60);
    for _ in 0..rounds {
        if Instant::now() > deadline {
            break;
        }
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
        assert_eq!(
            hello(&c, &api.1, &access).await,
            200,
            "{path}: a fresh token"
        );
        c.post(format!("{}/auth/logout", origin.base))
            .bearer_auth(&access)
            .send()
            .await
            .unwrap();
        let revoked_at = Instant::now();
        while hello(&c, &api.1, &access).await == 200 {
            assert!(
                revoked_at.elapsed() < Duration::from_secs(5),
                "{path}: not refused by the resource server within 5 s"
            );
        }
        samples.push(revoked_at.elapsed());
    }
    drop(api);
    drop(other);
    drop(followed);
    let _ = std::fs::remove_dir_all(&dir);
    format!("{path}: {}", summary(&mut samples))
}

async fn wait_ready(c: &reqwest::Client, base: &str) {
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(30) {
        if let Ok(res) = c.get(format!("{base}/healthz")).send().await
            && res.status() == 200
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    panic!("the example never got ready");
}

async fn hello(c: &reqwest::Client, base: &str, access: &str) -> u16 {
    let res = c
        .get(format!("{base}/hello"))
        .bearer_auth(access)
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    if status == 401 {
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["code"], "session_revoked", "{body}");
    }
    status
}
