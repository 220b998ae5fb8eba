//! Passkeys over HTTP (API.md §9.3), with the software authenticator as the browser: the four
//! routes, step-up, the problem answers, `passkeys_not_configured`, and ceremonies begun on one
//! node and finished on another over PostgreSQL.
use reqwest::Response;
use serde_json::{Value, json};
use tessera_core::soft_authenticator::{Present, SoftAuthenticator};

use crate::common::*;
use crate::support::{Node, TestDb, required_env};

const ORIGIN: &str = "https://app.test";
const WEBAUTHN: &str = "[webauthn]\nrp_id = \"app.test\"\norigins = [\"https://app.test\"]\n";

async fn authed(srv: &impl TesseraHttp, path: &str, access: &str, body: Value) -> Response {
    srv.http()
        .post(srv.url(path))
        .bearer_auth(access)
        .json(&body)
        .send()
        .await
        .unwrap()
}

/// Adds a passkey to the session of `access`: the answer's body.
async fn add_passkey(srv: &impl TesseraHttp, auth: &mut SoftAuthenticator, access: &str) -> Value {
    let res = authed(
        srv,
        "/auth/passkeys/register/options",
        access,
        json!({"name": "laptop"}),
    )
    .await;
    assert_eq!(res.status(), 200);
    let start: Value = res.json().await.unwrap();
    let pk = &start["publicKey"];
    assert_eq!(pk["rp"]["id"], "app.test");
    assert_eq!(pk["authenticatorSelection"]["residentKey"], "required");
    assert_eq!(pk["authenticatorSelection"]["userVerification"], "required");
    assert!(
        pk["challenge"].as_str().is_some_and(|c| c.len() >= 43),
        "{pk}"
    );
    let credential = auth.register(pk, &Present::default());
    let body = json!({"ceremony_id": start["ceremony_id"], "credential": credential});
    let res = authed(srv, "/auth/passkeys/register", access, body).await;
    assert_eq!(res.status(), 201);
    res.json().await.unwrap()
}

/// Login options (usernameless, or with `extra`), and the authenticator's answer.
async fn ceremony(
    srv: &impl TesseraHttp,
    auth: &mut SoftAuthenticator,
    extra: Value,
    present: &Present,
) -> (String, Value) {
    let res = srv.post("/auth/passkeys/login/options", extra).await;
    assert_eq!(res.status(), 200);
    let start: Value = res.json().await.unwrap();
    let credential = auth.assert(&start["publicKey"], present);
    (s(&start, "ceremony_id").to_owned(), credential)
}

