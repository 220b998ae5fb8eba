//! Second factors over HTTP (API.md §9.1, §9.2): TOTP enrolment, the two-step login, one-time
//! codes, step-up answers with their RFC 9470 challenge, and acr/amr in what Tessera answers.
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use reqwest::{Method, Response};
use serde_json::{Value, json};
use tessera_core::totp::{STEP_SECS, TotpSecret};

use crate::common::*;
use crate::support::{Node, SLOW_POLL, TestDb, refused_within_a_second, required_env};

/// The code of the current step, plus `ahead` steps.
fn code(secret: &TotpSecret, ahead: i64) -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    secret.code_at_step(now / STEP_SECS + ahead)
}

async fn call(
    srv: &impl TesseraHttp,
    method: Method,
    path: &str,
    access: &str,
    body: Value,
) -> Response {
    srv.http()
        .request(method, srv.url(path))
        .bearer_auth(access)
        .json(&body)
        .send()
        .await
        .unwrap()
}

/// Registers and enrols a TOTP factor: (token response, factor id, secret, recovery codes).
async fn enrolled(srv: &impl TesseraHttp, email: &str) -> (Value, String, TotpSecret, Vec<String>) {
    let t = srv.register(email).await;
    let (id, secret, codes) = enrol(srv, s(&t, "access_token")).await;
    (t, id, secret, codes)
}

