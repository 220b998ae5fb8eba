//! Mail over TLS (issue 16, API.md §1 `[email] smtp_url`): STARTTLS whenever the server offers
//! it, SMTPS from the first byte, and never plain text when TLS fails or is required. The SMTP
//! server is the real catcher with a certificate from a test CA made here with the openssl
//! CLI; the Tessera binary trusts that CA through `SSL_CERT_FILE` (read by
//! rustls-native-certs), so the certificate is verified as a provider's would be.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::smtp::{Catcher, available};
use crate::tessera_process::{TesseraHttp, TesseraProcess};

const WAIT: Duration = Duration::from_secs(10);

/// Whether the openssl CLI is here; otherwise a loud skip (a failure under CI=true).
fn openssl_available() -> bool {
    let ok = Command::new("openssl")
        .arg("version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        assert!(
            std::env::var("CI").ok().as_deref() != Some("true"),
            "CI must install the openssl CLI"
        );
        let _ = writeln!(
            std::io::stderr(),
            "\n*** SKIPPED: the mail-over-TLS test needs the openssl CLI: run `apt-get install openssl` ***\n"
        );
    }
    ok
}

/// A test CA, and a certificate for `localhost` and 127.0.0.1 that it signed, in `dir`:
/// (CA certificate, server certificate, server key), all PEM.
fn test_pki(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let openssl = |args: &[&str]| {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
    ];
    let ca = [
        "req", "-x509", "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
    ];
    openssl(&[&ca[..], &ec, &["-subj", "/CN=Tessera test CA"]].concat());
    let csr = ["req", "-keyout", "server.key", "-out", "server.csr"];
    openssl(&[&csr[..], &ec, &["-subj", "/CN=localhost"]].concat());
    std::fs::write(
        dir.join("server.ext"),
        "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=critical,CA:FALSE\n\
         keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    openssl(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "server.pem",
        "-days",
        "2",
        "-extfile",
        "server.ext",
    ]);
    (
        dir.join("ca.pem"),
        dir.join("server.pem"),
        dir.join("server.key"),
    )
}

fn email_config(smtp_url: &str) -> String {
    format!(
        "[email]\nsmtp_url = \"{smtp_url}\"\nfrom = \"Tessera <no-reply@tessera.test>\"\n\
         link_base = \"https://app.test/account\"\n"
    )
}

/// A Tessera sending to `smtp_url`, trusting `ca` if given; it registers `email`, which queues
/// a verification mail.
async fn register_via(smtp_url: &str, ca: Option<&Path>, email: &str) -> TesseraProcess {
    let ca = ca.map(|p| p.to_str().unwrap().to_owned());
    let env: Vec<(&str, &str)> = ca.iter().map(|p| ("SSL_CERT_FILE", p.as_str())).collect();
    let t = TesseraProcess::start_with_env("", &email_config(smtp_url), &env).await;
    t.register(email).await;
    t
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn starttls_and_smtps_are_used_and_never_traded_for_plain_text() {
    if !available() || !openssl_available() {
        return;
    }
    let pki = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let (ca, cert, key) = test_pki(pki.path());

    // STARTTLS offered (not required by the server): `smtp://` uses it.
    let starttls = Catcher::start_tls("starttls", &cert, &key).await;
    let url = format!("smtp://localhost:{}", starttls.port);
    let _a = register_via(&url, Some(&ca), "starttls@example.com").await;
    let got = starttls.wait_for("starttls@example.com", 1, WAIT).await;
    assert_eq!(got.len(), 1, "delivered over STARTTLS");
    assert_eq!(got[0]["tls"], true);

    // `smtps://`: TLS from the first byte.
    let smtps = Catcher::start_tls("smtps", &cert, &key).await;
    let url = format!("smtps://localhost:{}", smtps.port);
    let _b = register_via(&url, Some(&ca), "smtps@example.com").await;
    let got = smtps.wait_for("smtps@example.com", 1, WAIT).await;
    assert_eq!(got.len(), 1, "delivered over SMTPS");
    assert_eq!(got[0]["tls"], true);

    // The same STARTTLS server, but its certificate is not trusted: no mail, and no retreat to
    // plain text (the server would take it).
    let url = format!("smtp://localhost:{}", starttls.port);
    let _c = register_via(&url, None, "untrusted@example.com").await;
    // `?tls=required` and a server that offers no STARTTLS: no mail either. Without the
    // parameter, this server takes mail (the other tests' catchers are this one).
    let plain = Catcher::start().await;
    let url = format!("smtp://localhost:{}?tls=required", plain.port);
    let _d = register_via(&url, None, "required@example.com").await;
    // The worker polls every second and sends at once: three seconds is plenty for a mail that
    // would go out.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(starttls.to("untrusted@example.com").is_empty());
    assert!(plain.to("required@example.com").is_empty());
}
