//! A real server on 127.0.0.1:0 with its own SQLite file, spoken to over HTTP.
#![allow(dead_code)]
use std::io::Write;
use std::net::SocketAddr;
use std::sync::Arc;

use reqwest::{Client, Response, StatusCode};
use serde_json::{Value, json};
use tessera_server::config::Config;
use tessera_server::state::AppState;

/// The one set of test credentials, for in-process servers and spawned binaries alike.
pub const ADMIN_KEY: &str = "test-admin-key-0123456789";
pub const RESOURCE_KEY: &str = "resource-server-key-0123456789";
pub const PASSWORD: &str = "correct horse battery staple";
pub const BIN: &str = env!("CARGO_BIN_EXE_tessera");

pub struct TestServer {
    pub base: String,
    pub addr: SocketAddr,
    pub client: Client,
    pub state: Arc<AppState>,
    pub dir: Option<tempfile::TempDir>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Starts a server with fast Argon2 parameters plus `extra` TOML (top-level keys first, then
/// sections).
pub async fn start(extra: &str) -> TestServer {
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    start_in(dir, extra).await
}

pub async fn start_in(dir: tempfile::TempDir, extra: &str) -> TestServer {
    start_tuned(dir, extra, |_| {}).await
}

/// A server on a port known before its config is written: `extra` gets the port (for an issuer
/// or WebAuthn origin of `http://localhost:PORT`, which browsers treat as secure).
pub async fn start_on_port(extra: impl FnOnce(u16) -> String) -> TestServer {
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    start_listening(listener, dir, &extra(port), |_| {}).await
}

/// [`start_in`], with a last word on the validated settings (fields that are no config key).
pub async fn start_tuned(
    dir: tempfile::TempDir,
    extra: &str,
    tune: impl FnOnce(&mut tessera_server::config::Settings),
) -> TestServer {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    start_listening(listener, dir, extra, tune).await
}

async fn start_listening(
    listener: tokio::net::TcpListener,
    dir: tempfile::TempDir,
    extra: &str,
    tune: impl FnOnce(&mut tessera_server::config::Settings),
) -> TestServer {
    // Top-level keys must come before the first `[section]` line.
    let split = extra
        .match_indices('[')
        .map(|(i, _)| i)
        .find(|&i| i == 0 || extra.as_bytes()[i - 1] == b'\n')
        .unwrap_or(extra.len());
    let (top, sections) = extra.split_at(split);
    // `extra` may set its own issuer (a browser test's `http://localhost:PORT`).
    let issuer = if top.lines().any(|l| l.starts_with("issuer")) {
        ""
    } else {
        "issuer = \"http://tessera.test\"\n"
    };
    let toml = format!(
        "database_url = \"sqlite://{db}\"\nadmin_api_keys = [\"{ADMIN_KEY}\"]\n{issuer}{top}\n{sections}\n",
        db = dir.path().join("tessera.db").display(),
    );
    let toml = if toml.contains("[passwords]") {
        toml.replace(
            "[passwords]",
            "[passwords]\nargon2_memory_kib = 1024\nargon2_iterations = 1",
        )
    } else {
        format!("{toml}\n[passwords]\nargon2_memory_kib = 1024\nargon2_iterations = 1\n")
    };
    let path = dir.path().join("tessera.toml");
    std::fs::File::create(&path)
        .unwrap()
        .write_all(toml.as_bytes())
        .unwrap();
    let mut settings = Config::load(Some(&path), Vec::new())
        .unwrap()
        .validate()
        .unwrap();
    tune(&mut settings);
    let state = tessera_server::app::build(settings).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = state.clone();
    tokio::spawn(async move {
        tessera_server::app::serve(serving, listener, async {
            let _ = stopped.await;
        })
        .await
        .unwrap();
    });
    TestServer {
        base: format!("http://{addr}"),
        addr,
        client: Client::builder()
            .user_agent("tessera-tests/1.0")
            .build()
            .unwrap(),
        state,
        dir: Some(dir),
        stop: Some(stop),
    }
}

impl TestServer {
    /// Stops this server and starts a new one on the same data directory.
    pub async fn restart(mut self, extra: &str) -> TestServer {
        let dir = self.dir.take().expect("data dir");
        drop(self);
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        start_in(dir, extra).await
    }

    /// The JWKS this server publishes.
    pub async fn jwks(&self) -> Value {
        let res = self
            .client
            .get(self.url("/.well-known/jwks.json"))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        res.json().await.unwrap()
    }
}

/// Anything that serves Tessera's API: the in-process [`TestServer`], a cluster node, the binary
/// as a process. One set of request helpers for all of them.
#[allow(async_fn_in_trait)]
pub trait TesseraHttp {
    /// The full URL of `path` on this server.
    fn url(&self, path: &str) -> String;
    /// The client to send with.
    fn http(&self) -> &Client;

    async fn post(&self, path: &str, body: Value) -> Response {
        self.http()
            .post(self.url(path))
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    /// Registers `email` with [`PASSWORD`]; the token response.
    async fn register(&self, email: &str) -> Value {
        let res = self
            .post(
                "/auth/register",
                json!({"email": email, "password": PASSWORD}),
            )
            .await;
        assert_eq!(res.status(), StatusCode::CREATED, "register {email}");
        res.json().await.unwrap()
    }

    /// A login with [`PASSWORD`], whatever the answer.
    async fn try_login(&self, email: &str) -> Response {
        self.post("/auth/login", json!({"email": email, "password": PASSWORD}))
            .await
    }

    /// A login that must succeed; the token response.
    async fn login(&self, email: &str) -> Value {
        self.login_in(email, None).await
    }

    /// A login in `namespace` that must succeed; the token response.
    async fn login_in(&self, email: &str, namespace: Option<&str>) -> Value {
        let mut body = json!({"email": email, "password": PASSWORD});
        if let Some(ns) = namespace {
            body["namespace"] = ns.into();
        }
        let res = self.post("/auth/login", body).await;
        assert_eq!(res.status(), StatusCode::OK, "login {email}");
        res.json().await.unwrap()
    }

    async fn refresh(&self, refresh_token: &str) -> Response {
        self.post("/auth/refresh", json!({"refresh_token": refresh_token}))
            .await
    }

    async fn get_auth(&self, path: &str, access: &str) -> Response {
        self.http()
            .get(self.url(path))
            .bearer_auth(access)
            .send()
            .await
            .unwrap()
    }

    async fn me(&self, access: &str) -> Response {
        self.get_auth("/auth/me", access).await
    }
}

impl TesseraHttp for TestServer {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
    fn http(&self) -> &Client {
        &self.client
    }
}

pub fn s<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key]
        .as_str()
        .unwrap_or_else(|| panic!("{key} missing in {v}"))
}

/// Asserts a problem+json answer with `status` and `code`, and returns the body.
pub async fn problem(res: Response, status: u16, code: &str) -> Value {
    assert_eq!(res.status().as_u16(), status, "status for {code}");
    let ct = res
        .headers()
        .get("content-type")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(ct, "application/problem+json");
    assert_eq!(
        res.headers().get("x-content-type-options").unwrap(),
        "nosniff"
    );
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["code"], code, "{body}");
    assert_eq!(body["status"], status);
    assert!(body["title"].is_string());
    body
}