async fn introspect(srv: &impl TesseraHttp, token: &str) -> Value {
    srv.http()
        .post(srv.url("/auth/introspect"))
        .header("x-api-key", ADMIN_KEY)
        .json(&json!({"token": token}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_passkey_registers_signs_in_alone_and_as_the_second_step_over_http() {
    let srv = start(WEBAUTHN).await;
    let mut auth = SoftAuthenticator::new(ORIGIN);
    let t = srv.register("http-pk@example.com").await;
    let added = add_passkey(&srv, &mut auth, s(&t, "access_token")).await;
    assert_eq!(added["factor"]["type"], "passkey");
    assert_eq!(added["factor"]["name"], "laptop");
    assert_eq!(added["recovery_codes"].as_array().map(Vec::len), Some(10));

    // Usernameless.
    let (id, credential) = ceremony(&srv, &mut auth, json!({}), &Present::default()).await;
    let res = srv
        .post(
            "/auth/passkeys/login",
            json!({"ceremony_id": id, "credential": credential}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let signed_in: Value = res.json().await.unwrap();
    let i = introspect(&srv, s(&signed_in, "access_token")).await;
    assert_eq!(
        (&i["acr"], &i["amr"]),
        (&json!("aal2"), &json!(["hwk", "user"]))
    );
    // The same assertion again: its ceremony is spent.
    let again = srv
        .post(
            "/auth/passkeys/login",
            json!({"ceremony_id": id, "credential": credential}),
        )
        .await;
    problem(again, 401, "invalid_credentials").await;

    // The second step after the password.
    let first = problem(
        srv.try_login("http-pk@example.com").await,
        401,
        "mfa_required",
    )
    .await;
    assert_eq!(first["factors"][0]["type"], "passkey");
    let token = s(&first, "mfa_token").to_owned();
    let (id, credential) = ceremony(
        &srv,
        &mut auth,
        json!({"mfa_token": token}),
        &Present::default(),
    )
    .await;
    let body = json!({"ceremony_id": id, "credential": credential, "mfa_token": token});
    let res = srv.post("/auth/passkeys/login", body).await;
    assert_eq!(res.status(), 200);
    let second: Value = res.json().await.unwrap();
    let i = introspect(&srv, s(&second, "access_token")).await;
    assert_eq!(i["amr"], json!(["pwd", "hwk", "user", "mfa"]));

    // Step-up with a passkey: a fresh auth_time, aal2.
    let (id, credential) = ceremony(&srv, &mut auth, json!({}), &Present::default()).await;
    let res = authed(
        &srv,
        "/auth/reauthenticate",
        s(&second, "access_token"),
        json!({"ceremony_id": id, "credential": credential}),
    )
    .await;
    assert_eq!(res.status(), 200);
    let r: Value = res.json().await.unwrap();
    assert!(r["auth_time"].as_i64().is_some());
    // The factor list shows it, and the cookie transport works like a login's.
    let (id, credential) = ceremony(&srv, &mut auth, json!({}), &Present::default()).await;
    let res = srv
        .post(
            "/auth/passkeys/login",
            json!({"ceremony_id": id, "credential": credential, "transport": "cookie"}),
        )
        .await;
    assert_eq!(res.status(), 200);
    assert!(
        res.headers()
            .get_all("set-cookie")
            .iter()
            .any(|c| c.to_str().unwrap().contains("tessera_refresh")),
        "the refresh token in its cookie"
    );
}

#[tokio::test]
async fn bad_passkey_requests_get_clear_problems() {
    let srv = start(WEBAUTHN).await;
    let mut auth = SoftAuthenticator::new(ORIGIN);
    let t = srv.register("bad-pk@example.com").await;
    let access = s(&t, "access_token").to_owned();
    add_passkey(&srv, &mut auth, &access).await;
    // A wrong origin, a missing UV flag: 401 invalid_credentials.
    for present in [
        Present {
            origin: Some("https://evil.test".into()),
            ..Default::default()
        },
        Present {
            no_user_verification: true,
            ..Default::default()
        },
    ] {
        let (id, credential) = ceremony(&srv, &mut auth, json!({}), &present).await;
        let res = srv
            .post(
                "/auth/passkeys/login",
                json!({"ceremony_id": id, "credential": credential}),
            )
            .await;
        problem(res, 401, "invalid_credentials").await;
    }
    // Malformed: a credential that is no AuthenticationResponseJSON (a failed assertion), or no
    // object at all, an unknown ceremony, a missing field, both kinds of proof at once.
    let (id, _) = ceremony(&srv, &mut auth, json!({}), &Present::default()).await;
    let res = srv
        .post(
            "/auth/passkeys/login",
            json!({"ceremony_id": id, "credential": {"id": 5}}),
        )
        .await;
    problem(res, 401, "invalid_credentials").await;
    let res = srv
        .post(
            "/auth/passkeys/login",
            json!({"ceremony_id": id, "credential": [1]}),
        )
        .await;
    problem(res, 400, "invalid_request").await;
    let res = srv
        .post(
            "/auth/passkeys/login",
            json!({"ceremony_id": "nope", "credential": {}}),
        )
        .await;
    problem(res, 401, "invalid_credentials").await;
    let res = srv
        .post("/auth/passkeys/login", json!({"credential": {}}))
        .await;
    problem(res, 400, "invalid_request").await;
    let res = srv
        .post(
            "/auth/passkeys/login/options",
            json!({"mfa_token": "mfa_nope"}),
        )
        .await;
    problem(res, 401, "invalid_mfa_token").await;
    // Past the schema's bounds (found by schemathesis): 400, as the document says.
    for body in [
        json!({"email": format!("{}@example.com", "a".repeat(320))}),
        json!({"mfa_token": "m".repeat(129)}),
    ] {
        let res = srv.post("/auth/passkeys/login/options", body).await;
        problem(res, 400, "invalid_request").await;
    }
    let both = json!({"password": PASSWORD, "ceremony_id": id, "credential": {}});
    problem(
        authed(&srv, "/auth/reauthenticate", &access, both).await,
        400,
        "invalid_request",
    )
    .await;
    let res = authed(
        &srv,
        "/auth/passkeys/register",
        &access,
        json!({"ceremony_id": "01234567-0123-7123-8123-0123456789ab", "credential": {}}),
    )
    .await;
    problem(res, 400, "invalid_request").await;
    // Registration needs a session.
    let res = srv.post("/auth/passkeys/register/options", json!({})).await;
    problem(res, 401, "missing_token").await;
}

#[tokio::test]
async fn without_a_relying_party_passkey_routes_answer_501() {
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let srv = start_tuned(dir, "", |s| s.engine.mfa.passkeys = None).await;
    let res = srv.post("/auth/passkeys/login/options", json!({})).await;
    let p = problem(res, 501, "passkeys_not_configured").await;
    assert!(s(&p, "detail").contains("webauthn.rp_id"));
}

/// Two nodes on one PostgreSQL: a ceremony begun on one is finished on the other, once; a
/// credential registered through one is anyone's but another user's through the other.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_postgres_a_ceremony_begun_on_one_node_finishes_on_another_once() {
    let Some(admin_url) = required_env("TESSERA_TEST_DATABASE_URL") else {
        return;
    };
    let db = TestDb::create(&admin_url);
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let env = [
        ("TESSERA_DATABASE_URL", db.url.as_str()),
        ("TESSERA_WEBAUTHN__RP_ID", "app.test"),
        ("TESSERA_WEBAUTHN__ORIGINS", ORIGIN),
    ];
    let (a, b) = (
        Node::spawn(dir.path(), "a", &env),
        Node::spawn(dir.path(), "b", &env),
    );
    let c = reqwest::Client::new();
    a.ready(&c).await;
    b.ready(&c).await;
    let mut auth = SoftAuthenticator::new(ORIGIN);
    let t = a.register("pg-pk@example.com").await;
    add_passkey(&a, &mut auth, s(&t, "access_token")).await;
    let (id, credential) = ceremony(&a, &mut auth, json!({}), &Present::default()).await;
    let body = json!({"ceremony_id": id, "credential": credential});
    let (on_b, on_a) = tokio::join!(
        b.post("/auth/passkeys/login", body.clone()),
        a.post("/auth/passkeys/login", body.clone())
    );
    let mut statuses = [on_b.status().as_u16(), on_a.status().as_u16()];
    statuses.sort();
    assert_eq!(statuses, [200, 401], "one node finishes the ceremony");
    // The same credential for another user, through the other node: refused.
    let other = b.register("pg-pk-other@example.com").await;
    let res = authed(
        &b,
        "/auth/passkeys/register/options",
        s(&other, "access_token"),
        json!({}),
    )
    .await;
    let start: Value = res.json().await.unwrap();
    let same = Present {
        credential: Some(auth.credentials[0].id.clone()),
        ..Default::default()
    };
    let credential = auth.register(&start["publicKey"], &same);
    let body = json!({"ceremony_id": start["ceremony_id"], "credential": credential});
    let res = authed(
        &b,
        "/auth/passkeys/register",
        s(&other, "access_token"),
        body,
    )
    .await;
    problem(res, 400, "invalid_request").await;
    drop(db);
}
