//! DPoP at Tessera (API.md §10), over HTTP: binding at login, `cnf.jkt` and `token_type`, the
//! bound token only as `DPoP` with its proof, refresh by the same key only (a refusal spends
//! nothing), logout without a proof, `dpop.required`, nonces, and (two nodes) nonces and
//! replay across nodes.
use reqwest::{Method, RequestBuilder, Response};
use serde_json::{Value, json};

use crate::common::*;
use crate::dpop_client::{DpopKey, claims_of};
use crate::example;
use crate::resource_server::Api;
use crate::support::{Node, SLOW_POLL, TestDb, required_env};

/// The issuer every test server has: proofs name its origin.
const ISSUER: &str = "http://tessera.test";

fn with_proof(
    b: RequestBuilder,
    key: &DpopKey,
    method: &str,
    path: &str,
    token: Option<&str>,
) -> RequestBuilder {
    b.header(
        "dpop",
        key.proof(method, &format!("{ISSUER}{path}"), token, None),
    )
}

async fn login_bound(srv: &TestServer, key: &DpopKey, email: &str) -> Response {
    let req = srv
        .client
        .post(srv.url("/auth/login"))
        .json(&json!({"email": email, "password": PASSWORD}));
    with_proof(req, key, "POST", "/auth/login", None)
        .send()
        .await
        .unwrap()
}

async fn me(srv: &TestServer, auth: &str, dpop: Option<String>) -> Response {
    let mut req = srv
        .client
        .get(srv.url("/auth/me"))
        .header("authorization", auth);
    if let Some(p) = dpop {
        req = req.header("dpop", p);
    }
    req.send().await.unwrap()
}

async fn dpop_problem(res: Response, status: u16, code: &str) {
    let challenge = res
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    assert!(
        challenge.starts_with("DPoP ")
            && challenge.contains(&format!("error=\"{code}\""))
            && challenge.contains("algs=\"ES256 EdDSA Ed25519\""),
        "{challenge}"
    );
    problem(res, status, code).await;
}

