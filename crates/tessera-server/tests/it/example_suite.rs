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

use crate::dpop_client::DpopKey;
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

fn sub_of(tokens: &Value) -> String {
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

async fn every_kind_of_revocation_arrives_through_the_stream_within_a_second(lang: Lang) {
    let t = TesseraProcess::start("", "").await;
    let Some(api) = Example::start(lang, &t.base(), &[]).await else {
        return;
    };
    api.healthy().await;
    let bound = Duration::from_secs(1);
    let mut timings = Vec::new();

    // A session (logout).
    let a = t.register("logout@example.com").await;
    assert_eq!(
        api.get("/hello", Some(s(&a, "access_token")))
            .await
            .status(),
        200
    );
    let res = t
        .client
        .post(t.url("/auth/logout"))
        .bearer_auth(s(&a, "access_token"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    timings.push((
        "session",
        api.time_until_revoked(s(&a, "access_token"), bound).await,
    ));

    // A user (ban); another user's token is unaffected.
    let b = t.register("ban@example.com").await;
    let other = t.register("other@example.com").await;
    let res = t
        .admin(
            Method::POST,
            &format!("/admin/users/{}/ban", sub_of(&b)),
            json!({}),
        )
        .await;
    assert_eq!(res.status(), 200);
    timings.push((
        "user",
        api.time_until_revoked(s(&b, "access_token"), bound).await,
    ));
    assert_eq!(
        api.get("/hello", Some(s(&other, "access_token")))
            .await
            .status(),
        200
    );

    // A user in one namespace; the same user elsewhere is unaffected.
    t.register("ns@example.com").await;
    let web = t.login_in("ns@example.com", Some("web")).await;
    let mobile = t.login_in("ns@example.com", Some("mobile")).await;
    let res = t
        .admin(
            Method::POST,
            "/admin/sessions/revoke",
            json!({"user_id": sub_of(&web), "namespace": "web"}),
        )
        .await;
    assert_eq!(res.status(), 200);
    timings.push((
        "user in namespace",
        api.time_until_revoked(s(&web, "access_token"), bound).await,
    ));
    assert_eq!(
        api.get("/hello", Some(s(&mobile, "access_token")))
            .await
            .status(),
        200
    );

    // A namespace.
    let res = t
        .admin(
            Method::POST,
            "/admin/sessions/revoke",
            json!({"namespace": "mobile"}),
        )
        .await;
    assert_eq!(res.status(), 200);
    timings.push((
        "namespace",
        api.time_until_revoked(s(&mobile, "access_token"), bound)
            .await,
    ));

    // Everything.
    let res = t
        .admin(Method::POST, "/admin/sessions/revoke", json!({"all": true}))
        .await;
    assert_eq!(res.status(), 200);
    timings.push((
        "all",
        api.time_until_revoked(s(&other, "access_token"), bound)
            .await,
    ));

    // Through the stream: it never broke, so nothing came by a poll (a poll is the only other
    // way in, and it runs only after a break).
    let status = api.status().await;
    assert_eq!(status["feed_reconnects"], 0, "{status}");
    assert_eq!(status["feed_connected"], true, "{status}");
    eprintln!("{lang:?} example: revocations refused after {timings:?}");
    // A token issued after the global cutoff passes.
    let fresh = t.login("other@example.com").await;
    assert_eq!(
        api.get("/hello", Some(s(&fresh, "access_token")))
            .await
            .status(),
        200
    );
}

async fn a_revocation_made_while_tessera_was_down_arrives_after_its_restart(lang: Lang) {
    let mut t = TesseraProcess::start("", "").await;
    let Some(api) = Example::start(lang, &t.base(), &[]).await else {
        return;
    };
    api.healthy().await;
    let a = t.register("kept@example.com").await;
    let b = t.register("revoked-offline@example.com").await;
    assert_eq!(
        api.get("/hello", Some(s(&b, "access_token")))
            .await
            .status(),
        200
    );

    t.kill();
    t.cli(&[
        "sessions",
        "revoke",
        "--user",
        "revoked-offline@example.com",
    ]);
    // Within the stale bound: still served from what was loaded.
    assert_eq!(
        api.get("/hello", Some(s(&b, "access_token")))
            .await
            .status(),
        200
    );

    t.run().await;
    // The backoff is capped at 5 s: the catch-up lands within it and a margin.
    let took = api
        .time_until_revoked(s(&b, "access_token"), Duration::from_secs(15))
        .await;
    eprintln!("{lang:?} example: the offline revocation applied {took:?} after the restart");
    assert_eq!(
        api.get("/hello", Some(s(&a, "access_token")))
            .await
            .status(),
        200
    );
    let status = api.status().await;
    assert!(status["feed_reconnects"].as_u64().unwrap() >= 1, "{status}");

    // And the stream follows again.
    let res = t
        .client
        .post(t.url("/auth/logout"))
        .bearer_auth(s(&a, "access_token"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    // The stream may still be reconnecting; the bound covers one backoff step.
    api.time_until_revoked(s(&a, "access_token"), Duration::from_secs(6))
        .await;
}

async fn a_key_rotation_is_honoured_without_a_restart(lang: Lang) {
    let t = TesseraProcess::start("", "").await;
    let Some(api) = Example::start(lang, &t.base(), &[]).await else {
        return;
    };
    api.healthy().await;
    let before = t.register("before@example.com").await;
    let fetches = api.status().await["jwks_fetches"].as_u64().unwrap();
    // Two rotations: the key that signs now was made after the example loaded the JWKS.
    for _ in 0..2 {
        let res = t.admin(Method::POST, "/admin/keys/rotate", json!({})).await;
        assert_eq!(res.status(), 200);
    }
    let after = t.register("after@example.com").await;
    assert_eq!(
        api.get("/hello", Some(s(&after, "access_token")))
            .await
            .status(),
        200
    );
    assert_eq!(
        api.status().await["jwks_fetches"],
        fetches + 1,
        "one fetch for the unknown kid"
    );
    // A token of the retiring key still verifies.
    assert_eq!(
        api.get("/hello", Some(s(&before, "access_token")))
            .await
            .status(),
        200
    );
}

async fn a_stale_feed_refuses_with_503_and_recovers(lang: Lang) {
    let mut t = TesseraProcess::start("", "").await;
    let Some(api) = Example::start(lang, &t.base(), &["--stale-after", "2"]).await else {
        return;
    };
    api.healthy().await;
    let token = s(&t.register("down@example.com").await, "access_token").to_owned();
    assert_eq!(api.get("/hello", Some(&token)).await.status(), 200);

    t.kill();
    assert_eq!(
        api.get("/hello", Some(&token)).await.status(),
        200,
        "within the bound"
    );
    tokio::time::sleep(Duration::from_millis(3500)).await;
    let res = api.get("/hello", Some(&token)).await;
    assert_eq!(res.headers()["retry-after"], "5");
    refused(res, 503, "unavailable").await;
    let res = api.client.get(api.url("/healthz")).send().await.unwrap();
    assert_eq!(res.status(), 503);
    assert_eq!(api.status().await["stale"], true);

    t.run().await;
    let started = Instant::now();
    while api.get("/hello", Some(&token)).await.status() != 200 {
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "never recovered"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        api.client
            .get(api.url("/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
}

async fn a_dpop_bound_token_needs_its_proof(lang: Lang) {
    let t = TesseraProcess::start("", "").await;
    let Some(api) = Example::start(lang, &t.base(), &[]).await else {
        return;
    };
    api.healthy().await;
    t.register("dpop@example.com").await;
    let key = DpopKey::new();
    let login_url = t.url("/auth/login");
    let res = t
        .client
        .post(&login_url)
        .header("dpop", key.proof("POST", &login_url, None, None))
        .json(&json!({"email": "dpop@example.com", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let tokens: Value = res.json().await.unwrap();
    assert_eq!(tokens["token_type"], "DPoP");
    let access = s(&tokens, "access_token").to_owned();
    let url = api.url("/hello");
    let hello = |auth: String, proof: Option<String>| {
        let mut req = api.client.get(&url).header("authorization", auth);
        if let Some(p) = proof {
            req = req.header("dpop", p);
        }
        req.send()
    };
    let dpop = format!("DPoP {access}");
    let proof = key.proof("GET", &url, Some(&access), None);
    let res = hello(dpop.clone(), Some(proof.clone())).await.unwrap();
    assert_eq!(res.status(), 200);
    // The same proof again: a replay.
    let challenge = refused(
        hello(dpop.clone(), Some(proof)).await.unwrap(),
        401,
        "invalid_dpop_proof",
    )
    .await;
    assert!(challenge.starts_with("DPoP "), "{challenge}");
    // As Bearer; without a proof; by another key; for another URL; for another method.
    refused(
        hello(format!("Bearer {access}"), None).await.unwrap(),
        401,
        "invalid_token",
    )
    .await;
    refused(
        hello(dpop.clone(), None).await.unwrap(),
        401,
        "invalid_dpop_proof",
    )
    .await;
    let foreign = DpopKey::new().proof("GET", &url, Some(&access), None);
    refused(
        hello(dpop.clone(), Some(foreign)).await.unwrap(),
        401,
        "invalid_dpop_proof",
    )
    .await;
    let elsewhere = key.proof("GET", &t.url("/hello"), Some(&access), None);
    refused(
        hello(dpop.clone(), Some(elsewhere)).await.unwrap(),
        401,
        "invalid_dpop_proof",
    )
    .await;
    let post = key.proof("POST", &url, Some(&access), None);
    refused(
        hello(dpop.clone(), Some(post)).await.unwrap(),
        401,
        "invalid_dpop_proof",
    )
    .await;
    // A proof for another token (ath).
    let other = key.proof("GET", &url, Some("another-token"), None);
    refused(
        hello(dpop.clone(), Some(other)).await.unwrap(),
        401,
        "invalid_dpop_proof",
    )
    .await;
    // An unbound token sent as DPoP.
    let plain = t.register("plain-dpop@example.com").await;
    let plain_token = s(&plain, "access_token");
    let p = key.proof("GET", &url, Some(plain_token), None);
    refused(
        hello(format!("DPoP {plain_token}"), Some(p)).await.unwrap(),
        401,
        "invalid_dpop_proof",
    )
    .await;
    // A fresh proof still works; the query string is not part of htu.
    let res = api
        .client
        .get(format!("{url}?x=1"))
        .header("authorization", &dpop)
        .header("dpop", key.proof("GET", &url, Some(&access), None))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
}
