//! Real Chromium (Debian's `chromium`), driven by playwright-core from npm (`tests/browser`,
//! installed by `.ci/run`): the account page, and the browser client in several tabs. Skips with
//! a notice where either is missing, except under CI=true.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::*;
use crate::resource_server::Api;

/// The browser tests' folder, or None (after a loud notice) where Chromium or the npm packages
/// are missing.
fn browser_suite() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser");
    let ready = Path::new("/usr/bin/chromium").exists()
        && dir.join("node_modules/playwright-core").exists()
        && Command::new("node")
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success());
    if ready {
        return Some(dir);
    }
    assert!(
        std::env::var("CI").ok().as_deref() != Some("true"),
        "CI must install chromium and the browser test's npm packages"
    );
    let _ = writeln!(
        std::io::stderr(),
        "\n*** SKIPPED: the browser tests need /usr/bin/chromium and `npm ci` in {}: run `apt-get install chromium` and `(cd crates/tessera-server/tests/browser && npm ci)` ***\n",
        dir.display()
    );
    None
}

/// The config `extra` with the issuer `http://localhost:PORT`: the account page is browsed
/// there, and its DPoP proofs name the issuer's origin.
fn localhost_issuer(extra: &str) -> impl FnOnce(u16) -> String + '_ {
    move |port| format!("issuer = \"http://localhost:{port}\"\n{extra}")
}

/// One browser at a time: four Chromiums on two cores would make the timing-sensitive tab
/// tests measure the machine instead of the client.
static ONE_BROWSER: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Runs `node script args...` in `dir`; fails the test with its output unless it printed `done`.
async fn node(dir: PathBuf, script: &'static str, args: Vec<String>, done: &'static str) {
    let _one = ONE_BROWSER.lock().await;
    let run = tokio::task::spawn_blocking(move || {
        Command::new("node")
            .arg(script)
            .args(&args)
            .current_dir(&dir)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let out = String::from_utf8_lossy(&run.stdout);
    println!("{out}");
    assert!(
        run.status.success(),
        "{out}\n{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(out.contains(done), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_account_page_signs_in_lists_revokes_and_signs_out_in_chromium() {
    let Some(dir) = browser_suite() else { return };
    // Browsers treat localhost as a secure context, so the __Secure-/__Host- cookies work; the
    // page binds its session with DPoP, whose proofs name the issuer: it is the page's origin.
    let srv = start_on_port(localhost_issuer("")).await;
    let base = format!("http://localhost:{}", srv.addr.port());
    // TESSERA_SCREENSHOT=docs/account-page.png refreshes the picture in the docs.
    let shot = std::env::var("TESSERA_SCREENSHOT")
        .unwrap_or_else(|_| format!("{}/account-page.png", env!("CARGO_TARGET_TMPDIR")));
    node(dir, "account.mjs", vec![base, shot], "browser test passed").await;
}

/// Issue 14's guarantees, tab by tab, with a 3 s access token: one refresh per period for three
/// tabs, sign-out everywhere, an admin revocation everywhere, offline then online, and a slow
/// answer from before a sign-out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_browser_client_shares_one_session_across_tabs_in_chromium() {
    let Some(dir) = browser_suite() else { return };
    let srv = start("[tokens]\naccess_ttl = \"3s\"\n").await;
    let base = format!("http://localhost:{}", srv.addr.port());
    let args = vec![base, ADMIN_KEY.to_owned(), "3".to_owned()];
    node(dir, "client.mjs", args, "client browser test passed").await;
}

/// The single-page app of docs/browser-client.md (examples/browser-spa), with the tessera-axum
/// example resource server as its API.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_example_single_page_app_works_in_chromium() {
    let Some(dir) = browser_suite() else { return };
    let srv = start(&format!("resource_server_keys = [\"{RESOURCE_KEY}\"]\n")).await;
    let api = Api::tuned(&srv.base, |b| b.issuer("http://tessera.test")).await;
    api.ready().await;
    let base = format!("http://localhost:{}", srv.addr.port());
    node(
        dir,
        "spa.mjs",
        vec![base, api.base.clone()],
        "spa browser test passed",
    )
    .await;
}

/// Account recovery end to end (issue 16): the account page, a real SMTP server, Chromium.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forgotten_password_is_reset_through_the_mail_in_chromium() {
    let Some(dir) = browser_suite() else { return };
    if !crate::smtp::available() {
        return;
    }
    let smtp = crate::smtp::Catcher::start().await;
    // The mail's links point at the configured page; the test opens them on this server.
    let config = smtp.config().replace(
        "link_base = \"https://app.test/account\"",
        "link_base = \"http://tessera.test/\"",
    );
    let srv = start_on_port(localhost_issuer(&config)).await;
    let base = format!("http://localhost:{}", srv.addr.port());
    let mails = smtp.dir.path().display().to_string();
    let args = vec![base, ADMIN_KEY.to_owned(), mails];
    node(dir, "recovery.mjs", args, "recovery browser test passed").await;
}

