//! Account recovery and email verification against a real SMTP server (API.md §7, issue 16).

use std::time::Duration;

use reqwest::{Response, StatusCode};
use serde_json::{Value, json};

use crate::common::*;
use crate::smtp::{Catcher, available, token_in};

const WAIT: Duration = Duration::from_secs(10);
const NEW_PASSWORD: &str = "a brand new correct horse battery";

async fn post(srv: &TestServer, path: &str, body: Value) -> Response {
    srv.post(path, body).await
}

async fn admin(srv: &TestServer, method: reqwest::Method, path: &str) -> Response {
    srv.client
        .request(method, srv.url(path))
        .header("x-api-key", ADMIN_KEY)
        .send()
        .await
        .unwrap()
}

async fn user(srv: &TestServer, id: &str) -> Value {
    admin(srv, reqwest::Method::GET, &format!("/admin/users/{id}"))
        .await
        .json()
        .await
        .unwrap()
}

async fn introspect_active(srv: &TestServer, token: &str) -> bool {
    let res = srv
        .client
        .post(srv.url("/auth/introspect"))
        .header("x-api-key", ADMIN_KEY)
        .json(&json!({"token": token}))
        .send()
        .await
        .unwrap();
    res.json::<Value>().await.unwrap()["active"]
        .as_bool()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reset_link_arrives_by_mail_works_once_and_ends_every_session() {
    if !available() {
        return;
    }
    let smtp = Catcher::start().await;
    let srv = start(&smtp.config()).await;
    let email = "reset@example.com";
    let a = srv.register(email).await;
    let b = srv.login(email).await;
    let uid = s(&a["user"], "id").to_owned();

    let res = post(&srv, "/auth/password/forgot", json!({"email": email})).await;
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    assert_eq!(
        res.json::<Value>().await.unwrap(),
        json!({"status": "accepted"})
    );
    let mails = smtp.wait_for(email, 2, WAIT).await; // the registration's verification, the reset
    let reset = mails
        .iter()
        .find(|m| m["text"].as_str().unwrap().contains("#reset_token="))
        .expect("a reset mail");
    let h = &reset["headers"];
    assert_eq!(h["Subject"], "Reset your Tessera password");
    assert_eq!(h["From"], "Tessera <no-reply@tessera.test>");
    assert_eq!(h["To"], email);
    assert!(
        h["Content-Type"]
            .as_str()
            .unwrap()
            .starts_with("multipart/alternative")
    );
    let token = token_in(reset, "reset_token");
    assert_eq!(token.len(), 43, "256 bits, base64url");
    let link = format!("https://app.test/account#reset_token={token}");
    assert!(reset["text"].as_str().unwrap().contains(&link));
    assert!(
        reset["html"]
            .as_str()
            .unwrap()
            .contains(&format!("href=\"{link}\""))
    );
    // The token is only ever in the fragment, and the database holds no copy of it.
    for part in ["text", "html"] {
        let body = reset[part].as_str().unwrap();
        let at: Vec<usize> = body.match_indices(&token).map(|(i, _)| i).collect();
        assert!(!at.is_empty(), "{part}");
        assert!(
            at.iter().all(|&i| body[..i].ends_with("#reset_token=")),
            "only in the fragment: {body}"
        );
    }
    let db = std::fs::read(srv.dir.as_ref().unwrap().path().join("tessera.db")).unwrap();
    assert!(!db.windows(token.len()).any(|w| w == token.as_bytes()));

    // A weak password is refused and does not use the token.
    let res = post(
        &srv,
        "/auth/password/reset",
        json!({"token": token, "new_password": "short"}),
    )
    .await;
    problem(res, 422, "weak_password").await;
    let res = post(
        &srv,
        "/auth/password/reset",
        json!({"token": token, "new_password": NEW_PASSWORD}),
    )
    .await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    // Every session ends at once (introspection reads no store, so the revocation was applied).
    for t in [&a, &b] {
        assert!(!introspect_active(&srv, s(t, "access_token")).await);
        problem(
            srv.refresh(s(t, "refresh_token")).await,
            401,
            "session_revoked",
        )
        .await;
    }
    let res = post(
        &srv,
        "/auth/password/reset",
        json!({"token": token, "new_password": NEW_PASSWORD}),
    )
    .await;
    problem(res, 400, "invalid_email_token").await;
    problem(
        post(
            &srv,
            "/auth/login",
            json!({"email": email, "password": PASSWORD}),
        )
        .await,
        401,
        "invalid_credentials",
    )
    .await;
    assert_eq!(
        post(
            &srv,
            "/auth/login",
            json!({"email": email, "password": NEW_PASSWORD})
        )
        .await
        .status(),
        200
    );
    assert_eq!(
        user(&srv, &uid).await["email_verified"],
        true,
        "a reset proves the mailbox"
    );

    let notice = smtp.wait_for(email, 3, WAIT).await;
    let changed = notice.last().unwrap();
    assert_eq!(
        changed["headers"]["Subject"],
        "Your Tessera password was changed"
    );
    assert!(!changed["text"].as_str().unwrap().contains("token"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forgot_answers_alike_for_unknown_banned_and_throttled_accounts() {
    if !available() {
        return;
    }
    let smtp = Catcher::start().await;
    let srv = start(&format!(
        "[rate_limit]\nlogin_per_ip_per_minute = 8\n{}",
        smtp.config()
    ))
    .await;
    srv.register("known@example.com").await;
    let banned = srv.register("banned@example.com").await;
    let ban = format!("/admin/users/{}/ban", s(&banned["user"], "id"));
    assert_eq!(admin(&srv, reqwest::Method::POST, &ban).await.status(), 200);
    smtp.wait_for("banned@example.com", 1, WAIT).await; // its verification mail

    let mut answers = vec![];
    for email in [
        "known@example.com",
        "nobody@example.com",
        "banned@example.com",
        "KNOWN@example.com ",
    ] {
        let res = post(&srv, "/auth/password/forgot", json!({"email": email})).await;
        answers.push((res.status(), res.text().await.unwrap()));
    }
    assert!(answers.iter().all(|a| *a == answers[0]), "{answers:?}");
    assert_eq!(answers[0].0, StatusCode::ACCEPTED);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let resets = |to: &str| {
        smtp.to(to)
            .into_iter()
            .filter(|m| m["text"].as_str().unwrap().contains("#reset_token="))
            .count()
    };
    assert_eq!(resets("known@example.com"), 1, "at most one a minute");
    assert_eq!(resets("banned@example.com"), 0);
    assert!(smtp.to("nobody@example.com").is_empty());
    // The per-IP limit (shared with login and register: 2 registrations and 4 requests so far).
    let mut statuses = vec![];
    for _ in 0..4 {
        statuses.push(
            post(
                &srv,
                "/auth/password/forgot",
                json!({"email": "x@example.com"}),
            )
            .await
            .status(),
        );
    }
    assert!(
        statuses.contains(&StatusCode::TOO_MANY_REQUESTS),
        "{statuses:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verification_links_verify_once_and_resending_is_limited() {
    if !available() {
        return;
    }
    let smtp = Catcher::start().await;
    let srv = start(&smtp.config()).await;
    let email = "verify@example.com";
    let t = srv.register(email).await;
    let uid = s(&t["user"], "id").to_owned();
    assert_eq!(user(&srv, &uid).await["email_verified"], false);
    let mail = smtp.wait_for(email, 1, WAIT).await;
    assert_eq!(
        mail[0]["headers"]["Subject"],
        "Confirm your email for Tessera"
    );
    let token = token_in(&mail[0], "verify_token");
    assert!(
        mail[0]["text"]
            .as_str()
            .unwrap()
            .contains("https://app.test/account#verify_token=")
    );

    // Resending is at most one a minute (the registration's counts).
    let send = |access: String| {
        let c = srv.client.clone();
        let url = srv.url("/auth/email/verify/send");
        async move { c.post(url).bearer_auth(access).send().await.unwrap() }
    };
    problem(
        send(s(&t, "access_token").to_owned()).await,
        429,
        "rate_limited",
    )
    .await;
    problem(
        post(&srv, "/auth/email/verify", json!({"token": "not-a-token"})).await,
        400,
        "invalid_email_token",
    )
    .await;
    problem(
        post(
            &srv,
            "/auth/password/reset",
            json!({"token": token, "new_password": NEW_PASSWORD}),
        )
        .await,
        400,
        "invalid_email_token",
    )
    .await;
    assert_eq!(
        post(&srv, "/auth/email/verify", json!({"token": token}))
            .await
            .status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(user(&srv, &uid).await["email_verified"], true);
    problem(
        post(&srv, "/auth/email/verify", json!({"token": token})).await,
        400,
        "invalid_email_token",
    )
    .await;
    // Verified: asking again sends nothing.
    assert_eq!(
        send(s(&t, "access_token").to_owned()).await.status(),
        StatusCode::ACCEPTED
    );
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(smtp.to(email).len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn require_verified_email_refuses_login_only_after_the_right_password() {
    let srv = start("[email]\nrequire_verified_email = true\n").await;
    let email = "unverified@example.com";
    let t = srv.register(email).await;
    let uid = s(&t["user"], "id").to_owned();
    problem(
        post(
            &srv,
            "/auth/login",
            json!({"email": email, "password": "wrong password here!"}),
        )
        .await,
        401,
        "invalid_credentials",
    )
    .await;
    problem(
        post(
            &srv,
            "/auth/login",
            json!({"email": email, "password": PASSWORD}),
        )
        .await,
        403,
        "email_not_verified",
    )
    .await;
    // An app that sends its own mail: the admin token, the same consuming route.
    let res = admin(
        &srv,
        reqwest::Method::POST,
        &format!("/admin/users/{uid}/verify-token"),
    )
    .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let body: Value = res.json().await.unwrap();
    assert!(body["expires_at"].is_string());
    assert_eq!(
        post(&srv, "/auth/email/verify", json!({"token": body["token"]}))
            .await
            .status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        post(
            &srv,
            "/auth/login",
            json!({"email": email, "password": PASSWORD})
        )
        .await
        .status(),
        200
    );
}

#[tokio::test]
async fn without_smtp_the_mail_routes_are_501_and_admin_tokens_still_reset() {
    let srv = start("[email]\nreset_ttl = \"1s\"\n").await;
    let t = srv.register("nosmtp@example.com").await;
    let uid = s(&t["user"], "id").to_owned();
    problem(
        post(
            &srv,
            "/auth/password/forgot",
            json!({"email": "nosmtp@example.com"}),
        )
        .await,
        501,
        "email_not_configured",
    )
    .await;
    let res = srv
        .client
        .post(srv.url("/auth/email/verify/send"))
        .bearer_auth(s(&t, "access_token"))
        .send()
        .await
        .unwrap();
    problem(res, 501, "email_not_configured").await;
    problem(
        admin(
            &srv,
            reqwest::Method::POST,
            "/admin/users/00000000-0000-7000-8000-000000000000/reset-token",
        )
        .await,
        404,
        "not_found",
    )
    .await;
    let res = srv
        .client
        .post(srv.url(&format!("/admin/users/{uid}/reset-token")))
        .header("x-api-key", RESOURCE_KEY)
        .send()
        .await
        .unwrap();
    problem(res, 401, "unauthorized").await;

    // Two tokens: one use kills both. A third, left alone, expires (reset_ttl 1 s).
    let mut tokens = vec![];
    for _ in 0..3 {
        let res = admin(
            &srv,
            reqwest::Method::POST,
            &format!("/admin/users/{uid}/reset-token"),
        )
        .await;
        assert_eq!(res.status(), StatusCode::CREATED);
        tokens.push(
            res.json::<Value>().await.unwrap()["token"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    let reset = |token: &str| {
        post(
            &srv,
            "/auth/password/reset",
            json!({"token": token, "new_password": NEW_PASSWORD}),
        )
    };
    assert_eq!(reset(&tokens[0]).await.status(), StatusCode::NO_CONTENT);
    problem(reset(&tokens[1]).await, 400, "invalid_email_token").await;
    let more = admin(
        &srv,
        reqwest::Method::POST,
        &format!("/admin/users/{uid}/reset-token"),
    )
    .await;
    let late = more.json::<Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    tokio::time::sleep(Duration::from_millis(1200)).await;
    problem(reset(&late).await, 400, "invalid_email_token").await;
}

/// A reset link mailed before a password change, or before a ban, must not undo it (issue 27).
#[tokio::test]
async fn a_password_change_or_a_ban_ends_the_outstanding_reset_links() {
    let srv = start("").await;
    let reset_token = |uid: String| {
        let srv = &srv;
        async move {
            let res = admin(
                srv,
                reqwest::Method::POST,
                &format!("/admin/users/{uid}/reset-token"),
            )
            .await;
            assert_eq!(res.status(), StatusCode::CREATED);
            res.json::<Value>().await.unwrap()["token"]
                .as_str()
                .unwrap()
                .to_owned()
        }
    };
    let reset = |token: String| {
        post(
            &srv,
            "/auth/password/reset",
            json!({"token": token, "new_password": NEW_PASSWORD}),
        )
    };

    let t = srv.register("changed-since@example.com").await;
    let token = reset_token(s(&t["user"], "id").to_owned()).await;
    let res = srv
        .client
        .post(srv.url("/auth/password"))
        .bearer_auth(s(&t, "access_token"))
        .json(&json!({"current_password": PASSWORD, "new_password": "another long enough passphrase"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    problem(reset(token).await, 400, "invalid_email_token").await;

    let b = srv.register("banned-since@example.com").await;
    let uid = s(&b["user"], "id").to_owned();
    let token = reset_token(uid.clone()).await;
    for action in ["ban", "unban"] {
        let res = srv
            .client
            .post(srv.url(&format!("/admin/users/{uid}/{action}")))
            .header("x-api-key", ADMIN_KEY)
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK, "{action}");
    }
    problem(reset(token).await, 400, "invalid_email_token").await;
    // A link issued after the unban works as before.
    let token = reset_token(uid).await;
    assert_eq!(reset(token).await.status(), StatusCode::NO_CONTENT);
}

/// SMTP down when the mail is queued, and the node killed before it could send: the mail waits
/// in the outbox and goes out once both are back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_smtp_outage_and_a_crash_lose_no_mail() {
    if !available() {
        return;
    }
    let mut smtp = Catcher::stopped();
    let mut t = crate::tessera_process::TesseraProcess::start("", &smtp.config()).await;
    let email = "outage@example.com";
    t.register(email).await; // a verification mail
    let res = t
        .post("/auth/password/forgot", json!({"email": email}))
        .await;
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    let (client, url) = (t.client.clone(), t.url("/metrics"));
    let metrics = || {
        let (client, url) = (client.clone(), url.clone());
        async move {
            client
                .get(url)
                .header("x-api-key", ADMIN_KEY)
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap()
        }
    };
    let started = std::time::Instant::now();
    while !metrics().await.contains("tessera_mail_queued 2") {
        assert!(started.elapsed() < WAIT, "{}", metrics().await);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await; // a failed attempt or two
    assert!(metrics().await.contains("tessera_mail_sent_total 0"));
    t.kill();
    smtp.run().await;
    t.run().await;
    let mails = smtp.wait_for(email, 2, Duration::from_secs(30)).await;
    assert_eq!(mails.len(), 2);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(smtp.to(email).len(), 2, "each mail once");
    let m = metrics().await;
    assert!(
        m.contains("tessera_mail_queued 0") && m.contains("tessera_mail_sent_total 2"),
        "{m}"
    );
}

/// Two nodes on one PostgreSQL database, both sending: every mail goes out exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_nodes_on_postgres_send_each_mail_once() {
    if !available() {
        return;
    }
    let Some(admin_url) = crate::support::required_env("TESSERA_TEST_DATABASE_URL") else {
        return;
    };
    let db = crate::support::TestDb::create(&admin_url);
    let smtp = Catcher::start().await;
    let config = format!(
        "secret_key = \"{}\"\n[rate_limit]\nlogin_per_ip_per_minute = 0\n{}",
        crate::support::SECRET,
        smtp.config()
    );
    let mut nodes = vec![];
    for _ in 0..2 {
        let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
        let url = db.url.clone();
        nodes.push(
            start_tuned(dir, &config, move |s| {
                s.database = tessera_store::DatabaseUrl::parse(&url).unwrap();
            })
            .await,
        );
    }
    let n = 16;
    for i in 0..n {
        let res = nodes[0]
            .client
            .post(nodes[0].url("/admin/users"))
            .header("x-api-key", ADMIN_KEY)
            .json(&json!({"email": format!("pg{i}@example.com"), "password": PASSWORD}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::CREATED);
    }
    for i in 0..n {
        let node = &nodes[i % 2];
        let res = node
            .post(
                "/auth/password/forgot",
                json!({"email": format!("pg{i}@example.com")}),
            )
            .await;
        assert_eq!(res.status(), StatusCode::ACCEPTED);
    }
    let started = std::time::Instant::now();
    while smtp.messages().len() < n && started.elapsed() < Duration::from_secs(20) {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let mails = smtp.messages();
    let to: std::collections::HashSet<String> = mails
        .iter()
        .map(|m| m["rcpt_tos"][0].as_str().unwrap().to_owned())
        .collect();
    assert_eq!((mails.len(), to.len()), (n, n), "each mail exactly once");
    drop(nodes);
    drop(db);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_login_from_a_new_device_is_mailed_about_once() {
    if !available() {
        return;
    }
    let smtp = Catcher::start().await;
    let srv = start(&format!("{}notify_new_device = true\n", smtp.config())).await;
    let email = "device@example.com";
    srv.register(email).await; // the registration's device (and its verification mail)
    let login = |ua: &'static str| {
        let c = srv.client.clone();
        let url = srv.url("/auth/login");
        async move {
            c.post(url)
                .header("user-agent", ua)
                .json(&json!({"email": email, "password": PASSWORD}))
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    assert_eq!(login("tessera-tests/1.0").await, 200); // the same device as the registration
    assert_eq!(login("NewPhone/1.0 <b>").await, 200);
    let mails = smtp.wait_for(email, 2, WAIT).await;
    let notice = mails.last().unwrap();
    assert_eq!(notice["headers"]["Subject"], "New sign-in to Tessera");
    let text = notice["text"].as_str().unwrap();
    assert!(
        text.contains("NewPhone/1.0 <b>") && text.contains("127.0.0.1"),
        "{text}"
    );
    assert!(
        notice["html"]
            .as_str()
            .unwrap()
            .contains("NewPhone/1.0 &lt;b&gt;")
    );
    assert!(!text.contains("token"));
    assert_eq!(login("NewPhone/1.0 <b>").await, 200);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(smtp.to(email).len(), 2, "a device is new once");
}
