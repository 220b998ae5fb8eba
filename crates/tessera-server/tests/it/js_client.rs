//! The browser client's own tests (`clients/js/test`, Node's built-in runner): the unit tests of
//! its timing and state logic, and its body transport against this real server.

use std::io::Write as _;
use std::path::Path;
use std::process::Command;

use crate::common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_js_client_tests_pass_against_the_real_server() {
    if Command::new("node").arg("--version").output().is_err() {
        assert!(
            std::env::var("CI").ok().as_deref() != Some("true"),
            "CI must have node"
        );
        let _ = writeln!(
            std::io::stderr(),
            "\n*** SKIPPED: the JS client's tests need node (20 or newer): run `apt-get install nodejs` ***\n"
        );
        return;
    }
    // A short grace, so that the stolen-token test need not wait 30 s.
    let srv = start("[tokens]\nreuse_grace = \"1s\"\n").await;
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../clients/js");
    let url = srv.base.clone();
    let run = tokio::task::spawn_blocking(move || {
        Command::new("node")
            .args(["--test", "test/client.test.mjs", "test/server.test.mjs"])
            .env("TESSERA_URL", url)
            .env("TESSERA_ADMIN_KEY", ADMIN_KEY)
            .env("TESSERA_REUSE_GRACE_MS", "1000")
            .current_dir(dir)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let out = String::from_utf8_lossy(&run.stdout);
    assert!(
        run.status.success(),
        "{out}\n{}",
        String::from_utf8_lossy(&run.stderr)
    );
    // Every test ran: none skipped (the server tests skip only without TESSERA_URL).
    assert!(
        out.contains("# skipped 0") && out.contains("# fail 0"),
        "{out}"
    );
    assert!(!out.contains("# pass 0"), "{out}");
}
