//! Register, login, refresh and logout over HTTP (API.md §4, §5).

use crate::common::*;
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test]
async fn register_returns_the_token_response_and_no_store() {
    let srv = start("").await;
    let res = srv
        .post(
            "/auth/register",
            json!({"email": "  Ada@Example.COM ", "password": PASSWORD}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    assert_eq!(res.headers()["cache-control"], "no-store");
    assert_eq!(res.headers()["x-content-type-options"], "nosniff");
    assert!(
        res.headers().get("set-cookie").is_none(),
        "body transport sets no cookies"
    );
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 900);
    assert!(s(&body, "access_token").starts_with("eyJ"));
    assert!(s(&body, "refresh_token").starts_with("rt_"));
    assert!(
        s(&body, "refresh_token").len() >= 3 + 43,
        "at least 256 bits"
    );
    assert!(s(&body, "access_expires_at").ends_with('Z'));
    assert!(s(&body, "refresh_expires_at").ends_with('Z'));
    assert!(!s(&body, "csrf_token").is_empty());
    uuid::Uuid::parse_str(s(&body, "session_id")).unwrap();
    assert_eq!(
        body["user"]["email"], "ada@example.com",
        "trimmed and lower-cased"
    );
    assert_eq!(body["user"]["roles"], json!([]));
}

#[tokio::test]
async fn registration_errors() {
    let srv = start("").await;
    srv.register("taken@example.com").await;
    let dup = srv
        .post(
            "/auth/register",
            json!({"email": "TAKEN@example.com", "password": PASSWORD}),
        )
        .await;
    problem(dup, 409, "email_taken").await;
    // The last five are addresses no mail can reach as one mailbox (issue 27): a mailer reads
    // them as a list, a display name, a comment, a quoted string or a header.
    for email in [
        "nope",
        "a@b",
        "@example.com",
        "a b@example.com",
        "a,b@example.com",
        "a<b@example.com",
        "a(b)@example.com",
        "\"q\"@example.com",
        "Bcc:x@example.com",
    ] {
        let res = srv
            .post(
                "/auth/register",
                json!({"email": email, "password": PASSWORD}),
            )
            .await;
        problem(res, 422, "invalid_email").await;
    }
    for pw in [
        "short",
        "passwordpassword",
        "123456789012345",
        "qwertyuiopasdfgh",
        &"a".repeat(257),
    ] {
        let res = srv
            .post(
                "/auth/register",
                json!({"email": "w@example.com", "password": pw}),
            )
            .await;
        let body = problem(res, 422, "weak_password").await;
        assert!(
            !body.to_string().contains(pw),
            "the password is never echoed"
        );
    }
    for ns in ["", "has space", &"x".repeat(65), "semi;colon"] {
        let res = srv
            .post(
                "/auth/register",
                json!({"email": "n@example.com", "password": PASSWORD, "namespace": ns}),
            )
            .await;
        problem(res, 422, "invalid_namespace").await;
    }
}

/// API.md §1: `[sessions] namespaces` is the list of namespaces a client may choose.
#[tokio::test]
async fn configured_namespaces_are_the_only_ones_a_client_may_choose() {
    let srv = start("[sessions]\nnamespaces = [\"default\", \"web\"]").await;
    let res = srv
        .post(
            "/auth/register",
            json!({"email": "ns@example.com", "password": PASSWORD, "namespace": "admin-console"}),
        )
        .await;
    problem(res, 422, "invalid_namespace").await;
    srv.register("ns@example.com").await;
    for (ns, status) in [("web", 200), ("default", 200), ("mobile", 422)] {
        let res = srv
            .post(
                "/auth/login",
                json!({"email": "ns@example.com", "password": PASSWORD, "namespace": ns}),
            )
            .await;
        assert_eq!(res.status(), status, "{ns}");
    }
}

#[tokio::test]
async fn closed_registration_is_refused() {
    let srv = start("public_registration = false").await;
    let res = srv
        .post(
            "/auth/register",
            json!({"email": "x@example.com", "password": PASSWORD}),
        )
        .await;
    problem(res, 403, "registration_closed").await;
}

#[tokio::test]
async fn login_checks_the_password_exactly_and_opens_new_sessions() {
    let srv = start("").await;
    let reg = srv.register("bob@example.com").await;
    let a = srv.login("BOB@example.com ").await;
    let b = srv.login("bob@example.com").await;
    assert_ne!(a["session_id"], b["session_id"]);
    assert_ne!(
        a["session_id"], reg["session_id"],
        "a login never reuses a session id"
    );
    for (email, pw) in [
        ("bob@example.com", "correct horse battery stapl"),
        ("bob@example.com", "correct horse battery staple "),
        ("bob@example.com", "Correct horse battery staple"),
        ("bob@example.com", "correct horse battery staple\u{0}"),
        ("nobody@example.com", PASSWORD),
        ("not-an-email", PASSWORD),
    ] {
        let res = srv
            .post("/auth/login", json!({"email": email, "password": pw}))
            .await;
        let body = problem(res, 401, "invalid_credentials").await;
        assert_eq!(
            body["title"], "Invalid email or password",
            "same answer for both"
        );
    }
    let long = "x".repeat(300);
    let res = srv
        .post(
            "/auth/login",
            json!({"email": "bob@example.com", "password": long}),
        )
        .await;
    problem(res, 401, "invalid_credentials").await;
    let events = srv
        .state
        .engine
        .store()
        .events(None, Some("login.failed"), 100)
        .await
        .unwrap();
    assert!(events.len() >= 6, "failed logins are recorded");
}

#[tokio::test]
async fn login_into_a_namespace_puts_it_in_the_token() {
    let srv = start("").await;
    srv.register("ns@example.com").await;
    let res = srv
        .post(
            "/auth/login",
            json!({"email": "ns@example.com", "password": PASSWORD, "namespace": "tenant-1"}),
        )
        .await;
    let body: serde_json::Value = res.json().await.unwrap();
    let intro = srv
        .client
        .post(srv.url("/auth/introspect"))
        .header("x-api-key", ADMIN_KEY)
        .json(&json!({"token": body["access_token"]}))
        .send()
        .await
        .unwrap();
    let intro: serde_json::Value = intro.json().await.unwrap();
    assert_eq!(intro["ns"], "tenant-1");
    let me: serde_json::Value = srv.me(s(&body, "access_token")).await.json().await.unwrap();
    assert_eq!(me["session"]["namespace"], "tenant-1");
}

#[tokio::test]
async fn refresh_by_body_and_header_rotates_and_grace_replays_match() {
    let srv = start("").await;
    let reg = srv.register("r@example.com").await;
    let old = s(&reg, "refresh_token");
    let res = srv.refresh(old).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["cache-control"], "no-store");
    let next: serde_json::Value = res.json().await.unwrap();
    assert_ne!(next["refresh_token"], reg["refresh_token"]);
    assert_eq!(next["session_id"], reg["session_id"]);
    // The same old token again, now by header, within the grace: the same successor.
    let res = srv
        .client
        .post(srv.url("/auth/refresh"))
        .header("x-refresh-token", old)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let replay: serde_json::Value = res.json().await.unwrap();
    assert_eq!(replay["refresh_token"], next["refresh_token"]);
    let me: serde_json::Value = srv.me(s(&next, "access_token")).await.json().await.unwrap();
    assert_eq!(me["session"]["refresh_count"], 1);
}

