//! Sessions for apps over HTTP (API.md §8, issue 15): app-issued sessions, the app's claims in
//! `ext`, `auth_time` and reauthentication, and the per-user session limit, on SQLite and
//! PostgreSQL.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::{Response, StatusCode};
use serde_json::{Value, json};

use crate::common::*;
use crate::support::{TestDb, required_env};

/// The claims of a token (the signature is the server's business; these tests read the claims).
fn claims(token: &str) -> Value {
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

async fn admin(srv: &TestServer, method: reqwest::Method, path: &str, body: Value) -> Response {
    srv.client
        .request(method, srv.url(path))
        .header("x-api-key", ADMIN_KEY)
        .json(&body)
        .send()
        .await
        .unwrap()
}

async fn new_user(srv: &TestServer, email: &str) -> String {
    let res = admin(
        srv,
        reqwest::Method::POST,
        "/admin/users",
        json!({"email": email, "password": PASSWORD}),
    )
    .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let user: Value = res.json().await.unwrap();
    s(&user, "id").to_owned()
}

async fn app_session(srv: &TestServer, body: Value) -> Response {
    admin(srv, reqwest::Method::POST, "/admin/sessions", body).await
}

async fn events(srv: &TestServer, user_id: &str, kind: &str) -> Vec<Value> {
    let res = srv
        .client
        .get(srv.url(&format!("/admin/events?user_id={user_id}&type={kind}")))
        .header("x-api-key", ADMIN_KEY)
        .send()
        .await
        .unwrap();
    let body: Value = res.json().await.unwrap();
    body["events"].as_array().unwrap().clone()
}

/// Whether introspection calls the token active.
async fn introspect(srv: &TestServer, token: &str) -> bool {
    let res = srv
        .client
        .post(srv.url("/auth/introspect"))
        .header("x-api-key", RESOURCE_KEY)
        .json(&json!({"token": token}))
        .send()
        .await
        .unwrap();
    let body: Value = res.json().await.unwrap();
    body["active"].as_bool().unwrap()
}

fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

#[tokio::test]
async fn an_app_issued_session_rotates_lists_is_caught_on_reuse_and_revokes_like_any_other() {
    let srv = start(&format!("resource_server_keys = [\"{RESOURCE_KEY}\"]\n")).await;
    let uid = new_user(&srv, "sso@example.com").await;
    let res = app_session(
        &srv,
        json!({"user_id": uid, "claims": {"tenant": "acme"}, "ip": "203.0.113.7", "user_agent": "Kiosk/2.0"}),
    )
    .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    assert_eq!(res.headers()["cache-control"], "no-store");
    let t: Value = res.json().await.unwrap();
    let c = claims(s(&t, "access_token"));
    assert_eq!(c["sub"], uid.as_str());
    assert_eq!(c["ext"], json!({"tenant": "acme"}));
    assert!((c["auth_time"].as_i64().unwrap() - now_secs()).abs() <= 2);
    assert!(s(&t, "refresh_token").starts_with("rt_"), "body transport");

    let me: Value = srv.me(s(&t, "access_token")).await.json().await.unwrap();
    assert_eq!(me["session"]["ip"], "203.0.113.7");
    assert_eq!(me["session"]["user_agent"], "Kiosk/2.0");
    let created = events(&srv, &uid, "session.created").await;
    assert_eq!(created.len(), 1);
    assert_eq!(created[0]["detail"]["source"], "app");
    assert_eq!(created[0]["session_id"], s(&t, "session_id"));

    // Rotation keeps the claims and the auth_time; an older token is reuse.
    let r1: Value = srv
        .refresh(s(&t, "refresh_token"))
        .await
        .json()
        .await
        .unwrap();
    let r2: Value = srv
        .refresh(s(&r1, "refresh_token"))
        .await
        .json()
        .await
        .unwrap();
    let c2 = claims(s(&r2, "access_token"));
    assert_eq!(c2["ext"], c["ext"]);
    assert_eq!(c2["auth_time"], c["auth_time"]);
    problem(
        srv.refresh(s(&t, "refresh_token")).await,
        401,
        "refresh_token_reused",
    )
    .await;
    problem(srv.me(s(&r2, "access_token")).await, 401, "session_revoked").await;

    // Revoked like any other session, at once.
    let t: Value = app_session(&srv, json!({"user_id": uid}))
        .await
        .json()
        .await
        .unwrap();
    let path = format!("/admin/sessions/{}", s(&t, "session_id"));
    assert_eq!(
        admin(&srv, reqwest::Method::DELETE, &path, json!(null))
            .await
            .status(),
        204
    );
    problem(srv.me(s(&t, "access_token")).await, 401, "session_revoked").await;
}

#[tokio::test]
async fn app_sessions_refuse_banned_unknown_malformed_and_non_admin_callers() {
    let srv = start(&format!(
        "resource_server_keys = [\"{RESOURCE_KEY}\"]\n[sessions]\nnamespaces = [\"default\", \"web\"]\n"
    ))
    .await;
    let uid = new_user(&srv, "refused@example.com").await;
    let unknown = uuid::Uuid::now_v7().to_string();
    problem(
        app_session(&srv, json!({"user_id": unknown})).await,
        404,
        "not_found",
    )
    .await;
    problem(
        app_session(&srv, json!({"user_id": "not-an-id"})).await,
        400,
        "invalid_request",
    )
    .await;
    problem(
        app_session(&srv, json!({"user_id": uid, "ip": "somewhere"})).await,
        400,
        "invalid_request",
    )
    .await;
    problem(
        app_session(&srv, json!({"user_id": uid, "user_agent": "x".repeat(513)})).await,
        400,
        "invalid_request",
    )
    .await;
    problem(
        app_session(&srv, json!({"user_id": uid, "claims": [1, 2]})).await,
        400,
        "invalid_request",
    )
    .await;
    problem(
        app_session(&srv, json!({"user_id": uid, "extra": 1})).await,
        400,
        "invalid_request",
    )
    .await;
    problem(
        app_session(&srv, json!({"user_id": uid, "namespace": "mobile"})).await,
        422,
        "invalid_namespace",
    )
    .await;
    for key in [Some(RESOURCE_KEY), Some("wrong-key-0123456789"), None] {
        let mut req = srv
            .client
            .post(srv.url("/admin/sessions"))
            .json(&json!({"user_id": uid}));
        if let Some(k) = key {
            req = req.header("x-api-key", k);
        }
        problem(req.send().await.unwrap(), 401, "unauthorized").await;
    }
    let ban = format!("/admin/users/{uid}/ban");
    assert_eq!(
        admin(&srv, reqwest::Method::POST, &ban, json!({}))
            .await
            .status(),
        200
    );
    problem(
        app_session(&srv, json!({"user_id": uid})).await,
        403,
        "account_banned",
    )
    .await;
    assert!(
        events(&srv, &uid, "session.created").await.is_empty(),
        "nothing was opened"
    );
}

#[tokio::test]
async fn claims_are_merged_into_ext_and_never_change_a_registered_claim() {
    let srv = start(&format!("resource_server_keys = [\"{RESOURCE_KEY}\"]\n")).await;
    let uid = new_user(&srv, "claims@example.com").await;
    let path = format!("/admin/users/{uid}/claims");
    let hostile = json!({"tier": 1, "plan": "pro", "sub": "someone-else", "exp": 4102444800u64, "iss": "evil", "sid": "x", "roles": ["admin"]});
    let res = admin(
        &srv,
        reqwest::Method::PUT,
        &path,
        json!({"claims": hostile}),
    )
    .await;
    assert_eq!(res.status(), 200);
    let user: Value = res.json().await.unwrap();
    assert_eq!(user["claims"], hostile);

    let t: Value = app_session(
        &srv,
        json!({"user_id": uid, "claims": {"plan": "team", "aud": "x"}}),
    )
    .await
    .json()
    .await
    .unwrap();
    let c = claims(s(&t, "access_token"));
    assert_eq!(c["sub"], uid.as_str());
    assert_eq!(c["iss"], "http://tessera.test");
    assert_eq!(c["sid"], s(&t, "session_id"));
    assert_eq!(c["roles"], json!([]));
    assert_eq!(c["exp"].as_i64().unwrap() - c["iat"].as_i64().unwrap(), 900);
    assert!(c.get("aud").is_none());
    let mut want = hostile.clone();
    want["plan"] = json!("team"); // the session's keys win
    want["aud"] = json!("x");
    assert_eq!(c["ext"], want);

    // Introspection shows them, with auth_time.
    let intro: Value = srv
        .client
        .post(srv.url("/auth/introspect"))
        .header("x-api-key", RESOURCE_KEY)
        .json(&json!({"token": s(&t, "access_token")}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(intro["active"], true);
    assert_eq!(intro["ext"], want);
    assert_eq!(intro["auth_time"], c["auth_time"]);

    // A change of the user's claims shows at the next refresh; a password login carries them.
    let res = admin(
        &srv,
        reqwest::Method::PUT,
        &path,
        json!({"claims": {"tier": 2}}),
    )
    .await;
    assert_eq!(res.status(), 200);
    let r: Value = srv
        .refresh(s(&t, "refresh_token"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        claims(s(&r, "access_token"))["ext"],
        json!({"tier": 2, "plan": "team", "aud": "x"})
    );
    let login = srv.login("claims@example.com").await;
    assert_eq!(claims(s(&login, "access_token"))["ext"], json!({"tier": 2}));

    // No claims at all: no ext.
    admin(&srv, reqwest::Method::PUT, &path, json!({"claims": {}})).await;
    let login = srv.login("claims@example.com").await;
    assert!(claims(s(&login, "access_token")).get("ext").is_none());
    problem(
        admin(
            &srv,
            reqwest::Method::PUT,
            "/admin/users/not-an-id/claims",
            json!({"claims": {}}),
        )
        .await,
        404,
        "not_found",
    )
    .await;
}

/// `{"k":"vvv…"}` of exactly `n` bytes of JSON.
fn claims_of_size(n: usize) -> Value {
    json!({"k": "v".repeat(n - 8)})
}

#[tokio::test]
async fn claims_are_limited_to_4_kib_of_json() {
    let srv = start("").await;
    let uid = new_user(&srv, "big@example.com").await;
    let path = format!("/admin/users/{uid}/claims");
    assert_eq!(
        serde_json::to_vec(&claims_of_size(4096)).unwrap().len(),
        4096
    );
    let ok = admin(
        &srv,
        reqwest::Method::PUT,
        &path,
        json!({"claims": claims_of_size(4096)}),
    )
    .await;
    assert_eq!(ok.status(), 200);
    problem(
        admin(
            &srv,
            reqwest::Method::PUT,
            &path,
            json!({"claims": claims_of_size(4097)}),
        )
        .await,
        400,
        "invalid_request",
    )
    .await;
    problem(
        app_session(&srv, json!({"user_id": uid, "claims": {"x": "y"}})).await,
        400,
        "invalid_request",
    )
    .await; // merged with the user's 4096 bytes, it is over
    admin(&srv, reqwest::Method::PUT, &path, json!({"claims": {}})).await;
    let res = app_session(
        &srv,
        json!({"user_id": uid, "claims": claims_of_size(4096)}),
    )
    .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    problem(
        app_session(
            &srv,
            json!({"user_id": uid, "claims": claims_of_size(4097)}),
        )
        .await,
        400,
        "invalid_request",
    )
    .await;

    // A live session with 4096 bytes of its own: the user's claims may no longer add to them,
    // or that session's next refresh would carry more than 4 KiB.
    let body: Value = res.json().await.unwrap();
    let small = json!({"claims": {"x": "y"}});
    problem(
        admin(&srv, reqwest::Method::PUT, &path, small.clone()).await,
        400,
        "invalid_request",
    )
    .await;
    let same_key = json!({"claims": {"k": "from the user, overridden by the session"}});
    let ok = admin(&srv, reqwest::Method::PUT, &path, same_key).await;
    assert_eq!(ok.status(), 200, "a key the session overrides adds nothing");
    let refreshed: Value = srv
        .refresh(s(&body, "refresh_token"))
        .await
        .json()
        .await
        .unwrap();
    let ext = claims(s(&refreshed, "access_token"))["ext"].clone();
    assert_eq!(serde_json::to_vec(&ext).unwrap().len(), 4096);
    let sid = s(&body, "session_id");
    let gone = format!("/admin/sessions/{sid}");
    let res = admin(&srv, reqwest::Method::DELETE, &gone, json!(null)).await;
    assert_eq!(res.status(), 204);
    let ok = admin(&srv, reqwest::Method::PUT, &path, small).await;
    assert_eq!(ok.status(), 200, "a revoked session does not count");
}

#[tokio::test]
async fn reauthentication_moves_auth_time_and_counts_failures_like_logins() {
    let srv = start("[rate_limit]\nfailed_logins_per_account = 3\n").await;
    let t = srv.register("stepup@example.com").await;
    let c0 = claims(s(&t, "access_token"));
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    // A refresh does not move auth_time.
    let r: Value = srv
        .refresh(s(&t, "refresh_token"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(claims(s(&r, "access_token"))["auth_time"], c0["auth_time"]);

    let reauth = |token: String, password: &'static str| {
        let client = srv.client.clone();
        let url = srv.url("/auth/reauthenticate");
        async move {
            client
                .post(url)
                .bearer_auth(token)
                .json(&json!({"password": password}))
                .send()
                .await
                .unwrap()
        }
    };
    let res = reauth(s(&r, "access_token").to_owned(), PASSWORD).await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    let c1 = claims(s(&body, "access_token"));
    assert!(c1["auth_time"].as_i64().unwrap() > c0["auth_time"].as_i64().unwrap());
    assert_eq!(body["auth_time"], c1["auth_time"]);
    assert_eq!(c1["sid"], c0["sid"], "the same session");
    assert!(body["expires_in"].as_i64().unwrap() > 0);
    // The session's later tokens carry the new auth_time.
    let r2: Value = srv
        .refresh(s(&r, "refresh_token"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(claims(s(&r2, "access_token"))["auth_time"], c1["auth_time"]);

    // Wrong passwords are failed logins: events, then the account's lock.
    let access = s(&r2, "access_token").to_owned();
    for _ in 0..3 {
        problem(
            reauth(access.clone(), "not the password at all").await,
            401,
            "invalid_credentials",
        )
        .await;
    }
    problem(reauth(access.clone(), PASSWORD).await, 429, "rate_limited").await;
    let uid = s(&c0, "sub").to_owned();
    assert_eq!(events(&srv, &uid, "login.failed").await.len(), 3);
    assert_eq!(events(&srv, &uid, "session.reauthenticated").await.len(), 1);
    problem(
        reauth("garbage".into(), PASSWORD).await,
        401,
        "invalid_token",
    )
    .await;
    let res = srv
        .client
        .post(srv.url("/auth/reauthenticate"))
        .json(&json!({"password": PASSWORD}))
        .send()
        .await
        .unwrap();
    problem(res, 401, "missing_token").await;
}

#[tokio::test]
async fn reauthentication_of_a_revoked_session_is_refused() {
    let srv = start("").await;
    let t = srv.register("gone@example.com").await;
    let res = srv
        .client
        .post(srv.url("/auth/logout"))
        .bearer_auth(s(&t, "access_token"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    let res = srv
        .client
        .post(srv.url("/auth/reauthenticate"))
        .bearer_auth(s(&t, "access_token"))
        .json(&json!({"password": PASSWORD}))
        .send()
        .await
        .unwrap();
    problem(res, 401, "session_revoked").await;
}

#[tokio::test]
async fn the_session_limit_evicts_the_least_recently_active_and_it_bites_at_once() {
    let srv = start(&format!(
        "resource_server_keys = [\"{RESOURCE_KEY}\"]\n[sessions]\nmax_per_user = 2\n"
    ))
    .await;
    let a = srv.register("limit@example.com").await;
    let b = srv.login("limit@example.com").await;
    // `a` is used again, so `b` is now the least recently active.
    let a2: Value = srv
        .refresh(s(&a, "refresh_token"))
        .await
        .json()
        .await
        .unwrap();
    let c = srv.login("limit@example.com").await;
    // Introspection reads only the in-memory revocation set (no store read), so this sees
    // whether the eviction was applied and broadcast, not just written.
    assert!(!introspect(&srv, s(&b, "access_token")).await);
    problem(srv.me(s(&b, "access_token")).await, 401, "session_revoked").await;
    problem(
        srv.refresh(s(&b, "refresh_token")).await,
        401,
        "session_revoked",
    )
    .await;
    assert_eq!(srv.me(s(&a2, "access_token")).await.status(), 200);
    assert_eq!(srv.me(s(&c, "access_token")).await.status(), 200);
    let uid = claims(s(&a, "access_token"))["sub"]
        .as_str()
        .unwrap()
        .to_owned();
    let evicted = events(&srv, &uid, "session.limit_evicted").await;
    assert_eq!(evicted.len(), 1);
    assert_eq!(evicted[0]["session_id"], s(&b, "session_id"));
    // An app-issued session counts too.
    let d: Value = app_session(&srv, json!({"user_id": uid}))
        .await
        .json()
        .await
        .unwrap();
    assert!(!introspect(&srv, s(&a2, "access_token")).await);
    assert!(introspect(&srv, s(&c, "access_token")).await);
    let list: Value = srv
        .get_auth("/auth/sessions", s(&d, "access_token"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list["sessions"].as_array().unwrap().len(), 2);
}

/// Parallel logins of one user against the limit, through HTTP.
async fn parallel_logins_never_exceed_the_limit(srv: TestServer) {
    srv.register("burst@example.com").await;
    let logins: Vec<_> = (0..10)
        .map(|_| {
            let client = srv.client.clone();
            let url = srv.url("/auth/login");
            tokio::spawn(async move {
                client
                    .post(url)
                    .json(&json!({"email": "burst@example.com", "password": PASSWORD}))
                    .send()
                    .await
                    .unwrap()
                    .json::<Value>()
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut tokens = vec![];
    for l in logins {
        tokens.push(l.await.unwrap());
    }
    let mut alive = 0;
    for t in &tokens {
        if srv.me(s(t, "access_token")).await.status() == 200 {
            alive += 1;
        }
    }
    assert_eq!(
        alive, 3,
        "exactly the limit is alive, and every evicted token is refused"
    );
    let list: Value = srv
        .get_auth("/auth/sessions", s(tokens.last().unwrap(), "access_token"))
        .await
        .json()
        .await
        .unwrap();
    let listed = list["sessions"].as_array().map_or(0, |v| v.len());
    assert!(listed == 3 || listed == 0, "{list}");
}

const BURST: &str = "[sessions]\nmax_per_user = 3\n[rate_limit]\nlogin_per_ip_per_minute = 0\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn parallel_logins_never_exceed_the_limit_on_sqlite() {
    parallel_logins_never_exceed_the_limit(start(BURST).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn parallel_logins_never_exceed_the_limit_on_postgres() {
    let Some(admin_url) = required_env("TESSERA_TEST_DATABASE_URL") else {
        return;
    };
    let db = TestDb::create(&admin_url);
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let url = db.url.clone();
    let srv = start_tuned(dir, BURST, move |s| {
        s.database = tessera_store::DatabaseUrl::parse(&url).unwrap();
    })
    .await;
    parallel_logins_never_exceed_the_limit(srv).await;
    drop(db);
}

/// docs/app-sessions.md's walk-through, exactly as the page shows it, against the real binary.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_documented_walkthrough_runs_against_the_binary() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let script =
        std::fs::read_to_string(root.join("examples/app-sessions/walkthrough.sh")).unwrap();
    let doc = std::fs::read_to_string(root.join("docs/app-sessions.md")).unwrap();
    assert!(
        doc.contains(&format!("```sh\n{script}```\n")),
        "docs/app-sessions.md shows examples/app-sessions/walkthrough.sh as it is"
    );
    let tools = ["curl", "jq"].iter().all(|t| {
        std::process::Command::new(t)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    });
    if !tools {
        assert!(
            std::env::var("CI").ok().as_deref() != Some("true"),
            "CI must install curl and jq"
        );
        eprintln!(
            "\n*** SKIPPED: the walk-through needs curl and jq: run `apt-get install curl jq` ***\n"
        );
        return;
    }
    let tessera = crate::tessera_process::TesseraProcess::start("", "").await;
    let (base, cwd) = (tessera.base(), tessera.dir.path().to_owned());
    let script = root.join("examples/app-sessions/walkthrough.sh");
    let run = tokio::task::spawn_blocking(move || {
        std::process::Command::new("bash")
            .arg(script)
            .env("TESSERA", base)
            .env("KEY", ADMIN_KEY)
            .current_dir(cwd)
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
    for line in [
        r#"{"plan":"pro","tenant":"acme"}"#,
        r#""ext":{"amr":["hwk"],"idp":"okta","plan":"pro","tenant":"acme"}"#,
        r#"{"ip":"203.0.113.7","user_agent":"Mozilla/5.0 (X11; Linux x86_64) Firefox/133.0"}"#,
        "revoke: 200",
        "refresh after revoke: session_revoked",
        "walk-through done",
    ] {
        assert!(out.contains(line), "{line} in:\n{out}");
    }
}
