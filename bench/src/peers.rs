//! The servers people use instead of Tessera, doing the comparable flow on the same machine, in
//! the same run, with the same client and concurrency:
//! - Tessera and the Python peers rotate a refresh token; each connection follows its own chain.
//! - better-auth mints a JWT from a signed-in session (`GET /api/auth/token`), its token flow.
//!
//! Python peers run under gunicorn with 2 workers, better-auth under node:cluster with 2 workers;
//! all bind to 127.0.0.1 and are stopped by PID. Install them with `bench/peers/setup.sh`.
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::load::{Run, closed_loop, median};
use crate::{Node, free_port};

const CONNS: usize = 64;
const PASSWORD: &str = "a long and unusual passphrase 9";

/// One server's refreshes (or mints) per second: the median run, with min and max.
pub struct PeerRow {
    pub name: String,
    pub run: Run,
    pub min: f64,
    pub max: f64,
}

/// How a server signs in and hands out the next token.
#[derive(Clone, Copy)]
enum Flow {
    Tessera,
    Django,
    Flask,
    BetterAuth,
}

impl Flow {
    async fn register(self, c: &reqwest::Client, base: &str) {
        let (url, body) = match self {
            Flow::Tessera => (
                format!("{base}/auth/register"),
                json!({"email": "peer@example.com", "password": PASSWORD}),
            ),
            Flow::Django | Flow::Flask => (
                format!("{base}/register"),
                json!({"username": "peer", "password": PASSWORD}),
            ),
            Flow::BetterAuth => (
                format!("{base}/api/auth/sign-up/email"),
                json!({"email": "peer@example.com", "password": PASSWORD, "name": "peer"}),
            ),
        };
        let res = c.post(url).json(&body).send().await.expect("register");
        assert!(res.status().is_success(), "register: {}", res.status());
    }

    /// Signs in; returns the state the connection carries (a refresh token or a session cookie).
    async fn login(self, c: &reqwest::Client, base: &str) -> String {
        let (url, body) = match self {
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
            Flow::BetterAuth => (
                format!("{base}/api/auth/sign-in/email"),
                json!({"email": "peer@example.com", "password": PASSWORD}),
            ),
        };
        let res = c.post(url).json(&body).send().await.expect("login");
        assert!(res.status().is_success(), "login: {}", res.status());
        if let Flow::BetterAuth = self {
            let cookie = res
                .headers()
                .get_all("set-cookie")
                .iter()
                .filter_map(|v| v.to_str().ok())
                .find(|v| v.starts_with("better-auth.session_token="))
                .expect("a session cookie");
            return cookie.split(';').next().unwrap().to_owned();
        }
        self.next_token(&res.json().await.expect("login body"))
            .expect("login gave a refresh token")
    }

    fn next_token(self, v: &Value) -> Option<String> {
        let field = match self {
            Flow::Tessera => "refresh_token",
            _ => "refresh",
        };
        v[field].as_str().map(str::to_owned)
    }

    /// One refresh (or mint); the new state, `None` on failure.
    async fn step(self, c: &reqwest::Client, base: &str, state: &str) -> Option<String> {
        let req = match self {
            Flow::Tessera => c
                .post(format!("{base}/auth/refresh"))
                .json(&json!({"refresh_token": state})),
            Flow::Django => c
                .post(format!("{base}/api/token/refresh/"))
                .json(&json!({"refresh": state})),
            Flow::Flask => c.post(format!("{base}/refresh")).bearer_auth(state),
            Flow::BetterAuth => c
                .get(format!("{base}/api/auth/token"))
                .header("cookie", state),
        };
        let res = req.send().await.ok()?;
        if !res.status().is_success() {
            return None;
        }
        let body: Value = res.json().await.ok()?;
        match self {
            Flow::BetterAuth => body["token"].as_str().map(|_| state.to_owned()),
            _ => self.next_token(&body),
        }
    }
}

fn peers_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("peers")
}

/// Whether `bench/peers/setup.sh` has run.
pub fn installed() -> bool {
    let d = peers_dir();
    d.join("python/.venv/bin/gunicorn").exists() && d.join("node/node_modules/better-auth").exists()
}

/// A peer server process; SIGTERM to it on drop (gunicorn's master and node's primary stop their
/// workers).
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.0.id().to_string()])
            .status();
        let _ = self.0.wait();
    }
}

