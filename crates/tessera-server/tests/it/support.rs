//! Real processes for the multi-node and failure tests: Tessera nodes (the binary), a fresh
//! PostgreSQL database per test, and private PostgreSQL and Redis servers on spare ports that a
//! test may stop and start without touching the machine's own services.
#![allow(dead_code)]
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

pub use crate::common::{ADMIN_KEY, BIN, TesseraHttp, s};
pub const SECRET: &str = "cluster-master-secret-0123456789abcdef";

/// `TESSERA_TEST_<what>` or a loud skip (a failure under CI=true).
pub fn required_env(var: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(v) if !v.is_empty() => Some(v),
        _ if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!("{var} is not set, and CI=true: this test must run in CI")
        }
        _ => {
            let _ = writeln!(
                std::io::stderr(),
                "\n*** SKIPPED: this test needs {var}: set it as the README says (e.g. TESSERA_TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/test, TESSERA_TEST_REDIS_URL=redis://127.0.0.1:6379) ***\n"
            );
            None
        }
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A database of its own on the test PostgreSQL, dropped afterwards.
pub struct TestDb {
    pub url: String,
    admin_url: String,
    name: String,
}

impl TestDb {
    pub fn create(admin_url: &str) -> TestDb {
        let name = format!("tessera_test_{}", uuid::Uuid::new_v4().simple());
        psql(admin_url, &format!("CREATE DATABASE {name}"));
        let base = admin_url.split('?').next().unwrap();
        let url = format!("{}/{name}", &base[..base.rfind('/').unwrap()]);
        TestDb {
            url,
            admin_url: admin_url.to_owned(),
            name,
        }
    }

    /// One row of one column, as text.
    pub fn query(&self, sql: &str) -> String {
        psql(&self.url, sql)
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let _ = Command::new("psql")
            .args([
                &self.admin_url,
                "-qAtc",
                &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name),
            ])
            .output();
    }
}

