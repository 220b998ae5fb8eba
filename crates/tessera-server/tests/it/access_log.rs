//! The default logging policy (docs/operations.md, "Logs"), on the real binary with no
//! `RUST_LOG`: every state-changing request and every failure has an access line at `info`;
//! successful reads (`GET`, introspection) have none; request ids carry the process's prefix.
use std::process::{Command, Stdio};

use serde_json::{Value, json};

use crate::binary::{free_port, stop, wait_healthy};
use crate::common::{BIN, PASSWORD};

#[tokio::test]
async fn info_logs_changes_and_failures_not_successful_reads() {
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let port = free_port();
    let log = std::fs::File::create(dir.path().join("serve.log")).unwrap();
    let child = Command::new(BIN)
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .current_dir(dir.path())
        .env_remove("RUST_LOG")
        .env_remove("TESSERA_TEST_DATABASE_URL")
        .env(
            "TESSERA_RESOURCE_SERVER_KEYS",
            "log-policy-reader-key-0123456789",
        )
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap();
    let client = reqwest::Client::new();
    wait_healthy(&client, port).await;
    let base = format!("http://127.0.0.1:{port}");

    let reg: Value = client
        .post(format!("{base}/auth/register"))
        .json(&json!({"email": "logs@example.com", "password": PASSWORD}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let access = reg["access_token"].as_str().unwrap();
    for _ in 0..3 {
        let me = client.get(format!("{base}/auth/me")).bearer_auth(access);
        assert_eq!(me.send().await.unwrap().status(), 200);
        let introspect = client
            .post(format!("{base}/auth/introspect"))
            .header("x-api-key", "log-policy-reader-key-0123456789")
            .json(&json!({"token": access}));
        assert_eq!(introspect.send().await.unwrap().status(), 200);
    }
    let bad_login = client
        .post(format!("{base}/auth/login"))
        .json(&json!({"email": "logs@example.com", "password": "not the password at all"}));
    assert_eq!(bad_login.send().await.unwrap().status(), 401);
    let bad_read = client.get(format!("{base}/auth/me")).bearer_auth("garbage");
    assert_eq!(bad_read.send().await.unwrap().status(), 401);
    stop(child);

    let logs = std::fs::read_to_string(dir.path().join("serve.log")).unwrap();
    let handled: Vec<&str> = logs.lines().filter(|l| l.contains("handled")).collect();
    let line = |path: &str, status: &str| {
        handled
            .iter()
            .filter(|l| {
                l.contains(&format!("path=\"{path}\"")) && l.contains(&format!("status={status}"))
            })
            .count()
    };
    assert_eq!(
        line("/auth/register", "201"),
        1,
        "a change is logged: {logs}"
    );
    assert_eq!(line("/auth/login", "401"), 1, "a failure is logged: {logs}");
    assert_eq!(
        line("/auth/me", "401"),
        1,
        "a failed read is logged: {logs}"
    );
    assert!(
        logs.contains("code=\"invalid_token\""),
        "a failure's line names its code: {logs}"
    );
    assert_eq!(
        line("/auth/me", "200"),
        0,
        "a successful read is not: {logs}"
    );
    assert_eq!(
        line("/auth/introspect", "200"),
        0,
        "nor an introspection: {logs}"
    );
    assert_eq!(line("/healthz", "200"), 0, "nor a health check: {logs}");
    assert_eq!(handled.len(), 3, "exactly the three lines above: {logs}");
    // Ids: the process's prefix (8 hex digits), a dash, a counter.
    let id = handled[0]
        .split_whitespace()
        .find_map(|w| w.strip_prefix("id="))
        .expect("the line has an id");
    let (prefix, n) = id.split_once('-').expect("prefix-counter");
    assert_eq!(prefix.len(), 8, "{id}");
    assert!(prefix.chars().all(|c| c.is_ascii_hexdigit()), "{id}");
    assert!(n.parse::<u64>().is_ok(), "{id}");
}
