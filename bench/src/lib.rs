//! Shared pieces of the measurements: starting `tessera` processes, generating load and
//! summarising samples.

pub mod load;
pub mod peers;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The release binary, built by `cargo build --release -p tessera-server`.
pub fn tessera_binary() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_owned();
    let bin = root.join("target/release/tessera");
    assert!(
        bin.exists(),
        "build it first: cargo build --release --locked -p tessera-server"
    );
    bin
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A `tessera serve` child process, killed on drop.
pub struct Node {
    pub base: String,
    child: Child,
}

impl Node {
    pub fn spawn(dir: &Path, env: &[(&str, &str)]) -> Node {
        let port = free_port();
        let mut cmd = Command::new(tessera_binary());
        cmd.args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .current_dir(dir)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        for (k, v) in env {
            cmd.env(k, v);
        }
        Node {
            base: format!("http://127.0.0.1:{port}"),
            child: cmd.spawn().unwrap(),
        }
    }

    /// Waits for `/healthz`, returning how long that took (bounded at 30 s).
    pub async fn ready(&self, client: &reqwest::Client) -> Duration {
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(30) {
            if let Ok(res) = client.get(format!("{}/healthz", self.base)).send().await
                && res.status() == 200
            {
                return started.elapsed();
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        panic!("node did not become healthy");
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn stop(mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// p50, p99, min and max of samples, in milliseconds.
pub fn summary(samples: &mut [Duration]) -> String {
    samples.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let at = |q: f64| samples[((samples.len() - 1) as f64 * q).round() as usize];
    format!(
        "n={} p50={:.2}ms p99={:.2}ms min={:.2}ms max={:.2}ms",
        samples.len(),
        ms(at(0.5)),
        ms(at(0.99)),
        ms(samples[0]),
        ms(samples[samples.len() - 1])
    )
}

/// Runs one SQL statement with `psql` (creating and dropping the databases a measurement uses).
pub fn psql(url: &str, sql: &str) {
    let ok = Command::new("psql")
        .args([url, "-qAtc", sql])
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    assert!(ok, "psql {sql} failed");
}
