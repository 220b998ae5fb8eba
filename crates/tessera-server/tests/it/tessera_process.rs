//! The real `tessera` binary in a temporary directory of its own, started, killed and restarted
//! on one port, and its CLI on the same config.
#![allow(dead_code)]
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

pub use crate::common::{ADMIN_KEY, BIN, PASSWORD, RESOURCE_KEY, TesseraHttp};
use crate::support::free_port;

pub struct TesseraProcess {
    pub dir: tempfile::TempDir,
    pub port: u16,
    pub client: reqwest::Client,
    child: Option<Child>,
    env: Vec<(String, String)>,
}

impl Drop for TesseraProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

impl TesseraProcess {
    /// Writes a config (SQLite in the directory, known admin and resource-server keys, fast
    /// Argon2, then `extra`, top-level keys first) and starts the binary.
    pub async fn start(top: &str, sections: &str) -> TesseraProcess {
        Self::start_with_env(top, sections, &[]).await
    }

    pub async fn start_with_env(top: &str, sections: &str, env: &[(&str, &str)]) -> TesseraProcess {
        let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
        let toml = format!(
            "database_url = \"sqlite://{db}\"\nadmin_api_keys = [\"{ADMIN_KEY}\"]\n\
             resource_server_keys = [\"{RESOURCE_KEY}\"]\n{top}\n{sections}\n\
             [passwords]\nargon2_memory_kib = 1024\nargon2_iterations = 1\n",
            db = dir.path().join("tessera.db").display(),
        );
        std::fs::write(dir.path().join("tessera.toml"), toml).unwrap();
        let mut p = TesseraProcess {
            dir,
            port: free_port(),
            client: reqwest::Client::new(),
            child: None,
            env: env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        };
        p.run().await;
        p
    }

    pub fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn config(&self) -> PathBuf {
        self.dir.path().join("tessera.toml")
    }

    fn command(&self) -> Command {
        let mut c = Command::new(BIN);
        c.current_dir(self.dir.path())
            .env_remove("TESSERA_TEST_DATABASE_URL")
            .env_remove("TESSERA_TEST_REDIS_URL");
        for (k, v) in &self.env {
            c.env(k, v);
        }
        c
    }

    /// Forgets the extra environment (a clock offset, say) for the next [`TesseraProcess::run`].
    pub fn clear_env(&mut self) {
        self.env.clear();
    }

    /// Starts the server (again) on the same port and data, and waits until it answers.
    pub async fn run(&mut self) {
        assert!(self.child.is_none(), "already running");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join("server.log"))
            .unwrap();
        let child = self
            .command()
            .args(["serve", "--config"])
            .arg(self.config())
            .args(["--listen", &format!("127.0.0.1:{}", self.port)])
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        self.child = Some(child);
        let started = Instant::now();
        loop {
            if let Ok(res) = self.client.get(self.url("/healthz")).send().await
                && res.status() == 200
            {
                return;
            }
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "tessera did not come up: {}",
                std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Kills the server at once (SIGKILL: a crash, not a shutdown).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Runs a CLI command on this server's config (it works with the server down).
    pub fn cli(&self, args: &[&str]) -> Output {
        let out = self
            .command()
            .args(args)
            .arg("--config")
            .arg(self.config())
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "tessera {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    pub fn data(&self) -> &Path {
        self.dir.path()
    }

    pub async fn admin(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Value,
    ) -> reqwest::Response {
        self.client
            .request(method, self.url(path))
            .header("x-api-key", ADMIN_KEY)
            .json(&body)
            .send()
            .await
            .unwrap()
    }
}

impl TesseraHttp for TesseraProcess {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base())
    }
    fn http(&self) -> &reqwest::Client {
        &self.client
    }
}
