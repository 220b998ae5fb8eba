//! The admin API (API.md §5) over HTTP.

use crate::common::*;
use reqwest::Method;
use serde_json::{Value, json};

pub(crate) async fn admin(
    srv: &TestServer,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> reqwest::Response {
    let mut req = srv
        .client
        .request(method, srv.url(path))
        .header("x-api-key", ADMIN_KEY);
    if let Some(b) = body {
        req = req.json(&b);
    }
    req.send().await.unwrap()
}

pub(crate) async fn ok_json(res: reqwest::Response, status: u16) -> Value {
    assert_eq!(res.status().as_u16(), status);
    res.json().await.unwrap()
}

async fn claims(token: &str) -> Value {
    use base64::Engine as _;
    let p = token.split('.').nth(1).unwrap();
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(p)
            .unwrap(),
    )
    .unwrap()
}

#[tokio::test]
async fn every_admin_route_needs_the_key() {
    let srv = start("").await;
    let uid = uuid::Uuid::now_v7();
    let routes = [
        (Method::POST, "/admin/users".to_string()),
        (Method::GET, "/admin/users".into()),
        (Method::GET, format!("/admin/users/{uid}")),
        (Method::DELETE, format!("/admin/users/{uid}")),
        (Method::PUT, format!("/admin/users/{uid}/roles")),
        (Method::POST, format!("/admin/users/{uid}/ban")),
        (Method::POST, format!("/admin/users/{uid}/unban")),
        (Method::GET, format!("/admin/users/{uid}/sessions")),
        (Method::DELETE, format!("/admin/users/{uid}/sessions")),
        (Method::DELETE, format!("/admin/sessions/{uid}")),
        (Method::POST, "/admin/sessions/revoke".into()),
        (Method::GET, "/admin/roles".into()),
        (Method::PUT, "/admin/roles/x".into()),
        (Method::DELETE, "/admin/roles/x".into()),
        (Method::GET, "/admin/keys".into()),
        (Method::POST, "/admin/keys/rotate".into()),
        (Method::GET, "/admin/events".into()),
    ];
    for (method, path) in &routes {
        for key in [None, Some("wrong-key-0123456789"), Some("")] {
            let mut req = srv
                .client
                .request(method.clone(), srv.url(path))
                .json(&json!({"all": true}));
            if let Some(k) = key {
                req = req.header("x-api-key", k);
            }
            problem(req.send().await.unwrap(), 401, "unauthorized").await;
        }
    }
    // A user's access token is not an admin key.
    let a = srv.register("notadmin@example.com").await;
    let res = srv
        .client
        .get(srv.url("/admin/users"))
        .bearer_auth(s(&a, "access_token"))
        .send()
        .await
        .unwrap();
    problem(res, 401, "unauthorized").await;
}

/// A resource-server key (API.md §5 `R`) reads introspection and nothing else: every admin route
/// of the route table, and /metrics, answer it 401 `unauthorized`.
#[tokio::test]
async fn a_resource_server_key_introspects_and_nothing_else() {
    let srv = start(&format!("resource_server_keys = [\"{RESOURCE_KEY}\"]")).await;
    let a = srv.register("resource@example.com").await;
    let introspect = |key: &'static str| {
        srv.client
            .post(srv.url("/auth/introspect"))
            .header("x-api-key", key)
            .json(&json!({"token": s(&a, "access_token")}))
            .send()
    };
    let res = ok_json(introspect(RESOURCE_KEY).await.unwrap(), 200).await;
    assert_eq!(res["active"], true);
    assert_eq!(res["sub"], a["user"]["id"]);
    let uid = uuid::Uuid::now_v7().to_string();
    let admin_routes: Vec<_> = tessera_server::routes::endpoints()
        .into_iter()
        .filter(|e| e.auth == tessera_server::routes::Auth::AdminKey)
        .collect();
    assert!(admin_routes.len() >= 17, "the table lists the admin routes");
    for e in &admin_routes {
        let path = e.path.replace("{id}", &uid).replace("{name}", "x");
        let res = srv
            .client
            .request(
                Method::from_bytes(e.method.as_str().as_bytes()).unwrap(),
                srv.url(&path),
            )
            .header("x-api-key", RESOURCE_KEY)
            .json(&json!({"all": true}))
            .send()
            .await
            .unwrap();
        problem(res, 401, "unauthorized").await;
    }
    for res in [
        srv.client
            .get(srv.url("/metrics"))
            .header("x-api-key", RESOURCE_KEY)
            .send()
            .await
            .unwrap(),
        srv.client
            .get(srv.url("/metrics"))
            .bearer_auth(RESOURCE_KEY)
            .send()
            .await
            .unwrap(),
    ] {
        problem(res, 401, "unauthorized").await;
    }
    // The admin key still introspects; a made-up key does not.
    assert_eq!(introspect(ADMIN_KEY).await.unwrap().status(), 200);
    problem(
        introspect("made-up-key-0123456789").await.unwrap(),
        401,
        "unauthorized",
    )
    .await;
}