pub fn psql(url: &str, sql: &str) -> String {
    let out = Command::new("psql")
        .args([url, "-qAtc", sql])
        .output()
        .expect("psql runs");
    assert!(
        out.status.success(),
        "psql {sql}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// A running `tessera serve`.
pub struct Node {
    pub port: u16,
    pub base: String,
    pub log: PathBuf,
    child: Option<Child>,
    env: Vec<(String, String)>,
    dir: PathBuf,
    client: reqwest::Client,
}

impl Node {
    /// Starts a node with the shared secret, admin key and fast Argon2, plus `env`.
    pub fn spawn(dir: &Path, name: &str, env: &[(&str, &str)]) -> Node {
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let mut node = Node {
            port: free_port(),
            base: String::new(),
            log: dir.join(format!("{name}.log")),
            child: None,
            env,
            dir: dir.to_owned(),
            client: reqwest::Client::new(),
        };
        node.base = format!("http://127.0.0.1:{}", node.port);
        node.start();
        node
    }

    /// (Re)starts the process on the same port and settings.
    pub fn start(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap();
        let mut cmd = Command::new(BIN);
        cmd.args(["serve", "--listen", &format!("127.0.0.1:{}", self.port)])
            .current_dir(&self.dir)
            .env("TESSERA_SECRET_KEY", SECRET)
            // Nodes of one deployment share an issuer (the default follows each node's port).
            .env("TESSERA_ISSUER", "http://cluster.test")
            .env("TESSERA_ADMIN_API_KEYS", ADMIN_KEY)
            .env("TESSERA_PASSWORDS__ARGON2_MEMORY_KIB", "1024")
            .env("TESSERA_PASSWORDS__ARGON2_ITERATIONS", "1")
            .env("TESSERA_DATA_DIR", self.dir.join("data"))
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .stdin(Stdio::null());
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        self.child = Some(cmd.spawn().unwrap());
    }

    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    pub async fn ready(&self, client: &reqwest::Client) {
        let started = Instant::now();
        loop {
            if let Ok(res) = client.get(format!("{}/healthz", self.base)).send().await
                && res.status() == 200
            {
                return;
            }
            if started.elapsed() > Duration::from_secs(30) {
                panic!(
                    "node on {} did not start:\n{}",
                    self.port,
                    std::fs::read_to_string(&self.log).unwrap_or_default()
                );
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
}

impl TesseraHttp for Node {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
    fn http(&self) -> &reqwest::Client {
        &self.client
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill9();
    }
}

pub async fn me_status(c: &reqwest::Client, node: &Node, access: &str) -> (u16, Value) {
    let res = c
        .get(node.url("/auth/me"))
        .bearer_auth(access)
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

/// Introspection on `node`: answered from its in-memory revocation set, never the store, so it
/// shows what the node's verify path knows.
pub async fn active(c: &reqwest::Client, node: &Node, access: &str) -> bool {
    let res = c
        .post(node.url("/auth/introspect"))
        .header("x-api-key", ADMIN_KEY)
        .json(&json!({"token": access}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    res.json::<Value>().await.unwrap()["active"]
        .as_bool()
        .unwrap()
}

/// How long until `node`'s verify path (introspection) refuses `access`, polling every 5 ms;
/// panics past the contract's bound of 1 s.
pub async fn refused_within_a_second(c: &reqwest::Client, node: &Node, access: &str) -> Duration {
    let started = Instant::now();
    loop {
        if !active(c, node, access).await {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "node {} still accepted a revoked token after 1 s",
            node.port
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Slows every node's fallback poll to a minute: a revocation that reaches another node within
/// a second can only have been carried by a broadcast.
pub const SLOW_POLL: (&str, &str) = ("TESSERA_TEST_REVOCATION_POLL", "60s");

/// A private PostgreSQL (initdb + pg_ctl) on a spare port, run as the `postgres` user when the
/// test runs as root (PostgreSQL refuses to run as root).
pub struct PrivatePostgres {
    dir: tempfile::TempDir,
    pub port: u16,
}

impl PrivatePostgres {
    pub fn start() -> PrivatePostgres {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        if is_root() {
            Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(dir.path())
                .status()
                .unwrap();
        }
        let pg = PrivatePostgres { dir, port };
        let data = pg.data();
        pg.run(
            "initdb",
            &["-D", &data, "-A", "trust", "-U", "postgres", "--no-sync"],
        );
        pg.ctl("start");
        pg
    }

    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    pub fn stop(&self) {
        self.ctl("stop");
    }

    pub fn restart(&self) {
        self.ctl("start");
    }

    fn data(&self) -> String {
        self.dir.path().join("data").display().to_string()
    }

    fn ctl(&self, action: &str) {
        let opts = format!(
            "-p {} -k {} -h 127.0.0.1",
            self.port,
            self.dir.path().display()
        );
        let log = self.dir.path().join("pg.log").display().to_string();
        let data = self.data();
        let mut args = vec!["-D", &data, "-w", "-l", &log];
        if action == "start" {
            args.extend(["-o", &opts]);
        } else {
            args.extend(["-m", "fast"]);
        }
        args.push(action);
        self.run("pg_ctl", &args);
    }

    fn run(&self, tool: &str, args: &[&str]) {
        let out = if is_root() {
            Command::new("runuser")
                .args(["-u", "postgres", "--", tool])
                .args(args)
                .output()
        } else {
            Command::new(tool).args(args).output()
        }
        .unwrap_or_else(|e| panic!("{tool}: {e}"));
        assert!(
            out.status.success(),
            "{tool} {args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Drop for PrivatePostgres {
    fn drop(&mut self) {
        let data = self.data();
        let _ = if is_root() {
            Command::new("runuser")
                .args([
                    "-u",
                    "postgres",
                    "--",
                    "pg_ctl",
                    "-D",
                    &data,
                    "-m",
                    "immediate",
                    "stop",
                ])
                .output()
        } else {
            Command::new("pg_ctl")
                .args(["-D", &data, "-m", "immediate", "stop"])
                .output()
        };
    }
}

/// A private Redis on a spare port.
pub struct PrivateRedis {
    child: Child,
    pub port: u16,
}

impl PrivateRedis {
    pub fn start() -> PrivateRedis {
        let port = free_port();
        let child = Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server runs");
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "redis did not start"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        PrivateRedis { child, port }
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for PrivateRedis {
    fn drop(&mut self) {
        self.kill();
    }
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| o.stdout.starts_with(b"0"))
        .unwrap_or(false)
}