/// Enrols and confirms a TOTP factor in the session of `access`: (factor id, secret, recovery
/// codes).
async fn enrol(srv: &impl TesseraHttp, access: &str) -> (String, TotpSecret, Vec<String>) {
    let access = access.to_owned();
    let res = call(
        srv,
        Method::POST,
        "/auth/mfa/totp",
        &access,
        json!({"name": "phone"}),
    )
    .await;
    assert_eq!(res.status(), 201);
    let e: Value = res.json().await.unwrap();
    assert_eq!(e["factor"]["type"], "totp");
    assert_eq!(e["factor"]["confirmed"], false);
    assert!(s(&e, "otpauth_url").starts_with("otpauth://totp/"));
    // The QR code is of this factor's URL (the same rendering of it), and a document on its own.
    let qr = qrcode::QrCode::with_error_correction_level(s(&e, "otpauth_url"), qrcode::EcLevel::M)
        .unwrap();
    let svg = qr
        .render::<qrcode::render::svg::Color>()
        .min_dimensions(200, 200)
        .build();
    assert_eq!(s(&e, "qr_svg"), svg);
    assert!(svg.starts_with("<?xml") && svg.contains("<svg") && !svg.contains("<script"));
    let secret = TotpSecret::from_base32(s(&e, "secret")).unwrap();
    let id = s(&e["factor"], "id").to_owned();
    let path = format!("/auth/mfa/totp/{id}/confirm");
    let wrong = call(srv, Method::POST, &path, &access, json!({"code": "000000"})).await;
    problem(wrong, 401, "invalid_mfa_code").await;
    let res = call(
        srv,
        Method::POST,
        &path,
        &access,
        json!({"code": code(&secret, 0)}),
    )
    .await;
    assert_eq!(res.status(), 200);
    let c: Value = res.json().await.unwrap();
    assert_eq!(c["factor"]["confirmed"], true);
    let codes: Vec<String> = c["recovery_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(codes.len(), 10);
    (id, secret, codes)
}

async fn introspect(srv: &impl TesseraHttp, token: &str) -> Value {
    let res = srv
        .http()
        .post(srv.url("/auth/introspect"))
        .header("x-api-key", ADMIN_KEY)
        .json(&json!({"token": token}))
        .send()
        .await
        .unwrap();
    res.json().await.unwrap()
}

#[tokio::test]
async fn a_login_with_a_factor_takes_two_steps_and_tokens_say_aal2() {
    let srv = start("").await;
    let before = srv.register("two-step@example.com").await;
    let plain = introspect(&srv, s(&before, "access_token")).await;
    assert_eq!(
        (&plain["acr"], &plain["amr"]),
        (&json!("aal1"), &json!(["pwd"]))
    );
    let (_, factor, secret, codes) = enrolled(&srv, "mfa-http@example.com").await;

    let res = srv.try_login("mfa-http@example.com").await;
    assert!(res.headers().get("set-cookie").is_none(), "no session yet");
    let body = problem(res, 401, "mfa_required").await;
    let mfa_token = s(&body, "mfa_token").to_owned();
    assert_eq!(
        body["factors"],
        json!([{"id": factor, "type": "totp", "name": "phone"}])
    );

    // The confirming code's step is spent: the next step's code (accepted one ahead) logs in.
    let verify = |token: &str, code: String| {
        srv.post(
            "/auth/mfa/verify",
            json!({"mfa_token": token, "code": code}),
        )
    };
    // One string throughout: recomputed after a step boundary it would be another step's.
    let next = code(&secret, 1);
    let res = verify(&mfa_token, next.clone()).await;
    assert_eq!(res.status(), 200);
    let t: Value = res.json().await.unwrap();
    let i = introspect(&srv, s(&t, "access_token")).await;
    assert_eq!(i["acr"], "aal2");
    assert_eq!(i["amr"], json!(["pwd", "otp", "mfa"]));
    let me: Value = srv.me(s(&t, "access_token")).await.json().await.unwrap();
    assert_eq!(me["session"]["acr"], "aal2");
    assert_eq!(me["user"]["mfa"], json!(["totp"]), "User.mfa");

    // Spent token, reused code.
    problem(
        verify(&mfa_token, next.clone()).await,
        401,
        "invalid_mfa_token",
    )
    .await;
    let again = problem(
        srv.try_login("mfa-http@example.com").await,
        401,
        "mfa_required",
    )
    .await;
    let second = s(&again, "mfa_token").to_owned();
    problem(verify(&second, next.clone()).await, 401, "invalid_mfa_code").await;
    // A recovery code, once.
    assert_eq!(verify(&second, codes[0].clone()).await.status(), 200);
    // Malformed input is a 400, never a 500.
    let bad = srv
        .post("/auth/mfa/verify", json!({"mfa_token": 5, "code": "1"}))
        .await;
    problem(bad, 400, "invalid_request").await;
    let unknown = srv
        .post(
            "/auth/mfa/verify",
            json!({"mfa_token": "mfa_x", "code": "1", "factor_id": "no"}),
        )
        .await;
    problem(unknown, 401, "invalid_mfa_code").await;
}

#[tokio::test]
async fn the_first_factor_ends_password_only_sessions_and_changes_need_recent_aal2() {
    let srv = start("[mfa]\nenroll_window = \"1s\"").await;
    let other = srv.register("steps@example.com").await;
    let t = srv.login("steps@example.com").await;
    let access = s(&t, "access_token").to_owned();
    let res = call(&srv, Method::POST, "/auth/mfa/totp", &access, json!({})).await;
    let e: Value = res.json().await.unwrap();
    let secret = TotpSecret::from_base32(s(&e, "secret")).unwrap();
    let id = s(&e["factor"], "id").to_owned();
    let listed: Value = call(&srv, Method::GET, "/auth/mfa/factors", &access, json!({}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(listed["factors"][0]["confirmed"], false, "pending");
    let path = format!("/auth/mfa/totp/{id}/confirm");
    let res = call(
        &srv,
        Method::POST,
        &path,
        &access,
        json!({"code": code(&secret, 0)}),
    )
    .await;
    assert_eq!(res.status(), 200);
    // The password-only session ended; this one goes on.
    problem(
        srv.me(s(&other, "access_token")).await,
        401,
        "session_revoked",
    )
    .await;
    // One second later (the enroll window), a change needs step-up, said in the challenge.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let path = format!("/auth/mfa/factors/{id}");
    let res = call(&srv, Method::DELETE, &path, &access, json!({})).await;
    let challenge = res.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        challenge.contains("error=\"insufficient_user_authentication\"")
            && challenge.contains("max_age=1"),
        "{challenge}"
    );
    problem(res, 401, "insufficient_user_authentication").await;
    let res = call(
        &srv,
        Method::POST,
        "/auth/mfa/recovery-codes",
        &access,
        json!({}),
    )
    .await;
    problem(res, 401, "insufficient_user_authentication").await;
    // Unknown and malformed factor ids are 404s.
    let res = call(
        &srv,
        Method::POST,
        "/auth/mfa/totp/nope/confirm",
        &access,
        json!({"code": "1"}),
    )
    .await;
    problem(res, 404, "not_found").await;
}

#[tokio::test]
async fn an_admin_resets_the_factors_of_a_user_who_lost_the_device() {
    let srv = start("").await;
    let (t, _, _, codes) = enrolled(&srv, "lost@example.com").await;
    let uid = s(&t["user"], "id").to_owned();
    let reset = |key: &'static str, path: String| {
        srv.client
            .delete(srv.url(&path))
            .header("x-api-key", key)
            .send()
    };
    let path = format!("/admin/users/{uid}/mfa");
    problem(
        reset(RESOURCE_KEY, path.clone()).await.unwrap(),
        401,
        "unauthorized",
    )
    .await;
    let zero = "/admin/users/00000000-0000-7000-8000-000000000000/mfa".to_string();
    problem(reset(ADMIN_KEY, zero).await.unwrap(), 404, "not_found").await;
    let admin_view: Value = srv
        .client
        .get(srv.url(&format!("/admin/users/{uid}")))
        .header("x-api-key", ADMIN_KEY)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(admin_view["mfa"], json!(["totp"]));
    let res = reset(ADMIN_KEY, path).await.unwrap();
    assert_eq!(res.status(), 200);
    let after: Value = res.json().await.unwrap();
    assert_eq!(after["mfa"], json!([]));
    // Every session ended; the password alone logs in again; the old recovery codes are gone.
    problem(srv.me(s(&t, "access_token")).await, 401, "session_revoked").await;
    let again = srv.login("lost@example.com").await;
    let i = introspect(&srv, s(&again, "access_token")).await;
    assert_eq!(i["acr"], "aal1");
    let listed: Value = call(
        &srv,
        Method::GET,
        "/auth/mfa/factors",
        s(&again, "access_token"),
        json!({}),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(listed["factors"], json!([]));
    assert_eq!(codes.len(), 10);
    let events: Value = srv
        .client
        .get(srv.url(&format!("/admin/events?user_id={uid}&type=mfa.reset")))
        .header("x-api-key", ADMIN_KEY)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        events["events"].as_array().map(Vec::len),
        Some(1),
        "{events}"
    );
}

#[tokio::test]
async fn the_example_resource_server_requires_aal2_on_mfa() {
    use crate::example;
    use crate::resource_server::Api;
    let srv = start(&format!("resource_server_keys = [\"{RESOURCE_KEY}\"]")).await;
    let t = example::tessera(
        &srv.base,
        RESOURCE_KEY,
        Some("http://tessera.test".into()),
        vec![],
        Duration::from_secs(60),
        "http://127.0.0.1",
    )
    .unwrap();
    let api = Api::start(t).await;
    api.ready().await;
    let plain = srv.register("aal1@example.com").await;
    let res = api.get("/mfa", Some(s(&plain, "access_token"))).await;
    let challenge = res.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        challenge.contains("insufficient_user_authentication")
            && challenge.contains("acr_values=\"aal2\""),
        "{challenge}"
    );
    crate::resource_server::refused(res, 401, "insufficient_user_authentication").await;
    assert_eq!(api.hello(s(&plain, "access_token")).await.status(), 200);

    let (_, _, secret, _) = enrolled(&srv, "aal2@example.com").await;
    let first = problem(srv.try_login("aal2@example.com").await, 401, "mfa_required").await;
    let res = srv
        .post(
            "/auth/mfa/verify",
            json!({"mfa_token": s(&first, "mfa_token"), "code": code(&secret, 1)}),
        )
        .await;
    let t: Value = res.json().await.unwrap();
    assert_eq!(
        api.get("/mfa", Some(s(&t, "access_token"))).await.status(),
        200
    );
}

