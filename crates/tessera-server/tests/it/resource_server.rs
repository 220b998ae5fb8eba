//! `tessera-axum` and its example resource server against the real `tessera` binary, over real
//! sockets (issue 12): tokens accepted; forgeries, expired, wrong-issuer and wrong-audience
//! tokens refused; every kind of revocation refused at the resource server within 1 s, through
//! the stream (the resource server polls only when its stream breaks); the stream dropped and
//! resumed with nothing lost, across a crash and restart of Tessera; a key rotation honoured;
//! and the documented policy while Tessera is unreachable.

use crate::example;

use std::time::{Duration, Instant};

use crate::tessera_process::*;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::Method;
use serde_json::{Value, json};
use tessera_axum::{Builder, Tessera};

/// A running resource server: the example's routes on 127.0.0.1:0.
pub(crate) struct Api {
    pub base: String,
    pub tessera: Tessera,
    pub client: reqwest::Client,
}

impl Api {
    pub(crate) async fn start(tessera: Tessera) -> Api {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        Self::start_on(listener, tessera)
    }

    /// On a listener bound already (its address being the public URL DPoP proofs name).
    pub(crate) fn start_on(listener: tokio::net::TcpListener, tessera: Tessera) -> Api {
        let addr = listener.local_addr().unwrap();
        let app = example::app(tessera.clone());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Api {
            base: format!("http://{addr}"),
            tessera,
            client: reqwest::Client::new(),
        }
    }

    /// The example exactly as its command line builds it.
    pub(crate) async fn example(tessera_url: &str) -> Api {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let public_url = format!("http://{}", listener.local_addr().unwrap());
        let t = example::tessera(
            tessera_url,
            RESOURCE_KEY,
            None,
            vec![],
            Duration::from_secs(60),
            &public_url,
        )
        .unwrap();
        let api = Api::start_on(listener, t);
        api.ready().await;
        api
    }

    pub(crate) async fn tuned(tessera_url: &str, tune: impl FnOnce(Builder) -> Builder) -> Api {
        let t = tune(Tessera::builder(tessera_url, RESOURCE_KEY))
            .start()
            .unwrap();
        Api::start(t).await
    }

    pub(crate) async fn ready(&self) {
        tokio::time::timeout(Duration::from_secs(10), self.tessera.ready())
            .await
            .expect("the resource server loads keys and revocations");
    }

    pub(crate) async fn get(&self, path: &str, token: Option<&str>) -> reqwest::Response {
        let mut req = self.client.get(format!("{}{path}", self.base));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        req.send().await.unwrap()
    }

    pub(crate) async fn hello(&self, token: &str) -> reqwest::Response {
        self.get("/hello", Some(token)).await
    }

    /// Polls `/hello` until it answers `session_revoked`; how long that took.
    pub(crate) async fn time_until_revoked(&self, token: &str) -> Duration {
        let started = Instant::now();
        loop {
            let res = self.hello(token).await;
            if res.status() == 401 {
                let body: Value = res.json().await.unwrap();
                assert_eq!(body["code"], "session_revoked", "{body}");
                return started.elapsed();
            }
            assert_eq!(res.status(), 200);
            assert!(
                started.elapsed() < Duration::from_secs(5),
                "the revocation never reached the resource server"
            );
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }
}

pub(crate) fn s<'a>(v: &'a Value, k: &str) -> &'a str {
    v[k].as_str()
        .unwrap_or_else(|| panic!("{k} missing in {v}"))
}

/// Asserts a problem+json refusal with `code` and a Bearer challenge; returns the challenge.
pub(crate) async fn refused(res: reqwest::Response, status: u16, code: &str) -> String {
    assert_eq!(res.status().as_u16(), status, "status for {code}");
    assert_eq!(
        res.headers()["content-type"],
        "application/problem+json",
        "{code}"
    );
    let challenge = res
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["code"], code, "{body}");
    assert_eq!(body["status"], status);
    challenge
}

