//! The real `tessera` binary: zero-config start, secret files, restarts, config errors, and no
//! secret in the logs.
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::common::{BIN, PASSWORD};

pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn serve(dir: &Path, port: u16, log: &str) -> Child {
    let log = std::fs::File::create(dir.join(log)).unwrap();
    Command::new(BIN)
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .current_dir(dir)
        .env("RUST_LOG", "debug")
        .env_remove("TESSERA_TEST_DATABASE_URL")
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap()
}

pub(crate) async fn wait_healthy(client: &reqwest::Client, port: u16) -> Duration {
    let started = Instant::now();
    loop {
        let url = format!("http://127.0.0.1:{port}/healthz");
        if let Ok(res) = client.get(url).send().await
            && res.status() == 200
        {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "server did not come up"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

pub(crate) fn stop(mut child: Child) {
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let status = child.wait().unwrap();
    assert!(status.success(), "graceful shutdown on SIGTERM: {status:?}");
}

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

#[tokio::test]
async fn zero_config_start_restart_and_no_secrets_in_logs() {
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let port = free_port();
    let client = reqwest::Client::new();
    let child = serve(dir.path(), port, "first.log");
    wait_healthy(&client, port).await;
    let data = dir.path().join("tessera-data");
    assert!(data.join("tessera.db").exists());
    assert_eq!(mode(&data), 0o700);
    assert_eq!(mode(&data.join("master.key")), 0o600);
    assert_eq!(mode(&data.join("admin.key")), 0o600);
    let admin_key = std::fs::read_to_string(data.join("admin.key")).unwrap();
    let master_key = std::fs::read_to_string(data.join("master.key")).unwrap();

    let base = format!("http://127.0.0.1:{port}");
    let reg: Value = client
        .post(format!("{base}/auth/register"))
        .json(&json!({"email": "log@example.com", "password": PASSWORD}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let refreshed: Value = client
        .post(format!("{base}/auth/refresh"))
        .json(&json!({"refresh_token": reg["refresh_token"]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let bad = client
        .post(format!("{base}/auth/login"))
        .json(&json!({"email": "log@example.com", "password": "wrong password guess 1"}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 401);
    let intro = client
        .post(format!("{base}/auth/introspect"))
        .header("x-api-key", admin_key.trim())
        .json(&json!({"token": refreshed["access_token"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        intro.json::<Value>().await.unwrap()["active"],
        true,
        "the generated admin key works"
    );
    let mfa =
        second_factor_secrets(&client, &base, refreshed["access_token"].as_str().unwrap()).await;
    stop(child);

    // A restart on the existing database: same keys, earlier tokens still verify.
    let child = serve(dir.path(), port, "second.log");
    let ready_after = wait_healthy(&client, port).await;
    eprintln!("restart on an existing database was healthy after {ready_after:?}");
    let me = client
        .get(format!("{base}/auth/me"))
        .bearer_auth(refreshed["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 200);
    stop(child);

    let logs = std::fs::read_to_string(dir.path().join("first.log")).unwrap()
        + &std::fs::read_to_string(dir.path().join("second.log")).unwrap();
    assert!(logs.contains("admin.key"), "the admin key's path is logged");
    assert!(
        logs.contains("master.key"),
        "the master key's path is logged"
    );
    assert!(
        logs.contains("/auth/register"),
        "requests are logged (so the check below means something)"
    );
    let secrets = [
        PASSWORD,
        "wrong password guess 1",
        admin_key.trim(),
        master_key.trim(),
        reg["access_token"].as_str().unwrap(),
        reg["refresh_token"].as_str().unwrap(),
        refreshed["access_token"].as_str().unwrap(),
        refreshed["refresh_token"].as_str().unwrap(),
        reg["csrf_token"].as_str().unwrap(),
    ];
    let mfa_secrets = [&mfa.totp_secret, &mfa.mfa_token, &mfa.recovery_code];
    for secret in secrets.into_iter().chain(mfa_secrets.map(String::as_str)) {
        assert!(
            !logs.contains(secret),
            "a secret reached the log: {:.12}…",
            secret
        );
        // Also not a fragment of one (a token's signature or secret part).
        let tail = &secret[secret.len().saturating_sub(16)..];
        assert!(!logs.contains(tail), "part of a secret reached the log");
    }
    // Six digits can occur in a log by chance (a timestamp's microseconds); a logged body or
    // field would quote them or name them.
    for code in &mfa.totp_codes {
        for form in [
            format!("\"{code}\""),
            format!("={code}"),
            format!(": {code}"),
        ] {
            assert!(!logs.contains(&form), "a TOTP code reached the log");
        }
    }
}

/// What a second factor puts through the server: a TOTP secret, its codes (a wrong one and two
/// right ones), an mfa token, a recovery code.
struct MfaSecrets {
    totp_secret: String,
    totp_codes: Vec<String>,
    mfa_token: String,
    recovery_code: String,
}

/// Sends, and reads the answer's JSON body.
trait SendJson {
    async fn send_json(self) -> Value;
}

impl SendJson for reqwest::RequestBuilder {
    async fn send_json(self) -> Value {
        self.send().await.unwrap().json().await.unwrap()
    }
}

async fn second_factor_secrets(client: &reqwest::Client, base: &str, access: &str) -> MfaSecrets {
    use tessera_core::totp::{STEP_SECS, TotpSecret};
    let step = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
        / STEP_SECS;
    let post = |path: &str, body: Value| client.post(format!("{base}{path}")).json(&body);
    let enrolled: Value = post("/auth/mfa/totp", json!({}))
        .bearer_auth(access)
        .send_json()
        .await;
    let totp_secret = enrolled["secret"].as_str().unwrap().to_owned();
    let secret = TotpSecret::from_base32(&totp_secret).unwrap();
    let (now, next) = (secret.code_at_step(step), secret.code_at_step(step + 1));
    let wrong = ["000000", "111111", "222222"]
        .into_iter()
        .find(|c| ![&now, &next].contains(&&c.to_string()) && *c != secret.code_at_step(step - 1))
        .unwrap()
        .to_owned();
    let id = enrolled["factor"]["id"].as_str().unwrap();
    let confirmed: Value = post(
        &format!("/auth/mfa/totp/{id}/confirm"),
        json!({"code": now}),
    )
    .bearer_auth(access)
    .send_json()
    .await;
    let recovery_code = confirmed["recovery_codes"][0].as_str().unwrap().to_owned();
    let login = json!({"email": "log@example.com", "password": PASSWORD});
    let challenge: Value = post("/auth/login", login.clone()).send_json().await;
    let mfa_token = challenge["mfa_token"].as_str().unwrap().to_owned();
    for (code, status) in [(&wrong, 401), (&next, 200)] {
        let res = post(
            "/auth/mfa/verify",
            json!({"mfa_token": mfa_token, "code": code}),
        )
        .send()
        .await
        .unwrap();
        assert_eq!(res.status(), status);
    }
    let again: Value = post("/auth/login", login).send_json().await;
    let res = post(
        "/auth/mfa/verify",
        json!({"mfa_token": again["mfa_token"], "code": recovery_code}),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(res.status(), 200, "a recovery code signs in");
    MfaSecrets {
        totp_secret,
        totp_codes: vec![wrong, now, next],
        mfa_token,
        recovery_code,
    }
}

#[test]
fn config_check_names_the_bad_key_and_exits_non_zero() {
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let cases = [
        ("colour = \"blue\"\n", "colour"),
        (
            "[tokens]\nalgorithm = \"HS256\"\nhs256_secret = \"short\"\n",
            "tokens.hs256_secret",
        ),
        ("[tokens]\naccess_ttl = \"soon\"\n", "tokens.access_ttl"),
    ];
    for (toml, key) in cases {
        let file = dir.path().join("bad.toml");
        std::fs::write(&file, toml).unwrap();
        for sub in [
            &["config", "check", "--config"][..],
            &["serve", "--config"][..],
        ] {
            let out = Command::new(BIN)
                .args(sub)
                .arg(&file)
                .current_dir(dir.path())
                .output()
                .unwrap();
            assert!(!out.status.success(), "{sub:?} accepted {toml}");
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(err.contains(key), "{sub:?}: {err} should name {key}");
            assert!(!err.contains("short\""), "the secret's value is not echoed");
        }
    }
    // An unknown TESSERA_* variable is reported, and does not stop anything (API.md §1).
    let out = Command::new(BIN)
        .args(["config", "check"])
        .env("TESSERA_TOKENS__ACCES_TTL", "5m")
        .env("TESSERA_PORT", "tcp://10.0.0.1:8080")
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(out.status.success());
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        said.contains("warning") && said.contains("TESSERA_TOKENS__ACCES_TTL"),
        "{said}"
    );
    assert!(
        said.contains("TESSERA_PORT") && !said.contains("10.0.0.1"),
        "{said}"
    );
    let ok = Command::new(BIN)
        .args(["config", "check"])
        .env("TESSERA_TOKENS__ACCESS_TTL", "5m")
        .current_dir(dir.path())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert!(
        !dir.path().join("tessera-data").exists(),
        "config check creates nothing"
    );
    // The SMTP URL's password is never shown; bad mail settings are named.
    let mail = Command::new(BIN)
        .args(["config", "check"])
        .env(
            "TESSERA_EMAIL__SMTP_URL",
            "smtps://apikey:Sup3rSecretPw@smtp.example.com:465",
        )
        .env("TESSERA_EMAIL__FROM", "Example <no-reply@example.com>")
        .current_dir(dir.path())
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&mail.stdout);
    assert!(
        mail.status.success() && said.contains("smtps://smtp.example.com:465"),
        "{said}"
    );
    assert!(
        !said.contains("Sup3rSecretPw") && !said.contains("apikey"),
        "{said}"
    );
    for (var, value, key) in [
        ("TESSERA_EMAIL__SMTP_URL", "http://x", "email.smtp_url"),
        (
            "TESSERA_EMAIL__LINK_BASE",
            "https://x.test/#frag",
            "email.link_base",
        ),
        ("TESSERA_EMAIL__RESET_TTL", "0", "email.reset_ttl"),
    ] {
        let out = Command::new(BIN)
            .args(["config", "check"])
            .env(var, value)
            .env("TESSERA_EMAIL__FROM", "a@b.test")
            .current_dir(dir.path())
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            !out.status.success() && err.contains(key),
            "{var}={value}: {err}"
        );
    }
    let out = Command::new(BIN)
        .args(["config", "check"])
        .env("TESSERA_EMAIL__SMTP_URL", "smtp://127.0.0.1:25")
        .current_dir(dir.path())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("email.from"), "{err}");
}

#[test]
fn migrate_creates_the_database_and_is_idempotent() {
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    for _ in 0..2 {
        let out = Command::new(BIN)
            .arg("migrate")
            .current_dir(dir.path())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert!(dir.path().join("tessera-data/tessera.db").exists());
    assert!(
        !dir.path().join("tessera-data/admin.key").exists(),
        "migrate makes no keys"
    );
}

#[test]
fn keys_list_and_rotate_on_the_database() {
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let run = |args: &[&str]| {
        let out = Command::new(BIN)
            .args(args)
            .current_dir(dir.path())
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (ok, list, err) = run(&["keys", "list"]);
    assert!(ok, "{err}");
    assert_eq!(list.matches(" current ").count(), 1, "{list}");
    assert_eq!(list.matches(" next ").count(), 1, "{list}");
    let (ok, out, err) = run(&["keys", "rotate"]);
    assert!(ok, "{err}");
    assert!(out.starts_with("rotated: "), "{out}");
    assert_eq!(out.matches(" retiring ").count(), 1, "{out}");
    assert_eq!(out.matches(" current ").count(), 1, "{out}");
    let out = Command::new(BIN)
        .args(["keys", "rotate"])
        .current_dir(dir.path())
        .env("TESSERA_TOKENS__ALGORITHM", "HS256")
        .env(
            "TESSERA_TOKENS__HS256_SECRET",
            "0123456789abcdef0123456789abcdef",
        )
        .output()
        .unwrap();
    assert!(
        !out.status.success(),
        "HS256 keys come from the configuration"
    );
}

fn cli(dir: &Path, args: &[&str], stdin: Option<&str>) -> (bool, String, String) {
    use std::io::Write as _;
    let mut child = Command::new(BIN)
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
    } else {
        drop(child.stdin.take());
    }
    let out = child.wait_with_output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The CLI acts on the database; a running server refuses what it revoked within 1 s.
#[tokio::test]
async fn cli_users_and_sessions_against_a_running_server() {
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let port = free_port();
    let client = reqwest::Client::new();
    let child = serve(dir.path(), port, "cli.log");
    wait_healthy(&client, port).await;
    let base = format!("http://127.0.0.1:{port}");

    let (ok, out, err) = cli(
        dir.path(),
        &[
            "user",
            "create",
            "--email",
            "Cli@Example.com",
            "--password-stdin",
        ],
        Some(&format!("{PASSWORD}\n")),
    );
    assert!(ok, "{err}");
    assert!(
        out.starts_with("created user ") && out.contains("<cli@example.com>"),
        "{out}"
    );
    let (ok, _, err) = cli(
        dir.path(),
        &[
            "user",
            "create",
            "--email",
            "cli@example.com",
            "--password-stdin",
        ],
        Some(PASSWORD),
    );
    assert!(!ok && err.contains("already registered"), "{err}");
    let (ok, _, err) = cli(
        dir.path(),
        &[
            "user",
            "create",
            "--email",
            "r@example.com",
            "--password-stdin",
            "--role",
            "ghost",
        ],
        Some(PASSWORD),
    );
    assert!(!ok && err.contains("unknown role"), "{err}");
    let (ok, _, err) = cli(
        dir.path(),
        &["user", "create", "--email", "x@example.com"],
        None,
    );
    assert!(
        !ok && err.contains("--password-stdin"),
        "the password is never an argument: {err}"
    );

    let login = |ns: &'static str| {
        let client = client.clone();
        let base = base.clone();
        async move {
            let res = client
                .post(format!("{base}/auth/login"))
                .json(&json!({"email": "cli@example.com", "password": PASSWORD, "namespace": ns}))
                .send()
                .await
                .unwrap();
            assert_eq!(
                res.status(),
                200,
                "the password read from stdin, less its newline, works"
            );
            res.json::<Value>().await.unwrap()
        }
    };
    let a = login("default").await;
    let b = login("default").await;
    let (ok, out, _) = cli(
        dir.path(),
        &["sessions", "list", "--user", "cli@example.com"],
        None,
    );
    assert!(ok);
    assert!(
        out.contains(a["session_id"].as_str().unwrap())
            && out.contains(b["session_id"].as_str().unwrap()),
        "{out}"
    );

    let refused = |token: String| {
        let client = client.clone();
        let base = base.clone();
        async move {
            let started = Instant::now();
            loop {
                let res = client
                    .get(format!("{base}/auth/me"))
                    .bearer_auth(&token)
                    .send()
                    .await
                    .unwrap();
                if res.status() == 401 {
                    return;
                }
                assert!(
                    started.elapsed() < Duration::from_secs(1),
                    "the server still accepts a token the CLI revoked"
                );
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    };
    let (ok, out, _) = cli(
        dir.path(),
        &[
            "sessions",
            "revoke",
            "--session",
            a["session_id"].as_str().unwrap(),
        ],
        None,
    );
    assert!(ok && out.contains("revoked 1 session"), "{out}");
    refused(a["access_token"].as_str().unwrap().to_owned()).await;
    let (ok, out, _) = cli(
        dir.path(),
        &["sessions", "revoke", "--user", "cli@example.com"],
        None,
    );
    assert!(ok && out.contains("revoked 1 session"), "{out}");
    refused(b["access_token"].as_str().unwrap().to_owned()).await;
    let c = login("tenant").await;
    let (ok, out, _) = cli(
        dir.path(),
        &["sessions", "revoke", "--namespace", "tenant"],
        None,
    );
    assert!(ok && out.contains("revoked 1 session"), "{out}");
    refused(c["access_token"].as_str().unwrap().to_owned()).await;
    let d = login("default").await;
    let (ok, out, _) = cli(dir.path(), &["sessions", "revoke", "--all"], None);
    assert!(ok && out.contains("revoked 1 session"), "{out}");
    refused(d["access_token"].as_str().unwrap().to_owned()).await;

    for bad in [
        &["sessions", "revoke"][..],
        &["sessions", "revoke", "--all", "--namespace", "x"],
        &["sessions", "list", "--user", "nobody@example.com"],
        &["sessions", "revoke", "--session", "nope"],
    ] {
        let (ok, _, err) = cli(dir.path(), bad, None);
        assert!(!ok, "{bad:?} succeeded");
        assert!(!err.is_empty());
    }
    stop(child);
}