#[tokio::test]
async fn an_app_session_says_how_the_app_authenticated_the_user() {
    let srv = start("").await;
    let u = srv.register("app-amr@example.com").await;
    let uid = s(&u["user"], "id").to_owned();
    let open = |body: Value| {
        srv.client
            .post(srv.url("/admin/sessions"))
            .header("x-api-key", ADMIN_KEY)
            .json(&body)
            .send()
    };
    let none: Value = open(json!({"user_id": uid}))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let i = introspect(&srv, s(&none, "access_token")).await;
    assert_eq!((&i["acr"], &i["amr"]), (&json!("aal1"), &json!([])));
    let two: Value = open(json!({"user_id": uid, "amr": ["pwd", "otp", "mfa"]}))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let i = introspect(&srv, s(&two, "access_token")).await;
    assert_eq!(i["acr"], "aal2");
    let passkey: Value = open(json!({"user_id": uid, "amr": ["hwk", "user"]}))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        introspect(&srv, s(&passkey, "access_token")).await["acr"],
        "aal2"
    );
    for bad in [json!(["magic"]), json!(["pwd", "pwd"]), json!("pwd")] {
        let res = open(json!({"user_id": uid, "amr": bad})).await.unwrap();
        problem(res, 400, "invalid_request").await;
    }
}