#[tokio::test]
async fn users_are_created_found_and_deleted_with_their_sessions() {
    let srv = start("").await;
    let created = ok_json(
        admin(
            &srv,
            Method::POST,
            "/admin/users",
            Some(json!({"email": " Op@Example.com", "password": PASSWORD})),
        )
        .await,
        201,
    )
    .await;
    assert_eq!(created["email"], "op@example.com");
    for key in ["id", "roles", "banned", "created_at", "password_changed_at"] {
        assert!(!created[key].is_null(), "{key}");
    }
    assert!(created.get("password_hash").is_none());
    let dup = admin(
        &srv,
        Method::POST,
        "/admin/users",
        Some(json!({"email": "op@example.com", "password": PASSWORD})),
    )
    .await;
    problem(dup, 409, "email_taken").await;
    let weak = admin(
        &srv,
        Method::POST,
        "/admin/users",
        Some(json!({"email": "w@example.com", "password": "password"})),
    )
    .await;
    problem(weak, 422, "weak_password").await;
    for email in ["a,b@example.com", "a<b@example.com>", "\"q\"@example.com"] {
        let res = admin(
            &srv,
            Method::POST,
            "/admin/users",
            Some(json!({"email": email, "password": PASSWORD})),
        )
        .await;
        problem(res, 422, "invalid_email").await;
    }
    let id = s(&created, "id").to_owned();
    let found = ok_json(
        admin(&srv, Method::GET, "/admin/users?email=OP@example.com", None).await,
        200,
    )
    .await;
    assert_eq!(found["users"][0]["id"], created["id"]);
    let none = ok_json(
        admin(
            &srv,
            Method::GET,
            "/admin/users?email=nobody@example.com",
            None,
        )
        .await,
        200,
    )
    .await;
    assert_eq!(none, json!({"users": []}));
    let all = ok_json(
        admin(&srv, Method::GET, "/admin/users?limit=10", None).await,
        200,
    )
    .await;
    assert_eq!(all["users"].as_array().unwrap().len(), 1);
    assert_eq!(
        ok_json(
            admin(&srv, Method::GET, &format!("/admin/users/{id}"), None).await,
            200
        )
        .await,
        created
    );

    let session = srv.login("op@example.com").await;
    assert_eq!(
        admin(&srv, Method::DELETE, &format!("/admin/users/{id}"), None)
            .await
            .status(),
        204
    );
    problem(
        srv.me(s(&session, "access_token")).await,
        401,
        "session_revoked",
    )
    .await;
    problem(
        srv.refresh(s(&session, "refresh_token")).await,
        401,
        "invalid_refresh_token",
    )
    .await;
    for (m, p) in [
        (Method::GET, format!("/admin/users/{id}")),
        (Method::DELETE, format!("/admin/users/{id}")),
        (Method::GET, "/admin/users/not-an-id".into()),
    ] {
        problem(admin(&srv, m, &p, None).await, 404, "not_found").await;
    }
    let res = srv
        .post(
            "/auth/login",
            json!({"email": "op@example.com", "password": PASSWORD}),
        )
        .await;
    problem(res, 401, "invalid_credentials").await;
}