fn gunicorn(app: &str, port: u16, db: &Path) -> Server {
    let dir = peers_dir().join("python");
    let child = Command::new(dir.join(".venv/bin/gunicorn"))
        .args(["-w", "2", "-b", &format!("127.0.0.1:{port}")])
        .args(["--log-level", "warning", app])
        .current_dir(&dir)
        .env("PEER_DB", db)
        .env("DJANGO_SETTINGS_MODULE", "djpeer.settings")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("bench/peers/setup.sh first");
    Server(child)
}

fn better_auth(port: u16, db: &Path) -> Server {
    let child = Command::new("node")
        .arg("server.mjs")
        .current_dir(peers_dir().join("node"))
        .env("PEER_PORT", port.to_string())
        .env("PEER_DB", db)
        .env("NODE_ENV", "production")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("bench/peers/setup.sh first");
    Server(child)
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

/// Registers, signs in `CONNS` times, then measures `runs` bounded runs.
async fn measure(flow: Flow, base: &str, seconds: u64, runs: usize) -> (Run, f64, f64) {
    let c = reqwest::Client::builder()
        .pool_max_idle_per_host(CONNS * 2)
        .build()
        .unwrap();
    flow.register(&c, base).await;
    let mut chains = Vec::new();
    for _ in 0..CONNS {
        chains.push(tokio::sync::Mutex::new(flow.login(&c, base).await));
    }
    let chains = Arc::new(chains);
    let mut all = Vec::new();
    for _ in 0..runs {
        let (c, base, chains) = (c.clone(), base.to_owned(), chains.clone());
        all.push(
            closed_loop(CONNS, Duration::from_secs(seconds), move |conn, _| {
                let (c, base, chains) = (c.clone(), base.clone(), chains.clone());
                async move {
                    let mut state = chains[conn].lock().await;
                    match flow.step(&c, &base, &state).await {
                        Some(next) => {
                            *state = next;
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

/// Tessera on SQLite first, then each peer; every row measured in this call.
pub async fn run(seconds: u64, runs: usize) -> Vec<PeerRow> {
    let tmp = std::env::temp_dir().join(format!("tessera_peers_{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&tmp).unwrap();
    let c = reqwest::Client::new();
    let mut rows = Vec::new();
    let mut row = |name: &str, (run, min, max): (Run, f64, f64)| {
        rows.push(PeerRow {
            name: name.into(),
            run,
            min,
            max,
        })
    };

    let node = Node::spawn(
        &tmp,
        &[("TESSERA_RATE_LIMIT__LOGIN_PER_IP_PER_MINUTE", "0")],
    );
    node.ready(&c).await;
    row(
        "Tessera: refresh with rotation (SQLite)",
        measure(Flow::Tessera, &node.base, seconds, runs).await,
    );
    drop(node);

    // django-rest-framework-simplejwt: rotation and blacklist on, SQLite.
    let db = tmp.join("django.sqlite3");
    let dir = peers_dir().join("python");
    let migrate = Command::new(dir.join(".venv/bin/python"))
        .args(["-m", "django", "migrate", "--run-syncdb", "-v", "0"])
        .current_dir(&dir)
        .env("PEER_DB", &db)
        .env("DJANGO_SETTINGS_MODULE", "djpeer.settings")
        .status()
        .expect("bench/peers/setup.sh first");
    assert!(migrate.success());
    let port = free_port();
    let server = gunicorn("djpeer.wsgi:application", port, &db);
    let base = format!("http://127.0.0.1:{port}");
    wait_up(&c, &base).await;
    row(
        "django-rest-framework-simplejwt 5.5.1: refresh with rotation and blacklist (SQLite, gunicorn -w 2)",
        measure(Flow::Django, &base, seconds, runs).await,
    );
    drop(server);

    // better-auth: email and password, session, jwt plugin, SQLite.
    let port = free_port();
    let server = better_auth(port, &tmp.join("better-auth.sqlite3"));
    let base = format!("http://127.0.0.1:{port}");
    wait_up(&c, &base).await;
    row(
        "better-auth 1.7.25: JWT minted from a session, jwt plugin (SQLite, node:cluster × 2)",
        measure(Flow::BetterAuth, &base, seconds, runs).await,
    );
    drop(server);

    // flask-jwt-extended: the same rotation, the spent token blocklisted in SQLite.
    let port = free_port();
    let server = gunicorn("flaskpeer:app", port, &tmp.join("flask.sqlite3"));
    let base = format!("http://127.0.0.1:{port}");
    wait_up(&c, &base).await;
    row(
        "flask-jwt-extended 4.7.4: refresh with rotation, SQLite blocklist (gunicorn -w 2)",
        measure(Flow::Flask, &base, seconds, runs).await,
    );
    drop(server);
    let _ = std::fs::remove_dir_all(&tmp);
    rows
}
