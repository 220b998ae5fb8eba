//! A real SMTP server for the mail tests: `tests/smtp/catcher.py` (aiosmtpd from PyPI, which
//! `.ci/run` installs) on a spare loopback port, writing each message it accepts to a folder as
//! JSON. Missing Python or aiosmtpd: a loud skip, except under CI=true.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

pub struct Catcher {
    pub port: u16,
    pub dir: tempfile::TempDir,
    child: Option<Child>,
    /// `starttls|smtps CERT KEY`, or nothing for plain SMTP.
    tls: Vec<String>,
}

impl Drop for Catcher {
    fn drop(&mut self) {
        self.stop();
    }
}

fn script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/smtp/catcher.py")
}

/// Whether the catcher can run here; otherwise a notice (or a failure under CI=true).
pub fn available() -> bool {
    let ok = Command::new("python3")
        .args(["-c", "import aiosmtpd"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        assert!(
            std::env::var("CI").ok().as_deref() != Some("true"),
            "CI must install aiosmtpd (pip install aiosmtpd==1.4.6)"
        );
        let _ = writeln!(
            std::io::stderr(),
            "\n*** SKIPPED: the mail tests need python3 and aiosmtpd (pip install aiosmtpd==1.4.6) ***\n"
        );
    }
    ok
}

impl Catcher {
    /// A catcher on a spare port, not started yet (for tests that begin with SMTP down).
    pub fn stopped() -> Catcher {
        Catcher {
            port: crate::support::free_port(),
            dir: tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap(),
            child: None,
            tls: Vec::new(),
        }
    }

    /// A catcher that speaks TLS with `cert` and `key` (PEM files): `starttls` (offered; plain
    /// text would be taken too) or `smtps` (from the first byte).
    pub async fn start_tls(mode: &str, cert: &Path, key: &Path) -> Catcher {
        let mut c = Catcher::stopped();
        let path = |p: &Path| p.to_str().unwrap().to_owned();
        c.tls = vec![mode.to_owned(), path(cert), path(key)];
        c.run().await;
        c
    }

    pub async fn start() -> Catcher {
        let mut c = Catcher::stopped();
        c.run().await;
        c
    }

    /// (Re)starts the server on its port, and waits until it accepts connections.
    pub async fn run(&mut self) {
        assert!(self.child.is_none());
        self.child = Some(
            Command::new("python3")
                .arg(script())
                .arg(self.port.to_string())
                .arg(self.dir.path())
                .args(&self.tls)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap(),
        );
        let started = Instant::now();
        while tokio::net::TcpStream::connect(("127.0.0.1", self.port))
            .await
            .is_err()
        {
            assert!(
                started.elapsed() < Duration::from_secs(15),
                "the SMTP catcher did not start"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// `[email]` for a Tessera that sends here.
    pub fn config(&self) -> String {
        format!(
            "[email]\nsmtp_url = \"smtp://127.0.0.1:{}\"\nfrom = \"Tessera <no-reply@tessera.test>\"\nlink_base = \"https://app.test/account\"\n",
            self.port
        )
    }

    /// Every message received so far, oldest first.
    pub fn messages(&self) -> Vec<Value> {
        let mut files: Vec<_> = std::fs::read_dir(self.dir.path())
            .unwrap()
            .filter_map(|e| e.ok())
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect();
        files.sort_by_key(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok());
        files
            .iter()
            .map(|p| serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap())
            .collect()
    }

    /// Waits for the messages to `to` until there are `n`, at most `within`.
    pub async fn wait_for(&self, to: &str, n: usize, within: Duration) -> Vec<Value> {
        let started = Instant::now();
        loop {
            let got = self.to(to);
            if got.len() >= n || started.elapsed() > within {
                return got;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub fn to(&self, to: &str) -> Vec<Value> {
        self.messages()
            .into_iter()
            .filter(|m| {
                m["rcpt_tos"]
                    .as_array()
                    .is_some_and(|r| r.iter().any(|x| x == to))
            })
            .collect()
    }
}

/// The token after `field=` in a mail's plain text.
pub fn token_in(mail: &Value, field: &str) -> String {
    let text = mail["text"].as_str().unwrap();
    let at = text
        .find(&format!("#{field}="))
        .unwrap_or_else(|| panic!("no {field} in {text}"));
    text[at + field.len() + 2..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect()
}
