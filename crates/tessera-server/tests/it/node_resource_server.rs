//! The Node recipe (`examples/node-resource-server`, jose + the SSE feed) against the real
//! `tessera` binary: it accepts Tessera's tokens, refuses altered ones, and refuses a revoked
//! session within 1 s. Skips with a notice where Node or its `npm ci` is missing, except under
//! CI=true.

use std::io::Write as _;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::tessera_process::*;
use serde_json::Value;

struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn recipe_dir() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/node-resource-server")
}

#[tokio::test]
async fn the_node_recipe_verifies_tokens_and_follows_revocations() {
    let dir = recipe_dir();
    let ready = dir.join("node_modules/jose").exists()
        && Command::new("node")
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success());
    if !ready {
        assert!(
            std::env::var("CI").ok().as_deref() != Some("true"),
            "CI must run `npm ci` in examples/node-resource-server"
        );
        let _ = writeln!(
            std::io::stderr(),
            "\n*** SKIPPED: the Node recipe test needs node and `npm ci` in {}: run `(cd examples/node-resource-server && npm ci)` ***\n",
            dir.display()
        );
        return;
    }
    let t = TesseraProcess::start("", "").await;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let log = std::fs::File::create(t.data().join("node.log")).unwrap();
    let _node = KillOnDrop(
        Command::new("node")
            .arg("server.js")
            .args([
                "--tessera",
                &t.base(),
                "--listen",
                &format!("127.0.0.1:{port}"),
            ])
            .env("TESSERA_RESOURCE_KEY", RESOURCE_KEY)
            .current_dir(&dir)
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .stdin(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let api = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let started = Instant::now();
    loop {
        if let Ok(res) = client.get(format!("{api}/healthz")).send().await
            && res.status() == 200
        {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the node recipe never got ready: {}",
            std::fs::read_to_string(t.data().join("node.log")).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let hello = |token: String| {
        let client = client.clone();
        let api = api.clone();
        async move {
            client
                .get(format!("{api}/hello"))
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
        }
    };

    let reg = t.register("node@example.com").await;
    let token = reg["access_token"].as_str().unwrap().to_owned();
    let res = hello(token.clone()).await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert!(body["sub"].is_string() && body["sid"].is_string(), "{body}");

    // Altered (one signature character changed): refused.
    let mut altered = token.clone().into_bytes();
    let last = altered.len() - 2;
    altered[last] = if altered[last] == b'A' { b'B' } else { b'A' };
    let res = hello(String::from_utf8(altered).unwrap()).await;
    assert_eq!(res.status(), 401);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["code"], "invalid_token");
    let res = client.get(format!("{api}/hello")).send().await.unwrap();
    assert_eq!(res.status(), 401);

    // Logout on Tessera: refused by the Node API within a second.
    let res = t
        .client
        .post(t.url("/auth/logout"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    let started = Instant::now();
    loop {
        let res = hello(token.clone()).await;
        if res.status() == 401 {
            let body: Value = res.json().await.unwrap();
            assert_eq!(body["code"], "session_revoked");
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "the node recipe never saw the logout"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    eprintln!(
        "node recipe refused the logged-out token after {:?}",
        started.elapsed()
    );

    // A user-wide cutoff (ban) too, and a token of another user is unaffected.
    let other = t.register("node2@example.com").await;
    let banned = t.register("node3@example.com").await;
    let uid = banned["access_token"]
        .as_str()
        .unwrap()
        .split('.')
        .nth(1)
        .map(|p| {
            use base64::Engine as _;
            let v: Value = serde_json::from_slice(
                &base64::engine::general_purpose::URL_SAFE_NO_PAD
                    .decode(p)
                    .unwrap(),
            )
            .unwrap();
            v["sub"].as_str().unwrap().to_owned()
        });
    let res = t
        .admin(
            reqwest::Method::POST,
            &format!("/admin/users/{}/ban", uid.unwrap()),
            serde_json::json!({}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let started = Instant::now();
    while hello(banned["access_token"].as_str().unwrap().to_owned())
        .await
        .status()
        != 401
    {
        assert!(started.elapsed() < Duration::from_secs(1), "ban not seen");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(
        hello(other["access_token"].as_str().unwrap().to_owned())
            .await
            .status(),
        200
    );
}
