//! Refresh with rotation: Tessera (SQLite) against the Python peers people use instead, on the
//! same machine, in the same run, with the same client and concurrency; each connection follows
//! its own refresh chain. Peers are served by gunicorn with 2 workers on 127.0.0.1 and stopped by
//! PID. Install them first with bench/peers/python/setup.sh.
//!
//!     target/release/peers [--seconds 5] [--runs 3]
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tessera_bench::load::{closed_loop, median};
use tessera_bench::{Node, free_port};

const CONNS: usize = 64;
const PASSWORD: &str = "a long and unusual passphrase 9";

/// How a server takes a refresh token and hands the next one back.
#[derive(Clone, Copy)]
enum Flow {
    Tessera,
    Django,
    Flask,
}

impl Flow {
    fn login(self, base: &str) -> (String, Value) {
        match self {
            Flow::Tessera => (
                format!("{base}/auth/login"),
                json!({"email": "peer@example.com", "password": PASSWORD}),
            ),
            Flow::Django => (
                format!("{base}/api/token/"),
                json!({"username": "peer", "password": PASSWORD}),
            ),
            Flow::Flask => (
                format!("{base}/login"),
                json!({"username": "peer", "password": PASSWORD}),
            ),
        }
    }

    fn refresh_token(self, v: &Value) -> Option<String> {
        let field = match self {
            Flow::Tessera => "refresh_token",
            Flow::Django | Flow::Flask => "refresh",
        };
        v[field].as_str().map(str::to_owned)
    }

    async fn refresh(self, c: &reqwest::Client, base: &str, token: &str) -> Option<String> {
        let req = match self {
            Flow::Tessera => c
                .post(format!("{base}/auth/refresh"))
                .json(&json!({"refresh_token": token})),
            Flow::Django => c
                .post(format!("{base}/api/token/refresh/"))
                .json(&json!({"refresh": token})),
            Flow::Flask => c.post(format!("{base}/refresh")).bearer_auth(token),
        };
        let res = req.send().await.ok()?;
        if !res.status().is_success() {
            return None;
        }
        self.refresh_token(&res.json().await.ok()?)
    }
}

fn python() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("peers/python")
}

struct Gunicorn(Child);

impl Drop for Gunicorn {
    fn drop(&mut self) {
        // SIGTERM to the master stops its workers too.
        let _ = Command::new("kill")
            .args(["-TERM", &self.0.id().to_string()])
            .status();
        let _ = self.0.wait();
    }
}

fn gunicorn(app: &str, port: u16, db: &Path) -> Gunicorn {
    let dir = python();
    let child = Command::new(dir.join(".venv/bin/gunicorn"))
        .args([
            "-w",
            "2",
            "-b",
            &format!("127.0.0.1:{port}"),
            "--log-level",
            "warning",
            app,
        ])
        .current_dir(&dir)
        .env("PEER_DB", db)
        .env("DJANGO_SETTINGS_MODULE", "djpeer.settings")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("bench/peers/python/setup.sh first");
    Gunicorn(child)
}

