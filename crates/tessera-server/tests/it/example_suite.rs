//! The shared resource-server suite (API.md §11): one set of scenarios run against the three
//! example resource servers (Rust `tessera-axum`, Node `clients/node`, Python `clients/python`),
//! each started with the same command line, against the real `tessera` binary. The Rust one runs
//! in process through its own CLI; the others as processes. Node and Python skip with a notice
//! where their runtime or packages are missing, except under CI=true.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use reqwest::Method;
use serde_json::{Value, json};

use crate::example_suite_feed::{
    a_dpop_bound_token_needs_its_proof, a_key_rotation_is_honoured_without_a_restart,
    a_revocation_made_while_tessera_was_down_arrives_after_its_restart,
    a_stale_feed_refuses_with_503_and_recovers,
    every_kind_of_revocation_arrives_through_the_stream_within_a_second,
};
use crate::resource_server::{claims_of, refused, s};
use crate::support::free_port;
use crate::tessera_process::*;

#[derive(Clone, Copy, Debug)]
pub(crate) enum Lang {
    Rust,
    Node,
    Python,
}

struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A running example resource server.
pub(crate) struct Example {
    pub base: String,
    pub client: reqwest::Client,
    log: PathBuf,
    _process: Option<KillOnDrop>,
    _task: Option<tokio::task::JoinHandle<()>>,
}