#[tokio::test]
async fn a_bound_session_is_worthless_without_its_key() {
    let srv = start("").await;
    let key = DpopKey::new();
    srv.register("dpop@example.com").await;
    let res = login_bound(&srv, &key, "dpop@example.com").await;
    assert_eq!(res.status(), 200);
    let t: Value = res.json().await.unwrap();
    assert_eq!(t["token_type"], "DPoP");
    let access = s(&t, "access_token").to_owned();
    assert_eq!(claims_of(&access)["cnf"]["jkt"], key.jkt());
    let i: Value = srv
        .client
        .post(srv.url("/auth/introspect"))
        .header("x-api-key", ADMIN_KEY)
        .json(&json!({"token": access}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(i["cnf"]["jkt"], key.jkt());

    // As Bearer: refused. As DPoP without a proof, with another key's, with a proof for another
    // URL or without ath: refused. With its proof: accepted, once.
    problem(
        me(&srv, &format!("Bearer {access}"), None).await,
        401,
        "invalid_token",
    )
    .await;
    let dpop = format!("DPoP {access}");
    dpop_problem(me(&srv, &dpop, None).await, 401, "invalid_dpop_proof").await;
    let thief = DpopKey::new();
    let url = format!("{ISSUER}/auth/me");
    let stolen = thief.proof("GET", &url, Some(&access), None);
    dpop_problem(
        me(&srv, &dpop, Some(stolen)).await,
        401,
        "invalid_dpop_proof",
    )
    .await;
    let elsewhere = key.proof(
        "GET",
        &format!("{ISSUER}/auth/sessions"),
        Some(&access),
        None,
    );
    dpop_problem(
        me(&srv, &dpop, Some(elsewhere)).await,
        401,
        "invalid_dpop_proof",
    )
    .await;
    let no_ath = key.proof("GET", &url, None, None);
    dpop_problem(
        me(&srv, &dpop, Some(no_ath)).await,
        401,
        "invalid_dpop_proof",
    )
    .await;
    let good = key.proof("GET", &url, Some(&access), None);
    assert_eq!(me(&srv, &dpop, Some(good.clone())).await.status(), 200);
    dpop_problem(me(&srv, &dpop, Some(good)).await, 401, "invalid_dpop_proof").await;

    // Refresh: without a proof or with another key's, 400, and the refresh token is not spent.
    let refresh = s(&t, "refresh_token").to_owned();
    let body = json!({"refresh_token": refresh});
    let post = || srv.client.post(srv.url("/auth/refresh")).json(&body);
    problem(post().send().await.unwrap(), 400, "invalid_dpop_proof").await;
    let res = with_proof(post(), &thief, "POST", "/auth/refresh", None)
        .send()
        .await
        .unwrap();
    problem(res, 400, "invalid_dpop_proof").await;
    let res = with_proof(post(), &key, "POST", "/auth/refresh", None)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "the refusals spent nothing");
    let r: Value = res.json().await.unwrap();
    assert_eq!(r["token_type"], "DPoP");
    assert_eq!(
        claims_of(s(&r, "access_token"))["cnf"]["jkt"],
        key.jkt(),
        "bound for life"
    );

    // Logout needs no proof.
    let res = srv
        .client
        .post(srv.url("/auth/logout"))
        .header("authorization", format!("DPoP {}", s(&r, "access_token")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    let after = key.proof("GET", &url, Some(s(&r, "access_token")), None);
    problem(
        me(
            &srv,
            &format!("DPoP {}", s(&r, "access_token")),
            Some(after),
        )
        .await,
        401,
        "session_revoked",
    )
    .await;
}

#[tokio::test]
async fn unbound_sessions_stay_bearer_and_bad_proofs_at_login_are_400() {
    let srv = start("").await;
    let t = srv.register("plain@example.com").await;
    assert_eq!(t["token_type"], "Bearer");
    let access = s(&t, "access_token").to_owned();
    assert!(claims_of(&access).get("cnf").is_none());
    // The DPoP scheme with an unbound token: refused.
    let key = DpopKey::new();
    let proof = key.proof("GET", &format!("{ISSUER}/auth/me"), Some(&access), None);
    dpop_problem(
        me(&srv, &format!("DPoP {access}"), Some(proof)).await,
        401,
        "invalid_dpop_proof",
    )
    .await;
    // A bad proof at login: 400, no session.
    let req = srv
        .client
        .post(srv.url("/auth/login"))
        .json(&json!({"email": "plain@example.com", "password": PASSWORD}));
    let wrong_url = key.proof("POST", &format!("{ISSUER}/auth/register"), None, None);
    let res = req
        .try_clone()
        .unwrap()
        .header("dpop", wrong_url)
        .send()
        .await
        .unwrap();
    dpop_problem(res, 400, "invalid_dpop_proof").await;
    let res = req.header("dpop", "not.a.proof").send().await.unwrap();
    dpop_problem(res, 400, "invalid_dpop_proof").await;
    // An app session bound by the app.
    let uid = s(&t["user"], "id").to_owned();
    let res = srv
        .client
        .post(srv.url("/admin/sessions"))
        .header("x-api-key", ADMIN_KEY)
        .json(&json!({"user_id": uid, "dpop_jkt": key.jkt()}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let app: Value = res.json().await.unwrap();
    assert_eq!(app["token_type"], "DPoP");
    assert_eq!(claims_of(s(&app, "access_token"))["cnf"]["jkt"], key.jkt());
    let res = srv
        .client
        .post(srv.url("/admin/sessions"))
        .header("x-api-key", ADMIN_KEY)
        .json(&json!({"user_id": uid, "dpop_jkt": "short"}))
        .send()
        .await
        .unwrap();
    problem(res, 400, "invalid_request").await;
}

#[tokio::test]
async fn required_mode_refuses_logins_without_a_proof() {
    let srv = start("[dpop]\nrequired = true\n").await;
    let res = srv
        .post(
            "/auth/register",
            json!({"email": "req@example.com", "password": PASSWORD}),
        )
        .await;
    problem(res, 400, "dpop_required").await;
    let key = DpopKey::new();
    let req = srv
        .client
        .post(srv.url("/auth/register"))
        .json(&json!({"email": "req@example.com", "password": PASSWORD}));
    let res = with_proof(req, &key, "POST", "/auth/register", None)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    problem(srv.try_login("req@example.com").await, 400, "dpop_required").await;
    assert_eq!(
        login_bound(&srv, &key, "req@example.com").await.status(),
        200
    );
}

#[tokio::test]
async fn nonce_mode_hands_out_nonces_and_wants_them_back() {
    let srv = start("[dpop]\nnonce = true\n").await;
    srv.register("nonce@example.com").await;
    let key = DpopKey::new();
    let res = login_bound(&srv, &key, "nonce@example.com").await;
    let nonce = res.headers()["dpop-nonce"].to_str().unwrap().to_owned();
    dpop_problem(res, 400, "use_dpop_nonce").await;
    let stale = key.proof(
        "POST",
        &format!("{ISSUER}/auth/login"),
        None,
        Some("not-a-nonce"),
    );
    let body = json!({"email": "nonce@example.com", "password": PASSWORD});
    let res = srv
        .client
        .post(srv.url("/auth/login"))
        .json(&body)
        .header("dpop", stale)
        .send()
        .await
        .unwrap();
    problem(res, 400, "use_dpop_nonce").await;
    let fresh = key.proof("POST", &format!("{ISSUER}/auth/login"), None, Some(&nonce));
    let res = srv
        .client
        .post(srv.url("/auth/login"))
        .json(&body)
        .header("dpop", fresh)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(
        res.headers().contains_key("dpop-nonce"),
        "every answer to a DPoP request"
    );
    // Requests without a proof get no nonce.
    let plain = srv.client.get(srv.url("/healthz")).send().await.unwrap();
    assert!(!plain.headers().contains_key("dpop-nonce"));
}

/// Two nodes on PostgreSQL and Redis: a nonce from one is good at the other, and a proof's jti
/// spent on one is refused by the other.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_two_nodes_nonces_travel_and_replays_are_caught() {
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
        ("TESSERA_DPOP__NONCE", "true"),
        SLOW_POLL,
    ];
    let (a, b) = (
        Node::spawn(dir.path(), "a", &env),
        Node::spawn(dir.path(), "b", &env),
    );
    let c = reqwest::Client::new();
    a.ready(&c).await;
    b.ready(&c).await;
    // Node processes share the issuer http://cluster.test: proofs name it.
    let url = "http://cluster.test/auth/login";
    let email = format!("dpop-{}@example.com", uuid::Uuid::new_v4().simple());
    let key = DpopKey::new();
    let body = json!({"email": email, "password": PASSWORD});
    let first = key.proof("POST", "http://cluster.test/auth/register", None, None);
    let res = c
        .request(Method::POST, a.url("/auth/register"))
        .json(&body)
        .header("dpop", first)
        .send()
        .await
        .unwrap();
    let nonce = res.headers()["dpop-nonce"].to_str().unwrap().to_owned();
    problem(res, 400, "use_dpop_nonce").await;
    let with_nonce = key.proof(
        "POST",
        "http://cluster.test/auth/register",
        None,
        Some(&nonce),
    );
    let res = c
        .post(b.url("/auth/register"))
        .json(&body)
        .header("dpop", with_nonce)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201, "node b takes node a's nonce");
    let once = key.proof("POST", url, None, Some(&nonce));
    let res = c
        .post(a.url("/auth/login"))
        .json(&body)
        .header("dpop", once.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let res = c
        .post(b.url("/auth/login"))
        .json(&body)
        .header("dpop", once)
        .send()
        .await
        .unwrap();
    problem(res, 400, "invalid_dpop_proof").await;
    drop(db);
}

/// The example resource server (tessera-axum) checks proofs for bound tokens with the same code
/// as Tessera: `htu` is its public URL; Bearer use, a missing, replayed or foreign proof: 401.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_resource_server_takes_a_bound_token_only_with_its_proof() {
    let srv = start(&format!("resource_server_keys = [\"{RESOURCE_KEY}\"]\n")).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let public = format!("http://{}", listener.local_addr().unwrap());
    let t = example::tessera(
        &srv.base,
        RESOURCE_KEY,
        Some(ISSUER.into()),
        vec![],
        std::time::Duration::from_secs(60),
        &public,
    )
    .unwrap();
    let api = Api::start_on(listener, t);
    api.ready().await;
    let key = DpopKey::new();
    srv.register("rs-dpop@example.com").await;
    let t: Value = login_bound(&srv, &key, "rs-dpop@example.com")
        .await
        .json()
        .await
        .unwrap();
    let access = s(&t, "access_token").to_owned();
    let url = format!("{public}/hello");
    let hello = |auth: String, proof: Option<String>| {
        let mut req = api.client.get(&url).header("authorization", auth);
        if let Some(p) = proof {
            req = req.header("dpop", p);
        }
        req.send()
    };
    rs_refused(
        false,
        hello(format!("Bearer {access}"), None).await.unwrap(),
        401,
        "invalid_token",
    )
    .await;
    let dpop = format!("DPoP {access}");
    rs_refused(
        true,
        hello(dpop.clone(), None).await.unwrap(),
        401,
        "invalid_dpop_proof",
    )
    .await;
    let foreign = DpopKey::new().proof("GET", &url, Some(&access), None);
    rs_refused(
        true,
        hello(dpop.clone(), Some(foreign)).await.unwrap(),
        401,
        "invalid_dpop_proof",
    )
    .await;
    let wrong_host = key.proof("GET", &format!("{ISSUER}/hello"), Some(&access), None);
    rs_refused(
        true,
        hello(dpop.clone(), Some(wrong_host)).await.unwrap(),
        401,
        "invalid_dpop_proof",
    )
    .await;
    let good = key.proof("GET", &url, Some(&access), None);
    let res = hello(dpop.clone(), Some(good.clone())).await.unwrap();
    assert_eq!(res.status(), 200);
    rs_refused(
        true,
        hello(dpop, Some(good)).await.unwrap(),
        401,
        "invalid_dpop_proof",
    )
    .await;
    // An unbound token with the DPoP scheme: refused; as Bearer: fine.
    let plain = srv.register("rs-dpop-plain@example.com").await;
    let plain = s(&plain, "access_token").to_owned();
    let proof = key.proof("GET", &url, Some(&plain), None);
    rs_refused(
        true,
        hello(format!("DPoP {plain}"), Some(proof)).await.unwrap(),
        401,
        "invalid_dpop_proof",
    )
    .await;
    assert_eq!(
        hello(format!("Bearer {plain}"), None)
            .await
            .unwrap()
            .status(),
        200
    );
}

/// A refusal of the example resource server: its status, code and challenge scheme.
async fn rs_refused(dpop: bool, res: Response, status: u16, code: &str) {
    assert_eq!(res.status(), status);
    let challenge = res.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        challenge.starts_with(if dpop { "DPoP " } else { "Bearer " }),
        "{challenge}"
    );
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["code"], code, "{body}");
}