async fn wait_up(c: &reqwest::Client, url: &str) {
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(30) {
        if c.get(url).send().await.is_ok() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{url} did not come up");
}

/// Logs in `CONNS` times, then measures refreshes; returns (median run, min, max).
async fn measure(
    flow: Flow,
    base: &str,
    seconds: u64,
    runs: usize,
) -> (tessera_bench::load::Run, f64, f64) {
    let c = reqwest::Client::builder()
        .pool_max_idle_per_host(CONNS * 2)
        .build()
        .unwrap();
    let mut chains = Vec::new();
    for _ in 0..CONNS {
        let (url, body) = flow.login(base);
        let v: Value = c
            .post(&url)
            .json(&body)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        chains.push(tokio::sync::Mutex::new(
            flow.refresh_token(&v).expect("login gave a refresh token"),
        ));
    }
    let chains = Arc::new(chains);
    let mut all = Vec::new();
    for _ in 0..runs {
        let (c, base, chains) = (c.clone(), base.to_owned(), chains.clone());
        all.push(
            closed_loop(CONNS, Duration::from_secs(seconds), move |conn, _| {
                let (c, base, chains) = (c.clone(), base.clone(), chains.clone());
                async move {
                    let mut token = chains[conn].lock().await;
                    match flow.refresh(&c, &base, &token).await {
                        Some(next) => {
                            *token = next;
                            true
                        }
                        None => false,
                    }
                }
            })
            .await,
        );
    }
    median(all)
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let get = |n: &str| {
        args.iter()
            .position(|a| a == n)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let seconds: u64 = get("--seconds")
        .and_then(|v| v.parse().ok())
        .unwrap_or(5)
        .clamp(1, 15);
    let runs: usize = get("--runs")
        .and_then(|v| v.parse().ok())
        .unwrap_or(3)
        .clamp(1, 9);
    let tmp = std::env::temp_dir().join(format!("tessera_peers_{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&tmp).unwrap();
    let c = reqwest::Client::new();
    let mut rows = Vec::new();

    // Tessera on SQLite.
    let node = Node::spawn(
        &tmp,
        &[("TESSERA_RATE_LIMIT__LOGIN_PER_IP_PER_MINUTE", "0")],
    );
    node.ready(&c).await;
    c.post(format!("{}/auth/register", node.base))
        .json(&json!({"email": "peer@example.com", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    rows.push((
        "Tessera (SQLite)",
        measure(Flow::Tessera, &node.base, seconds, runs).await,
    ));
    drop(node);

    // django-rest-framework-simplejwt: rotation and blacklist on, SQLite, gunicorn -w 2.
    let db = tmp.join("django.sqlite3");
    let migrate = Command::new(python().join(".venv/bin/python"))
        .args(["-m", "django", "migrate", "--run-syncdb", "-v", "0"])
        .current_dir(python())
        .env("PEER_DB", &db)
        .env("DJANGO_SETTINGS_MODULE", "djpeer.settings")
        .status()
        .expect("bench/peers/python/setup.sh first");
    assert!(migrate.success());
    let port = free_port();
    let server = gunicorn("djpeer.wsgi:application", port, &db);
    let base = format!("http://127.0.0.1:{port}");
    wait_up(&c, &base).await;
    c.post(format!("{base}/register"))
        .json(&json!({"username": "peer", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    rows.push((
        "django-rest-framework-simplejwt 5.5.1 (SQLite, gunicorn -w 2)",
        measure(Flow::Django, &base, seconds, runs).await,
    ));
    drop(server);

    // flask-jwt-extended: the same rotation, the spent token blocklisted in SQLite.
    let db = tmp.join("flask.sqlite3");
    let port = free_port();
    let server = gunicorn("flaskpeer:app", port, &db);
    let base = format!("http://127.0.0.1:{port}");
    wait_up(&c, &base).await;
    c.post(format!("{base}/register"))
        .json(&json!({"username": "peer", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    rows.push((
        "flask-jwt-extended 4.7.4 (SQLite blocklist, gunicorn -w 2)",
        measure(Flow::Flask, &base, seconds, runs).await,
    ));
    drop(server);
    let _ = std::fs::remove_dir_all(&tmp);

    let tessera = rows[0].1.0.rps;
    let mut md = format!(
        "# Refresh with rotation: Tessera and its peers\n\n{runs} run(s) of {seconds} s, {CONNS} connections, each following its own refresh chain; median run, min and max.\n\n| server | refreshes/s | min–max | p50 ms | p99 ms | errors | Tessera ÷ this |\n|---|---:|---:|---:|---:|---:|---:|\n"
    );
    let mut js = Vec::new();
    for (name, (run, min, max)) in &rows {
        md += &format!(
            "| {name} | {:.0} | {:.0}–{:.0} | {:.2} | {:.2} | {} | {:.1} |\n",
            run.rps,
            min,
            max,
            run.p50_ms,
            run.p99_ms,
            run.errors,
            tessera / run.rps.max(0.001)
        );
        js.push(json!({"server": name, "rps": run.rps, "rps_min": min, "rps_max": max, "p50_ms": run.p50_ms, "p99_ms": run.p99_ms, "errors": run.errors, "tessera_ratio": tessera / run.rps.max(0.001)}));
    }
    let out = Path::new(env!("CARGO_MANIFEST_DIR")).join("results");
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(out.join("peers.md"), &md).unwrap();
    std::fs::write(
        out.join("peers.json"),
        serde_json::to_string_pretty(&json!({"runs": runs, "seconds": seconds, "rows": js}))
            .unwrap(),
    )
    .unwrap();
    print!("{md}");
}
