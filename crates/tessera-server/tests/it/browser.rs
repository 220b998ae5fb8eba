//! The account page in real Chromium (Debian's `chromium`), driven by playwright-core from npm
//! (`tests/browser`, installed by `.ci/run`). Skips with a notice where either is missing,
//! except under CI=true.

use std::io::Write as _;
use std::path::Path;
use std::process::Command;

use crate::common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_account_page_signs_in_lists_revokes_and_signs_out_in_chromium() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser");
    let ready = Path::new("/usr/bin/chromium").exists()
        && dir.join("node_modules/playwright-core").exists()
        && Command::new("node")
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success());
    if !ready {
        assert!(
            std::env::var("CI").ok().as_deref() != Some("true"),
            "CI must install chromium and the browser test's npm packages"
        );
        let _ = writeln!(
            std::io::stderr(),
            "\n*** SKIPPED: the browser test needs /usr/bin/chromium and `npm ci` in {} ***\n",
            dir.display()
        );
        return;
    }
    let srv = start("").await;
    // Browsers treat localhost as a secure context, so the __Secure-/__Host- cookies work.
    let base = format!("http://localhost:{}", srv.addr.port());
    // TESSERA_SCREENSHOT=docs/account-page.png refreshes the picture in the docs.
    let shot = std::env::var("TESSERA_SCREENSHOT")
        .unwrap_or_else(|_| format!("{}/account-page.png", env!("CARGO_TARGET_TMPDIR")));
    let run = tokio::task::spawn_blocking(move || {
        Command::new("node")
            .arg("account.mjs")
            .arg(&base)
            .arg(&shot)
            .current_dir(&dir)
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
    assert!(out.contains("browser test passed"), "{out}");
}
