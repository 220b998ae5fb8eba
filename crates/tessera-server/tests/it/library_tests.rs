//! The Node and Python libraries' own tests (`node --test` in clients/node, `pytest` in
//! clients/python) against the real `tessera` binary: this test starts it and hands them its
//! URL and keys. Each skips with a notice where its runtime is missing, except under CI=true.

use std::path::Path;
use std::process::{Command, Output};

use crate::tessera_process::*;

fn run(cmd: &mut Command, tessera: &TesseraProcess) -> Output {
    cmd.env("TESSERA_URL", tessera.base())
        .env("TESSERA_RESOURCE_KEY", RESOURCE_KEY)
        .env("TESSERA_ADMIN_KEY", ADMIN_KEY)
        .output()
        .unwrap()
}

fn skipped(ok: bool, how: &str) -> bool {
    if !ok {
        assert!(
            std::env::var("CI").ok().as_deref() != Some("true"),
            "CI must provide {how}"
        );
        eprintln!("\n*** SKIPPED: needs {how} ***\n");
    }
    !ok
}

fn clients() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../clients")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_node_library_tests_pass_against_the_real_binary() {
    let dir = clients().join("node");
    if skipped(
        dir.join("node_modules/jose").exists(),
        "node and `npm ci` in clients/node",
    ) {
        return;
    }
    let t = TesseraProcess::start("", "").await;
    let out = tokio::task::block_in_place(|| {
        run(
            Command::new("node")
                .arg("--test")
                .arg("test/")
                .current_dir(&dir),
            &t,
        )
    });
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("# skipped 0") && stdout.contains("# fail 0"),
        "{stdout}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_python_library_tests_pass_against_the_real_binary() {
    let dir = clients().join("python");
    let ok = Command::new("python3")
        .args(["-c", "import jwt, httpx, pytest, cryptography"])
        .output()
        .is_ok_and(|o| o.status.success());
    if skipped(ok, "python3 and `pip install 'clients/python[test]'`") {
        return;
    }
    let t = TesseraProcess::start("", "").await;
    let out = tokio::task::block_in_place(|| {
        run(
            Command::new("python3")
                .args(["-m", "pytest", "-q", "-rs", "tests"])
                .env("PYTHONPATH", dir.join("src"))
                .current_dir(&dir),
            &t,
        )
    });
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!stdout.contains("skipped"), "every test ran: {stdout}");
}