#[tokio::test]
async fn reuse_after_the_grace_revokes_the_session() {
    let srv = start("[tokens]\nreuse_grace = \"0\"").await;
    let reg = srv.register("reuse@example.com").await;
    let next: serde_json::Value = srv
        .refresh(s(&reg, "refresh_token"))
        .await
        .json()
        .await
        .unwrap();
    problem(
        srv.refresh(s(&reg, "refresh_token")).await,
        401,
        "refresh_token_reused",
    )
    .await;
    problem(
        srv.refresh(s(&next, "refresh_token")).await,
        401,
        "session_revoked",
    )
    .await;
    problem(
        srv.me(s(&next, "access_token")).await,
        401,
        "session_revoked",
    )
    .await;
    problem(
        srv.me(s(&reg, "access_token")).await,
        401,
        "session_revoked",
    )
    .await;
}

#[tokio::test]
async fn forged_refresh_tokens_are_invalid_and_revoke_nothing() {
    let srv = start("").await;
    let reg = srv.register("f@example.com").await;
    let real = s(&reg, "refresh_token");
    let mut altered = real.to_owned().into_bytes();
    altered[30] = if altered[30] == b'A' { b'B' } else { b'A' };
    let altered = String::from_utf8(altered).unwrap();
    let made_up = format!("rt_{}", "A".repeat(real.len() - 3));
    for bad in [
        altered.as_str(),
        made_up.as_str(),
        "rt_",
        "garbage",
        s(&reg, "access_token"),
    ] {
        let body = problem(srv.refresh(bad).await, 401, "invalid_refresh_token").await;
        assert!(!body.to_string().contains(bad), "the token is never echoed");
    }
    let res = srv.post("/auth/refresh", json!({})).await;
    problem(res, 401, "invalid_refresh_token").await;
    // Nothing was revoked: the real token still works.
    assert_eq!(srv.refresh(real).await.status(), 200);
}