pub(crate) fn claims_of(token: &str) -> Value {
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

/// The token with its payload replaced (the signature no longer covers it).
fn with_claims(token: &str, claims: &Value) -> String {
    let parts: Vec<&str> = token.split('.').collect();
    let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims).unwrap());
    format!("{}.{payload}.{}", parts[0], parts[2])
}

#[tokio::test]
async fn the_example_accepts_tokens_and_refuses_forgeries() {
    let t = TesseraProcess::start("", "").await;
    let api = Api::example(&t.base()).await;
    let health = api.get("/healthz", None).await;
    assert_eq!(health.status(), 200);

    let reg = t.register("ada@example.com").await;
    let token = s(&reg, "access_token");
    let res = api.hello(token).await;
    assert_eq!(
        res.status(),
        200,
        "{:?} {}",
        claims_of(token),
        res.text().await.unwrap()
    );
    let res = api.hello(token).await;
    let body: Value = res.json().await.unwrap();
    let claims = claims_of(token);
    assert_eq!(body["sub"], claims["sub"]);
    assert_eq!(body["sid"], claims["sid"]);
    assert_eq!(body["roles"], json!([]));
    assert_eq!(body["perms"], json!([]));
    // A reused token is served from the cache: still the same answer.
    assert_eq!(api.hello(token).await.status(), 200);

    // No credential, another scheme, garbage.
    let challenge = refused(api.get("/hello", None).await, 401, "missing_token").await;
    assert!(challenge.starts_with("Bearer "), "{challenge}");
    let basic = api
        .client
        .get(format!("{}/hello", api.base))
        .header("authorization", "Basic YWRhOnB3")
        .send()
        .await
        .unwrap();
    refused(basic, 401, "missing_token").await;
    refused(api.hello("not-a-token").await, 401, "invalid_token").await;

    // Altered: a claim changed under the same signature.
    let mut altered = claims.clone();
    altered["roles"] = json!(["admin"]);
    altered["perms"] = json!(["admin"]);
    refused(
        api.get("/admin-only", Some(&with_claims(token, &altered)))
            .await,
        401,
        "invalid_token",
    )
    .await;
    // Forged: signed with a key of our own under Tessera's kid.
    let header: Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(token.split('.').next().unwrap())
            .unwrap(),
    )
    .unwrap();
    let forger = tessera_token::SigningKey::generate(tessera_token::Algorithm::EdDSA).unwrap();
    let forged = tessera_token::sign(&serde_json::from_value(claims.clone()).unwrap(), &forger);
    let forged_parts: Vec<&str> = forged.split('.').collect();
    let forged_under_kid = format!(
        "{}.{}.{}",
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(&header).unwrap()),
        forged_parts[1],
        forged_parts[2]
    );
    refused(api.hello(&forged_under_kid).await, 401, "invalid_token").await;
    // A kid Tessera never had: refused (after one JWKS fetch), and no 5xx.
    refused(api.hello(&forged).await, 401, "invalid_token").await;
    // alg none.
    let none = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"at+jwt"}"#),
        token.split('.').nth(1).unwrap()
    );
    refused(api.hello(&none).await, 401, "invalid_token").await;

    // Role and permission guards: 403 with insufficient_scope.
    let challenge = refused(
        api.get("/admin-only", Some(token)).await,
        403,
        "insufficient_scope",
    )
    .await;
    assert!(
        challenge.contains("error=\"insufficient_scope\""),
        "{challenge}"
    );
    let res = t
        .admin(
            Method::PUT,
            "/admin/roles/boss",
            json!({"permissions": ["admin"]}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let res = t
        .admin(
            Method::PUT,
            &format!("/admin/users/{}/roles", claims["sub"].as_str().unwrap()),
            json!({"roles": ["boss"]}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let boss = t.login("ada@example.com").await;
    assert_eq!(
        api.get("/admin-only", Some(s(&boss, "access_token")))
            .await
            .status(),
        200
    );
    // A fresh login is a recent authentication.
    assert_eq!(api.get("/recent", Some(token)).await.status(), 200);
}

#[tokio::test]
async fn wrong_issuer_wrong_audience_and_expired_tokens_are_refused() {
    let t = TesseraProcess::start("audience = [\"orders\"]", "[tokens]\naccess_ttl = \"1s\"").await;
    let token = s(&t.register("bob@example.com").await, "access_token").to_owned();

    let right = Api::tuned(&t.base(), |b| b.audience("orders").leeway(Duration::ZERO)).await;
    right.ready().await;
    assert_eq!(right.hello(&token).await.status(), 200);

    let other_audience = Api::tuned(&t.base(), |b| b.audience("billing")).await;
    other_audience.ready().await;
    refused(other_audience.hello(&token).await, 401, "invalid_token").await;
    let no_audience = Api::tuned(&t.base(), |b| b).await;
    no_audience.ready().await;
    refused(no_audience.hello(&token).await, 401, "invalid_token").await;
    let other_issuer = Api::tuned(&t.base(), |b| {
        b.audience("orders").issuer("http://elsewhere")
    })
    .await;
    other_issuer.ready().await;
    refused(other_issuer.hello(&token).await, 401, "invalid_token").await;

    // Past exp (1 s lifetime, no leeway): token_expired, even though it was cached as valid.
    tokio::time::sleep(Duration::from_millis(2100)).await;
    refused(right.hello(&token).await, 401, "token_expired").await;
}

#[tokio::test]
async fn a_stale_authentication_needs_step_up() {
    // Tessera's clock 400 s behind: its tokens say they were issued 400 s ago (and are still
    // valid for 500 s), so the last authentication is older than /recent's 300 s.
    let t = TesseraProcess::start_with_env("", "", &[("TESSERA_TEST_CLOCK_OFFSET", "-400s")]).await;
    let api = Api::example(&t.base()).await;
    let token = s(&t.register("cy@example.com").await, "access_token").to_owned();
    assert_eq!(api.hello(&token).await.status(), 200);
    let challenge = refused(
        api.get("/recent", Some(&token)).await,
        401,
        "insufficient_user_authentication",
    )
    .await;
    assert!(
        challenge.contains("error=\"insufficient_user_authentication\"")
            && challenge.contains("max_age=300"),
        "{challenge}"
    );
}

/// The step-up guard reads `auth_time`, which a refresh does not move (unlike `iat`), and
/// `POST /auth/reauthenticate` moves it (issue 15).
#[tokio::test]
async fn the_step_up_guard_reads_auth_time_and_reauthentication_satisfies_it() {
    // Signed in 400 s ago (Tessera's clock behind), then a refresh now (the clock put right).
    let mut t =
        TesseraProcess::start_with_env("", "", &[("TESSERA_TEST_CLOCK_OFFSET", "-400s")]).await;
    let first = t.register("stepup@example.com").await;
    t.kill();
    t.clear_env();
    t.run().await;
    let api = Api::example(&t.base()).await;
    let refreshed: Value = t
        .post(
            "/auth/refresh",
            json!({"refresh_token": s(&first, "refresh_token")}),
        )
        .await
        .json()
        .await
        .unwrap();
    let token = s(&refreshed, "access_token").to_owned();
    assert_eq!(api.hello(&token).await.status(), 200);
    // Issued just now, but the authentication is 400 s old: step-up is needed.
    refused(
        api.get("/recent", Some(&token)).await,
        401,
        "insufficient_user_authentication",
    )
    .await;
    let res = t
        .client
        .post(t.url("/auth/reauthenticate"))
        .bearer_auth(&token)
        .json(&json!({"password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let stepped: Value = res.json().await.unwrap();
    assert_eq!(
        api.get("/recent", Some(s(&stepped, "access_token")))
            .await
            .status(),
        200
    );
}

/// Each kind of revocation, made on Tessera, answered `session_revoked` by the resource server
/// within 1 s. The resource server reads the feed by polling only after its stream breaks, so
/// the test also checks that the stream never broke: the stream alone carried them.
#[tokio::test]
async fn every_kind_of_revocation_reaches_the_resource_server_within_a_second() {
    let t = TesseraProcess::start("", "[tokens]\nreuse_grace = \"0\"").await;
    let api = Api::example(&t.base()).await;
    let mut timings = Vec::new();
    let bound = Duration::from_secs(1);

    // Logout.
    let a = t.register("logout@example.com").await;
    assert_eq!(api.hello(s(&a, "access_token")).await.status(), 200);
    let res = t
        .client
        .post(t.url("/auth/logout"))
        .bearer_auth(s(&a, "access_token"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    timings.push((
        "logout",
        api.time_until_revoked(s(&a, "access_token")).await,
    ));

    // One session revoked from another.
    let b1 = t.register("one@example.com").await;
    let b2 = t.login("one@example.com").await;
    let sid = claims_of(s(&b1, "access_token"))["sid"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(api.hello(s(&b1, "access_token")).await.status(), 200);
    let res = t
        .client
        .delete(t.url(&format!("/auth/sessions/{sid}")))
        .bearer_auth(s(&b2, "access_token"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    timings.push((
        "revoke one",
        api.time_until_revoked(s(&b1, "access_token")).await,
    ));
    assert_eq!(
        api.hello(s(&b2, "access_token")).await.status(),
        200,
        "only that one"
    );

    // All of a user's sessions.
    let c1 = t.register("all@example.com").await;
    let c2 = t.login("all@example.com").await;
    assert_eq!(api.hello(s(&c1, "access_token")).await.status(), 200);
    let res = t
        .client
        .delete(t.url("/auth/sessions"))
        .bearer_auth(s(&c2, "access_token"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    timings.push((
        "revoke all of mine",
        api.time_until_revoked(s(&c1, "access_token")).await,
    ));
    api.time_until_revoked(s(&c2, "access_token")).await;

    // Ban.
    let d = t.register("ban@example.com").await;
    let uid = claims_of(s(&d, "access_token"))["sub"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(api.hello(s(&d, "access_token")).await.status(), 200);
    let res = t
        .admin(Method::POST, &format!("/admin/users/{uid}/ban"), json!({}))
        .await;
    assert_eq!(res.status(), 200);
    timings.push(("ban", api.time_until_revoked(s(&d, "access_token")).await));

    // Reuse detection: a rotated refresh token comes back.
    let e = t.register("reuse@example.com").await;
    let res = t
        .post(
            "/auth/refresh",
            json!({"refresh_token": s(&e, "refresh_token")}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let rotated: Value = res.json().await.unwrap();
    assert_eq!(api.hello(s(&rotated, "access_token")).await.status(), 200);
    let res = t
        .post(
            "/auth/refresh",
            json!({"refresh_token": s(&e, "refresh_token")}),
        )
        .await;
    assert_eq!(res.status(), 401);
    timings.push((
        "reuse detected",
        api.time_until_revoked(s(&rotated, "access_token")).await,
    ));

    // A user in one namespace, then a namespace.
    let f = t.register("ns@example.com").await;
    let f_web = t.login_in("ns@example.com", Some("web")).await;
    let fid = claims_of(s(&f, "access_token"))["sub"]
        .as_str()
        .unwrap()
        .to_owned();
    let res = t
        .admin(
            Method::POST,
            "/admin/sessions/revoke",
            json!({"user_id": fid, "namespace": "web"}),
        )
        .await;
    assert_eq!(res.status(), 200);
    timings.push((
        "user in a namespace",
        api.time_until_revoked(s(&f_web, "access_token")).await,
    ));
    assert_eq!(
        api.hello(s(&f, "access_token")).await.status(),
        200,
        "other namespace kept"
    );
    let g = t.register("ns2@example.com").await;
    let g_mobile = t.login_in("ns2@example.com", Some("mobile")).await;
    let res = t
        .admin(
            Method::POST,
            "/admin/sessions/revoke",
            json!({"namespace": "mobile"}),
        )
        .await;
    assert_eq!(res.status(), 200);
    timings.push((
        "namespace",
        api.time_until_revoked(s(&g_mobile, "access_token")).await,
    ));
    assert_eq!(api.hello(s(&g, "access_token")).await.status(), 200);

    // A deleted user.
    let h = t.register("gone@example.com").await;
    let hid = claims_of(s(&h, "access_token"))["sub"]
        .as_str()
        .unwrap()
        .to_owned();
    let res = t
        .admin(Method::DELETE, &format!("/admin/users/{hid}"), json!({}))
        .await;
    assert_eq!(res.status(), 204);
    timings.push((
        "user deleted",
        api.time_until_revoked(s(&h, "access_token")).await,
    ));

    // Everything.
    let res = t
        .admin(Method::POST, "/admin/sessions/revoke", json!({"all": true}))
        .await;
    assert_eq!(res.status(), 200);
    timings.push(("all", api.time_until_revoked(s(&g, "access_token")).await));
    api.time_until_revoked(s(&f, "access_token")).await;

    eprintln!("revocation reached the resource server after: {timings:?}");
    for (kind, took) in &timings {
        assert!(*took < bound, "{kind}: {took:?}");
    }
    assert_eq!(
        api.tessera.status().feed_reconnects,
        0,
        "the stream carried every revocation (no poll after a break)"
    );
}

#[tokio::test]
async fn optional_auth_role_guards_and_a_forgotten_layer() {
    use axum::Router;
    use axum::routing::get;
    use tessera_axum::{Auth, Require};

    let t = TesseraProcess::start("", "").await;
    let tessera = Tessera::builder(&t.base(), RESOURCE_KEY).start().unwrap();
    let app = Router::new()
        .route(
            "/maybe",
            get(|auth: Option<Auth>| async move {
                auth.map_or("anonymous".to_owned(), |a| a.sub.clone())
            }),
        )
        .route(
            "/editors",
            get(|| async { "ok" }).route_layer(Require::role("editor")),
        )
        .route("/any", get(|| async { "ok" }).route_layer(Require::token()))
        .layer(tessera.layer())
        // Outside the layer: a programming error, answered 500, never a pass.
        .route("/unlayered", get(|_: Auth| async { "served" }));
    let api = Api {
        base: String::new(),
        tessera: tessera.clone(),
        client: reqwest::Client::new(),
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let api = Api { base, ..api };
    api.ready().await;

    let reg = t.register("opt@example.com").await;
    let token = s(&reg, "access_token");
    let sub = claims_of(token)["sub"].as_str().unwrap().to_owned();
    let text = |res: reqwest::Response| async move {
        assert_eq!(res.status(), 200);
        res.text().await.unwrap()
    };
    assert_eq!(text(api.get("/maybe", None).await).await, "anonymous");
    assert_eq!(text(api.get("/maybe", Some(token)).await).await, sub);
    // A token that is present but bad is refused, not served as anonymous.
    refused(
        api.get("/maybe", Some("garbage")).await,
        401,
        "invalid_token",
    )
    .await;
    refused(api.get("/any", None).await, 401, "missing_token").await;
    assert_eq!(api.get("/any", Some(token)).await.status(), 200);
    refused(
        api.get("/editors", Some(token)).await,
        403,
        "insufficient_scope",
    )
    .await;
    let res = t
        .admin(
            Method::PUT,
            "/admin/roles/editor",
            json!({"permissions": []}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let res = t
        .admin(
            Method::PUT,
            &format!("/admin/users/{sub}/roles"),
            json!({"roles": ["editor"]}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let editor = t.login("opt@example.com").await;
    assert_eq!(
        api.get("/editors", Some(s(&editor, "access_token")))
            .await
            .status(),
        200
    );
    let res = api.get("/unlayered", Some(token)).await;
    assert_eq!(res.status(), 500);
    assert_ne!(res.text().await.unwrap(), "served");
    // Nothing the verifier shows names the key.
    assert!(!format!("{tessera:?}").contains(RESOURCE_KEY));
    assert!(!format!("{:?}", Tessera::builder(&t.base(), RESOURCE_KEY)).contains(RESOURCE_KEY));
}