#[tokio::test]
async fn roles_flow_into_new_tokens_and_deleting_a_role_removes_it() {
    let srv = start("").await;
    let a = srv.register("roles@example.com").await;
    let uid = a["user"]["id"].as_str().unwrap().to_owned();
    let res = admin(
        &srv,
        Method::PUT,
        &format!("/admin/users/{uid}/roles"),
        Some(json!({"roles": ["editor"]})),
    )
    .await;
    problem(res, 422, "unknown_role").await;
    let role = ok_json(
        admin(
            &srv,
            Method::PUT,
            "/admin/roles/editor",
            Some(json!({"permissions": ["posts:write", "posts:read"]})),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(
        role,
        json!({"name": "editor", "permissions": ["posts:read", "posts:write"]})
    );
    ok_json(
        admin(
            &srv,
            Method::PUT,
            "/admin/roles/viewer",
            Some(json!({"permissions": ["posts:read"]})),
        )
        .await,
        200,
    )
    .await;
    let listed = ok_json(admin(&srv, Method::GET, "/admin/roles", None).await, 200).await;
    assert_eq!(listed["roles"].as_array().unwrap().len(), 2);
    let bad = admin(
        &srv,
        Method::PUT,
        "/admin/roles/has space",
        Some(json!({"permissions": []})),
    )
    .await;
    assert_eq!(bad.status(), 400);
    let user = ok_json(
        admin(
            &srv,
            Method::PUT,
            &format!("/admin/users/{uid}/roles"),
            Some(json!({"roles": ["viewer", "editor"]})),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(user["roles"], json!(["editor", "viewer"]));
    // Login and refresh both carry roles and the union of their permissions.
    let login = srv.login("roles@example.com").await;
    let c = claims(s(&login, "access_token")).await;
    assert_eq!(c["roles"], json!(["editor", "viewer"]));
    assert_eq!(c["perms"], json!(["posts:read", "posts:write"]));
    assert_eq!(login["user"]["roles"], json!(["editor", "viewer"]));
    let refreshed: Value = srv
        .refresh(s(&a, "refresh_token"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        claims(s(&refreshed, "access_token")).await["perms"],
        json!(["posts:read", "posts:write"])
    );
    let intro: Value = srv
        .client
        .post(srv.url("/auth/introspect"))
        .header("x-api-key", ADMIN_KEY)
        .json(&json!({"token": login["access_token"]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(intro["perms"], json!(["posts:read", "posts:write"]));
    // Deleting a role removes it from users and from their next tokens.
    assert_eq!(
        admin(&srv, Method::DELETE, "/admin/roles/editor", None)
            .await
            .status(),
        204
    );
    problem(
        admin(&srv, Method::DELETE, "/admin/roles/editor", None).await,
        404,
        "not_found",
    )
    .await;
    let user = ok_json(
        admin(&srv, Method::GET, &format!("/admin/users/{uid}"), None).await,
        200,
    )
    .await;
    assert_eq!(user["roles"], json!(["viewer"]));
    let next: Value = srv
        .refresh(s(&login, "refresh_token"))
        .await
        .json()
        .await
        .unwrap();
    let c = claims(s(&next, "access_token")).await;
    assert_eq!(
        (c["roles"].clone(), c["perms"].clone()),
        (json!(["viewer"]), json!(["posts:read"]))
    );
}

#[tokio::test]
async fn a_ban_ends_every_session_and_refuses_the_right_password() {
    let srv = start("").await;
    let a = srv.register("ban@example.com").await;
    let b = srv.login("ban@example.com").await;
    let uid = a["user"]["id"].as_str().unwrap().to_owned();
    let banned = ok_json(
        admin(
            &srv,
            Method::POST,
            &format!("/admin/users/{uid}/ban"),
            Some(json!({"reason": "abuse"})),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(banned["banned"], true);
    for t in [&a, &b] {
        problem(srv.me(s(t, "access_token")).await, 401, "session_revoked").await;
    }
    problem(
        srv.refresh(s(&b, "refresh_token")).await,
        401,
        "session_revoked",
    )
    .await;
    let right = srv
        .post(
            "/auth/login",
            json!({"email": "ban@example.com", "password": PASSWORD}),
        )
        .await;
    problem(right, 403, "account_banned").await;
    let wrong = srv
        .post(
            "/auth/login",
            json!({"email": "ban@example.com", "password": "not the password at all"}),
        )
        .await;
    problem(wrong, 401, "invalid_credentials").await;
    let unbanned = ok_json(
        admin(
            &srv,
            Method::POST,
            &format!("/admin/users/{uid}/unban"),
            None,
        )
        .await,
        200,
    )
    .await;
    assert_eq!(unbanned["banned"], false);
    let again = srv.login("ban@example.com").await;
    assert_eq!(
        srv.me(s(&again, "access_token")).await.status(),
        200,
        "a new login right after works"
    );
    let events = ok_json(
        admin(
            &srv,
            Method::GET,
            &format!("/admin/events?user_id={uid}"),
            None,
        )
        .await,
        200,
    )
    .await;
    let types: Vec<&str> = events["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    for t in [
        "user.banned",
        "user.unbanned",
        "login.failed",
        "login.succeeded",
        "user.registered",
    ] {
        assert!(types.contains(&t), "{t} in {types:?}");
    }
}

#[tokio::test]
async fn a_users_sessions_are_listed_and_revoked() {
    let srv = start("").await;
    let a = srv.register("us@example.com").await;
    srv.login("us@example.com").await;
    let uid = a["user"]["id"].as_str().unwrap().to_owned();
    let list = ok_json(
        admin(
            &srv,
            Method::GET,
            &format!("/admin/users/{uid}/sessions"),
            None,
        )
        .await,
        200,
    )
    .await;
    let sessions = list["sessions"].as_array().unwrap();
    assert_eq!(sessions.len(), 2);
    assert!(
        sessions
            .iter()
            .all(|s| s["current"] == false && s["ip"] == "127.0.0.1")
    );
    // One session by id.
    let sid = s(&a, "session_id");
    assert_eq!(
        admin(
            &srv,
            Method::DELETE,
            &format!("/admin/sessions/{sid}"),
            None
        )
        .await
        .status(),
        204
    );
    problem(srv.me(s(&a, "access_token")).await, 401, "session_revoked").await;
    problem(
        admin(
            &srv,
            Method::DELETE,
            &format!("/admin/sessions/{sid}"),
            None,
        )
        .await,
        404,
        "not_found",
    )
    .await;
    // All of them.
    let res = ok_json(
        admin(
            &srv,
            Method::DELETE,
            &format!("/admin/users/{uid}/sessions"),
            None,
        )
        .await,
        200,
    )
    .await;
    assert_eq!(res, json!({"revoked": 1}));
    let list = ok_json(
        admin(
            &srv,
            Method::GET,
            &format!("/admin/users/{uid}/sessions"),
            None,
        )
        .await,
        200,
    )
    .await;
    assert_eq!(list["sessions"], json!([]));
    let missing = uuid::Uuid::now_v7();
    problem(
        admin(
            &srv,
            Method::GET,
            &format!("/admin/users/{missing}/sessions"),
            None,
        )
        .await,
        404,
        "not_found",
    )
    .await;
}

#[tokio::test]
async fn bulk_revocation_by_namespace_user_or_all() {
    let srv = start("").await;
    let login_ns = |email: &'static str, ns: &'static str| {
        let srv = &srv;
        async move {
            let res = srv
                .post(
                    "/auth/login",
                    json!({"email": email, "password": PASSWORD, "namespace": ns}),
                )
                .await;
            res.json::<Value>().await.unwrap()
        }
    };
    srv.register("n1@example.com").await;
    let u2 = srv.register("n2@example.com").await;
    let a1 = login_ns("n1@example.com", "a").await;
    let b1 = login_ns("n1@example.com", "b").await;
    let a2 = login_ns("n2@example.com", "a").await;
    let b2 = login_ns("n2@example.com", "b").await;
    let revoke = |body: Value| admin(&srv, Method::POST, "/admin/sessions/revoke", Some(body));
    assert_eq!(
        ok_json(revoke(json!({"namespace": "a"})).await, 200).await,
        json!({"revoked": 2})
    );
    for t in [&a1, &a2] {
        problem(srv.me(s(t, "access_token")).await, 401, "session_revoked").await;
    }
    assert_eq!(srv.me(s(&b1, "access_token")).await.status(), 200);
    // A login into the revoked namespace right away is not caught by the cutoff.
    let fresh = login_ns("n1@example.com", "a").await;
    assert_eq!(srv.me(s(&fresh, "access_token")).await.status(), 200);
    let uid2 = u2["user"]["id"].as_str().unwrap();
    let res = ok_json(
        revoke(json!({"user_id": uid2, "namespace": "b"})).await,
        200,
    )
    .await;
    assert_eq!(res, json!({"revoked": 1}));
    problem(srv.me(s(&b2, "access_token")).await, 401, "session_revoked").await;
    assert_eq!(
        srv.me(s(&u2, "access_token")).await.status(),
        200,
        "the user's default namespace lives"
    );
    let res = ok_json(revoke(json!({"all": true})).await, 200).await;
    assert!(res["revoked"].as_u64().unwrap() >= 3, "{res}");
    for t in [&b1, &fresh, &u2] {
        problem(srv.me(s(t, "access_token")).await, 401, "session_revoked").await;
    }
    for bad in [
        json!({}),
        json!({"all": false}),
        json!({"all": true, "namespace": "a"}),
        json!({"namespace": "a", "x": 1}),
    ] {
        problem(revoke(bad).await, 400, "invalid_request").await;
    }
    problem(
        revoke(json!({"namespace": "bad ns"})).await,
        422,
        "invalid_namespace",
    )
    .await;
    problem(
        revoke(json!({"user_id": uuid::Uuid::now_v7().to_string()})).await,
        404,
        "not_found",
    )
    .await;
}

#[tokio::test]
async fn events_are_typed_newest_first_and_filtered() {
    let srv = start("[tokens]\nreuse_grace = \"0\"").await;
    let a = srv.register("ev@example.com").await;
    let res = srv
        .client
        .post(srv.url("/auth/login"))
        .header("user-agent", "Evil/1.0")
        .json(&json!({"email": "ev@example.com", "password": "wrong password, long enough"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    srv.refresh(s(&a, "refresh_token")).await;
    srv.refresh(s(&a, "refresh_token")).await; // reuse
    let all = ok_json(admin(&srv, Method::GET, "/admin/events", None).await, 200).await;
    let events = all["events"].as_array().unwrap();
    let ats: Vec<&str> = events.iter().map(|e| e["at"].as_str().unwrap()).collect();
    let mut sorted = ats.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(ats, sorted, "newest first");
    let types: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
    for t in [
        "user.registered",
        "login.succeeded",
        "login.failed",
        "session.refreshed",
        "session.reuse_detected",
    ] {
        assert!(types.contains(&t), "{t} in {types:?}");
    }
    let failed = ok_json(
        admin(&srv, Method::GET, "/admin/events?type=login.failed", None).await,
        200,
    )
    .await;
    let failed = failed["events"].as_array().unwrap();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0]["ip"], "127.0.0.1");
    assert_eq!(failed[0]["user_agent"], "Evil/1.0");
    assert_eq!(failed[0]["user_id"], a["user"]["id"]);
    for key in ["id", "type", "at", "session_id", "detail"] {
        assert!(failed[0].get(key).is_some(), "{key}");
    }
    let one = ok_json(
        admin(&srv, Method::GET, "/admin/events?limit=1", None).await,
        200,
    )
    .await;
    assert_eq!(one["events"].as_array().unwrap().len(), 1);
    for bad in ["?user_id=nope", "?limit=x", "?colour=red"] {
        problem(
            admin(&srv, Method::GET, &format!("/admin/events{bad}"), None).await,
            400,
            "invalid_request",
        )
        .await;
    }
}