#[tokio::test]
async fn tokens_are_not_interchangeable() {
    let srv = start("").await;
    let reg = srv.register("x@example.com").await;
    problem(srv.me(s(&reg, "refresh_token")).await, 401, "invalid_token").await;
    problem(
        srv.refresh(s(&reg, "access_token")).await,
        401,
        "invalid_refresh_token",
    )
    .await;
    problem(srv.me(s(&reg, "csrf_token")).await, 401, "invalid_token").await;
}

#[tokio::test]
async fn logout_with_access_or_refresh_token_is_idempotent() {
    let srv = start("").await;
    let a = srv.register("lo@example.com").await;
    let res = srv
        .client
        .post(srv.url("/auth/logout"))
        .bearer_auth(s(&a, "access_token"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    problem(srv.me(s(&a, "access_token")).await, 401, "session_revoked").await;
    problem(
        srv.refresh(s(&a, "refresh_token")).await,
        401,
        "session_revoked",
    )
    .await;
    let again = srv
        .client
        .post(srv.url("/auth/logout"))
        .bearer_auth(s(&a, "access_token"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        again.status(),
        204,
        "logout of an ended session is still 204"
    );
    // With the refresh token instead.
    let b = srv.login("lo@example.com").await;
    let res = srv
        .post("/auth/logout", json!({"refresh_token": b["refresh_token"]}))
        .await;
    assert_eq!(res.status(), 204);
    problem(srv.me(s(&b, "access_token")).await, 401, "session_revoked").await;
    // Nothing at all, or garbage.
    let res = srv
        .client
        .post(srv.url("/auth/logout"))
        .send()
        .await
        .unwrap();
    problem(res, 401, "missing_token").await;
    let res = srv
        .client
        .post(srv.url("/auth/logout"))
        .bearer_auth("garbage")
        .send()
        .await
        .unwrap();
    problem(res, 401, "invalid_token").await;
}

#[tokio::test]
async fn logout_works_with_an_expired_but_genuine_access_token() {
    let srv = start("[tokens]\naccess_ttl = \"1s\"").await;
    let a = srv.register("exp@example.com").await;
    tokio::time::sleep(std::time::Duration::from_millis(7_100)).await; // past exp + 5 s leeway
    problem(srv.me(s(&a, "access_token")).await, 401, "token_expired").await;
    let res = srv
        .client
        .post(srv.url("/auth/logout"))
        .bearer_auth(s(&a, "access_token"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    problem(
        srv.refresh(s(&a, "refresh_token")).await,
        401,
        "session_revoked",
    )
    .await;
}

#[tokio::test]
async fn idle_timeout_ends_the_session() {
    let srv = start("[tokens]\nrefresh_ttl = \"2s\"").await;
    let a = srv.register("idle@example.com").await;
    assert!(
        s(&a, "access_expires_at") <= s(&a, "refresh_expires_at"),
        "access never outlives the session"
    );
    tokio::time::sleep(std::time::Duration::from_millis(2_200)).await;
    problem(
        srv.refresh(s(&a, "refresh_token")).await,
        401,
        "session_expired",
    )
    .await;
}

#[tokio::test]
async fn parallel_refreshes_share_one_successor() {
    let srv = start("").await;
    let a = srv.register("par@example.com").await;
    let token = s(&a, "refresh_token").to_owned();
    let results = futures_util::future::join_all((0..12).map(|_| srv.refresh(&token))).await;
    let mut successors = Vec::new();
    for res in results {
        assert_eq!(res.status(), 200);
        let body: serde_json::Value = res.json().await.unwrap();
        successors.push(body["refresh_token"].as_str().unwrap().to_owned());
    }
    successors.dedup();
    assert_eq!(successors.len(), 1, "one successor for all");
    let next = srv
        .refresh(&successors[0])
        .await
        .json::<serde_json::Value>()
        .await
        .unwrap();
    let me: serde_json::Value = srv.me(s(&next, "access_token")).await.json().await.unwrap();
    assert_eq!(
        me["session"]["refresh_count"], 2,
        "the parallel burst counted once"
    );
}