/// Second factors through the account page (issue 22): enrolment from the QR code's key, the
/// recovery codes, the two-step sign-in, and "confirm it's you" once the sign-in is older than
/// `mfa.enroll_window` (4 s here, so the test waits for it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn second_factors_work_through_the_account_page_in_chromium() {
    let Some(dir) = browser_suite() else { return };
    let srv = start_on_port(localhost_issuer("[mfa]\nenroll_window = \"4s\"\n")).await;
    let base = format!("http://localhost:{}", srv.addr.port());
    let shot = std::env::var("TESSERA_MFA_SCREENSHOT")
        .unwrap_or_else(|_| format!("{}/mfa-enrol.png", env!("CARGO_TARGET_TMPDIR")));
    let args = vec![base, "4".to_owned(), shot];
    node(dir, "mfa.mjs", args, "mfa browser test passed").await;
}

/// Passkeys through the account page (issue 23), with Chromium's virtual authenticator, browsed
/// at `http://localhost:PORT` (the RP ID `localhost`: WebAuthn refuses IP addresses).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passkeys_work_through_the_account_page_in_chromium() {
    let Some(dir) = browser_suite() else { return };
    let srv = start_on_port(|port| {
        format!(
            "issuer = \"http://localhost:{port}\"\n[mfa]\nenroll_window = \"4s\"\n[webauthn]\nrp_id = \"localhost\"\norigins = [\"http://localhost:{port}\"]\n"
        )
    })
    .await;
    let base = format!("http://localhost:{}", srv.addr.port());
    let args = vec![base, "4".to_owned()];
    node(dir, "passkey.mjs", args, "passkey browser test passed").await;
}

/// DPoP in Chromium (issue 24): the account page's session bound to a non-extractable key kept
/// in IndexedDB; a second tab refreshes with it; a copied token is refused by Tessera and by the
/// example resource server.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dpop_binds_the_account_page_session_in_chromium() {
    let Some(dir) = browser_suite() else { return };
    // Browsed at http://localhost:PORT, which is then the issuer: proofs name it in htu.
    let srv = start_on_port(|port| {
        format!(
            // Nonces on: the client's first proof is answered use_dpop_nonce, and it retries.
            "issuer = \"http://localhost:{port}\"\nresource_server_keys = [\"{RESOURCE_KEY}\"]\n[dpop]\nnonce = true\n"
        )
    })
    .await;
    let base = format!("http://localhost:{}", srv.addr.port());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let public = format!("http://{}", listener.local_addr().unwrap());
    let t = crate::example::tessera(
        &srv.base,
        RESOURCE_KEY,
        Some(base.clone()),
        vec![],
        std::time::Duration::from_secs(60),
        &public,
    )
    .unwrap();
    let api = Api::start_on(listener, t);
    api.ready().await;
    node(
        dir,
        "dpop.mjs",
        vec![base, public],
        "dpop browser test passed",
    )
    .await;
}