impl Drop for Example {
    fn drop(&mut self) {
        if let Some(t) = &self._task {
            t.abort();
        }
    }
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Whether `lang`'s runtime and packages are here; if not, a loud skip (a failure under CI).
fn available(lang: Lang) -> bool {
    let (ok, how) = match lang {
        Lang::Rust => return true,
        Lang::Node => (
            repo().join("clients/node/node_modules/jose").exists()
                && Command::new("node")
                    .arg("--version")
                    .output()
                    .is_ok_and(|o| o.status.success()),
            "node and `npm ci` in clients/node",
        ),
        Lang::Python => (
            Command::new("python3")
                .args(["-c", "import jwt, httpx, uvicorn, cryptography"])
                .output()
                .is_ok_and(|o| o.status.success()),
            "python3 and `pip install 'clients/python[examples]'`",
        ),
    };
    if !ok {
        assert!(
            std::env::var("CI").ok().as_deref() != Some("true"),
            "CI must provide {how}"
        );
        eprintln!("\n*** SKIPPED: the {lang:?} example needs {how} ***\n");
    }
    ok
}

impl Example {
    /// Starts `lang`'s example against `tessera` with the shared command line plus `extra`;
    /// `None` where it cannot run here (skipped). Waits for `/healthz` 200 when `wait`.
    pub(crate) async fn start(lang: Lang, tessera: &str, extra: &[&str]) -> Option<Example> {
        if !available(lang) {
            return None;
        }
        let port = free_port();
        let listen = format!("127.0.0.1:{port}");
        let mut args: Vec<String> = [
            "--tessera",
            tessera,
            "--listen",
            &listen,
            "--key",
            RESOURCE_KEY,
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        args.extend(extra.iter().map(|s| s.to_string()));
        let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR"))
            .unwrap()
            .keep();
        let log = dir.join(format!("{lang:?}.log"));
        let (process, task) = match lang {
            Lang::Rust => {
                let argv = std::iter::once("resource_server".to_owned()).chain(args);
                let task = tokio::spawn(async move {
                    crate::example::cli(argv)
                        .await
                        .expect("the Rust example runs");
                });
                (None, Some(task))
            }
            Lang::Node | Lang::Python => {
                let out = std::fs::File::create(&log).unwrap();
                let mut cmd = match lang {
                    Lang::Node => {
                        let mut c = Command::new("node");
                        c.arg(repo().join("clients/node/examples/resource-server.mjs"));
                        c
                    }
                    _ => {
                        let mut c = Command::new("python3");
                        c.arg(repo().join("clients/python/examples/resource_server.py"))
                            // The library in this tree, whatever an earlier install left.
                            .env("PYTHONPATH", repo().join("clients/python/src"));
                        c
                    }
                };
                let child = cmd
                    .args(&args)
                    .stdout(out.try_clone().unwrap())
                    .stderr(out)
                    .stdin(Stdio::null())
                    .spawn()
                    .unwrap();
                (Some(KillOnDrop(child)), None)
            }
        };
        let ex = Example {
            base: format!("http://{listen}"),
            client: reqwest::Client::new(),
            log,
            _process: process,
            _task: task,
        };
        Some(ex)
    }

    pub(crate) async fn healthy(&self) {
        let started = Instant::now();
        loop {
            if let Ok(res) = self.client.get(self.url("/healthz")).send().await
                && res.status() == 200
            {
                return;
            }
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "the example never got ready: {}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub(crate) async fn get(&self, path: &str, token: Option<&str>) -> reqwest::Response {
        let mut req = self.client.get(self.url(path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        req.send().await.unwrap()
    }

    pub(crate) async fn status(&self) -> Value {
        let res = self.client.get(self.url("/healthz")).send().await.unwrap();
        res.json().await.unwrap()
    }

    /// Polls `/hello` until it answers `session_revoked` (at most `bound`); how long that took.
    pub(crate) async fn time_until_revoked(&self, token: &str, bound: Duration) -> Duration {
        let started = Instant::now();
        loop {
            let res = self.get("/hello", Some(token)).await;
            if res.status() == 401 {
                let body: Value = res.json().await.unwrap();
                assert_eq!(body["code"], "session_revoked", "{body}");
                return started.elapsed();
            }
            assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
            assert!(
                started.elapsed() < bound,
                "the revocation never reached the resource server within {bound:?}"
            );
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }
}

/// The same scenario as one test per example.
macro_rules! for_each_example {
    ($($scenario:ident),* $(,)?) => {$(
        mod $scenario {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn rust() {
                super::$scenario(super::Lang::Rust).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn node() {
                super::$scenario(super::Lang::Node).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn python() {
                super::$scenario(super::Lang::Python).await
            }
        }
    )*};
}

for_each_example!(
    tokens_are_accepted_and_forgeries_refused,
    guards_need_a_permission_a_recent_login_and_aal2,
    every_kind_of_revocation_arrives_through_the_stream_within_a_second,
    a_revocation_made_while_tessera_was_down_arrives_after_its_restart,
    a_key_rotation_is_honoured_without_a_restart,
    a_stale_feed_refuses_with_503_and_recovers,
    a_dpop_bound_token_needs_its_proof,
);

pub(crate) fn sub_of(tokens: &Value) -> String {
    claims_of(s(tokens, "access_token"))["sub"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn tokens_are_accepted_and_forgeries_refused(lang: Lang) {
    let t = TesseraProcess::start("", "").await;
    let Some(api) = Example::start(lang, &t.base(), &[]).await else {
        return;
    };
    api.healthy().await;
    let reg = t.register("ada@example.com").await;
    let token = s(&reg, "access_token");
    let res = api.get("/hello", Some(token)).await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    let claims = claims_of(token);
    assert_eq!(body["sub"], claims["sub"]);
    assert_eq!(body["sid"], claims["sid"]);
    assert_eq!(body["roles"], json!([]));
    // Served again (from the cache): the same.
    assert_eq!(api.get("/hello", Some(token)).await.status(), 200);

    let challenge = refused(api.get("/hello", None).await, 401, "missing_token").await;
    assert!(challenge.starts_with("Bearer "), "{challenge}");
    // Another scheme is no credential; a Bearer without a token is malformed.
    let res = api
        .client
        .get(api.url("/hello"))
        .header("authorization", "Basic dXNlcjpwYXNz")
        .send()
        .await
        .unwrap();
    refused(res, 401, "missing_token").await;
    refused(
        api.get("/hello", Some("garbage")).await,
        401,
        "invalid_token",
    )
    .await;

    // One character of the signature changed.
    let mut altered = token.as_bytes().to_vec();
    let i = altered.len() - 3;
    altered[i] = if altered[i] == b'A' { b'B' } else { b'A' };
    let altered = String::from_utf8(altered).unwrap();
    let challenge = refused(
        api.get("/hello", Some(&altered)).await,
        401,
        "invalid_token",
    )
    .await;
    assert!(challenge.contains("invalid_token"), "{challenge}");
    // Claims changed under the same signature.
    let parts: Vec<&str> = token.split('.').collect();
    let mut forged_claims = claims.clone();
    forged_claims["roles"] = json!(["admin"]);
    forged_claims["perms"] = json!(["admin"]);
    let payload = B64.encode(serde_json::to_vec(&forged_claims).unwrap());
    let forged = format!("{}.{payload}.{}", parts[0], parts[2]);
    refused(
        api.get("/admin-only", Some(&forged)).await,
        401,
        "invalid_token",
    )
    .await;
    // Signed by a key that is not Tessera's, under Tessera's kid.
    let header: Value = serde_json::from_slice(&B64.decode(parts[0]).unwrap()).unwrap();
    let stranger = ed25519_dalek::SigningKey::generate(&mut rand::rngs::OsRng);
    let input = format!("{}.{}", parts[0], parts[1]);
    use ed25519_dalek::Signer as _;
    let sig = stranger.sign(input.as_bytes());
    let forged = format!("{input}.{}", B64.encode(sig.to_bytes()));
    refused(api.get("/hello", Some(&forged)).await, 401, "invalid_token").await;
    // Another issuer, under a key of its own (an unknown kid): refused too.
    let stranger = tessera_token::SigningKey::generate(tessera_token::Algorithm::EdDSA).unwrap();
    let mut other = claims.clone();
    other["iss"] = "https://evil.example".into();
    let forged = tessera_token::sign(&serde_json::from_value(other).unwrap(), &stranger);
    refused(api.get("/hello", Some(&forged)).await, 401, "invalid_token").await;
    // `alg: none`, unsigned.
    let none = format!(
        "{}.{}.",
        B64.encode(json!({"alg": "none", "typ": "at+jwt", "kid": header["kid"]}).to_string()),
        parts[1]
    );
    refused(api.get("/hello", Some(&none)).await, 401, "invalid_token").await;
}

async fn guards_need_a_permission_a_recent_login_and_aal2(lang: Lang) {
    let t = TesseraProcess::start("", "").await;
    let Some(api) = Example::start(lang, &t.base(), &[]).await else {
        return;
    };
    api.healthy().await;
    let plain = t.register("plain@example.com").await;
    let token = s(&plain, "access_token");
    let res = api.get("/admin-only", Some(token)).await;
    let challenge = refused(res, 403, "insufficient_scope").await;
    assert!(challenge.contains("insufficient_scope"), "{challenge}");
    // A fresh login is recent; aal1 is not aal2.
    assert_eq!(api.get("/recent", Some(token)).await.status(), 200);
    let challenge = refused(
        api.get("/mfa", Some(token)).await,
        401,
        "insufficient_user_authentication",
    )
    .await;
    assert!(challenge.contains("acr_values=\"aal2\""), "{challenge}");

    // An admin's token carries the permission.
    let res = t
        .admin(
            Method::PUT,
            "/admin/roles/ops",
            json!({"permissions": ["admin"]}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let uid = sub_of(&plain);
    let res = t
        .admin(
            Method::PUT,
            &format!("/admin/users/{uid}/roles"),
            json!({"roles": ["ops"]}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let admin = t.login("plain@example.com").await;
    let res = api
        .get("/admin-only", Some(s(&admin, "access_token")))
        .await;
    assert_eq!(res.status(), 200);

    // An app-issued session the app says proved two factors.
    let res = t
        .admin(
            Method::POST,
            "/admin/sessions",
            json!({"user_id": uid, "amr": ["pwd", "otp", "mfa"]}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let app: Value = res.json().await.unwrap();
    // Two factors (amr mfa) make it aal2.
    assert_eq!(claims_of(s(&app, "access_token"))["acr"], "aal2");
    assert_eq!(
        api.get("/mfa", Some(s(&app, "access_token")))
            .await
            .status(),
        200
    );
}