/// The rules that need a shared store, over HTTP on two nodes sharing PostgreSQL: the first
/// factor ends a password-only session the other node holds (seen there within a second, with
/// the fallback poll slowed to a minute); a time step spent on one node is refused on the other;
/// refresh keeps aal2; five wrong codes end the token; wrong codes lock the account on both
/// (the lock is shared through Redis).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_postgres_two_nodes_share_every_second_factor_rule() {
    let (Some(admin_url), Some(redis)) = (
        required_env("TESSERA_TEST_DATABASE_URL"),
        required_env("TESSERA_TEST_REDIS_URL"),
    ) else {
        return;
    };
    let db = TestDb::create(&admin_url);
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let env = [
        ("TESSERA_DATABASE_URL", db.url.as_str()),
        ("TESSERA_REDIS_URL", redis.as_str()),
        ("TESSERA_RATE_LIMIT__FAILED_LOGINS_PER_ACCOUNT", "8"),
        SLOW_POLL,
    ];
    let (a, b) = (
        Node::spawn(dir.path(), "a", &env),
        Node::spawn(dir.path(), "b", &env),
    );
    let c = reqwest::Client::new();
    a.ready(&c).await;
    b.ready(&c).await;
    // Unique: the lock's counter lives in Redis, which outlives this test's database.
    let email = &format!("pg-mfa-{}@example.com", uuid::Uuid::new_v4().simple());
    let t = a.register(email).await;
    let elsewhere = b.login(email).await;
    let (_, secret, _) = enrol(&a, s(&t, "access_token")).await; // one wrong code, then the step now
    refused_within_a_second(&c, &b, s(&elsewhere, "access_token")).await;

    let next = code(&secret, 1);
    let first = challenge(&a, email).await;
    let res = verify(&b, &first, &next).await;
    assert_eq!(res.status(), 200);
    let signed_in: Value = res.json().await.unwrap();
    // The same step on the other node (where the login began): refused.
    let second = challenge(&b, email).await;
    problem(verify(&a, &second, &next).await, 401, "invalid_mfa_code").await;
    // Refresh on either node keeps the session's acr and amr.
    let refreshed: Value = a
        .refresh(s(&signed_in, "refresh_token"))
        .await
        .json()
        .await
        .unwrap();
    let i = introspect(&b, s(&refreshed, "access_token")).await;
    assert_eq!(
        (&i["acr"], &i["amr"]),
        (&json!("aal2"), &json!(["pwd", "otp", "mfa"]))
    );
    // Four more wrong codes, across both nodes, end the token: the fifth answer says so.
    for node in [&a, &b, &a] {
        problem(
            verify(node, &second, "000000").await,
            401,
            "invalid_mfa_code",
        )
        .await;
    }
    problem(
        verify(&b, &second, "000000").await,
        401,
        "invalid_mfa_token",
    )
    .await;
    let right = code(&secret, 0);
    problem(verify(&a, &second, &right).await, 401, "invalid_mfa_token").await;
    // Wrong codes, on either node, lock the account (limit 8 here) on both, even against the
    // right password; a right password alone never clears the count for a user with a factor.
    let mut wrong = 0;
    while a.try_login(email).await.status() != 429 {
        assert!(wrong < 8, "eight more wrong codes did not lock the account");
        let token = challenge(&b, email).await;
        let res = verify(if wrong % 2 == 0 { &a } else { &b }, &token, "000000").await;
        assert_eq!(res.status(), 401);
        wrong += 1;
    }
    problem(b.try_login(email).await, 429, "rate_limited").await;
    drop(db);
}

async fn verify(node: &Node, token: &str, code: &str) -> Response {
    node.post(
        "/auth/mfa/verify",
        json!({"mfa_token": token, "code": code}),
    )
    .await
}

/// A login of `email` on `node` that asks for the second step: its mfa token.
async fn challenge(node: &Node, email: &str) -> String {
    let body = problem(node.try_login(email).await, 401, "mfa_required").await;
    s(&body, "mfa_token").to_owned()
}
