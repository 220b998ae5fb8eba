//! The account page's headers, checked over HTTP (the browser test checks its behaviour).

use crate::common::*;

#[tokio::test]
async fn the_page_and_its_assets_carry_a_strict_policy() {
    let srv = start("").await;
    for (path, media) in [
        ("/", "text/html"),
        ("/account.js", "text/javascript"),
        ("/account-mfa.js", "text/javascript"),
        ("/tessera.js", "text/javascript"),
        ("/account.css", "text/css"),
        ("/favicon.svg", "image/svg+xml"),
    ] {
        let res = srv.client.get(srv.url(path)).send().await.unwrap();
        assert_eq!(res.status(), 200, "{path}");
        let h = res.headers();
        assert!(
            h["content-type"].to_str().unwrap().starts_with(media),
            "{path}"
        );
        let csp = h["content-security-policy"].to_str().unwrap();
        for directive in [
            "default-src 'none'",
            "script-src 'self'",
            "style-src 'self'",
            "frame-ancestors 'none'",
            "object-src 'none'",
            "base-uri 'none'",
        ] {
            assert!(csp.contains(directive), "{path}: {directive} in {csp}");
        }
        assert!(!csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"));
        assert_eq!(h["referrer-policy"], "no-referrer");
        assert_eq!(h["x-content-type-options"], "nosniff");
        assert_eq!(h["x-frame-options"], "DENY");
    }
    let html = srv
        .client
        .get(srv.url("/"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        !html.contains("<script>") && !html.contains("style=") && !html.contains("<style"),
        "nothing inline"
    );
    // The client is the file in clients/js, importable from any origin (public code, no cookies).
    let client = srv.client.get(srv.url("/tessera.js")).send().await.unwrap();
    assert_eq!(client.headers()["access-control-allow-origin"], "*");
    assert_eq!(
        client.text().await.unwrap(),
        include_str!("../../../../clients/js/tessera.js")
    );
    assert!(html.contains("<label for=\"email\">") && html.contains("<label for=\"password\">"));
}
