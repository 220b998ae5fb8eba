//! The signed-in user's routes: me, sessions, revoke, password (API.md §5).

use crate::common::*;
use serde_json::{Value, json};

#[tokio::test]
async fn me_returns_the_user_and_the_current_session() {
    let srv = start("").await;
    let a = srv.register("me@example.com").await;
    let res = srv.me(s(&a, "access_token")).await;
    assert_eq!(res.status(), 200);
    let me: Value = res.json().await.unwrap();
    assert_eq!(me["user"]["email"], "me@example.com");
    assert_eq!(me["user"]["banned"], false);
    assert!(
        me["user"]["password_hash"].is_null(),
        "the hash never leaves the server"
    );
    assert!(me["user"]["created_at"].is_string() && me["user"]["password_changed_at"].is_string());
    assert_eq!(me["session"]["id"], a["session_id"]);
    assert_eq!(me["session"]["current"], true);
    assert_eq!(me["session"]["ip"], "127.0.0.1");
    assert_eq!(me["session"]["user_agent"], "tessera-tests/1.0");
    for key in [
        "created_at",
        "last_active_at",
        "expires_at",
        "namespace",
        "refresh_count",
    ] {
        assert!(!me["session"][key].is_null(), "{key}");
    }
}

#[tokio::test]
async fn sessions_are_listed_newest_first_with_device_and_current() {
    let srv = start("").await;
    let first = srv.register("list@example.com").await;
    let res = srv
        .client
        .post(srv.url("/auth/login"))
        .header("user-agent", "Phone/2.0")
        .json(&json!({"email": "list@example.com", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    let phone: Value = res.json().await.unwrap();
    let list: Value = srv
        .get_auth("/auth/sessions", s(&first, "access_token"))
        .await
        .json()
        .await
        .unwrap();
    let sessions = list["sessions"].as_array().unwrap();
    assert_eq!(sessions.len(), 2);
    assert_eq!(
        sessions[0]["id"], phone["session_id"],
        "most recent activity first"
    );
    assert_eq!(sessions[0]["user_agent"], "Phone/2.0");
    assert_eq!(sessions[0]["current"], false);
    assert_eq!(sessions[1]["current"], true);
    // Revoked sessions disappear from the list; other users never appear.
    srv.register("other@example.com").await;
    srv.client
        .post(srv.url("/auth/logout"))
        .bearer_auth(s(&phone, "access_token"))
        .send()
        .await
        .unwrap();
    let list: Value = srv
        .get_auth("/auth/sessions", s(&first, "access_token"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list["sessions"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn revoking_one_session_bites_at_once_and_others_are_404() {
    let srv = start("").await;
    let laptop = srv.register("rev@example.com").await;
    let phone = srv.login("rev@example.com").await;
    let stranger = srv.register("stranger@example.com").await;
    let del = |access: String, id: String| {
        let srv = &srv;
        async move {
            srv.client
                .delete(srv.url(&format!("/auth/sessions/{id}")))
                .bearer_auth(access)
                .send()
                .await
                .unwrap()
        }
    };
    let res = del(
        s(&laptop, "access_token").into(),
        s(&phone, "session_id").into(),
    )
    .await;
    assert_eq!(res.status(), 204);
    problem(
        srv.me(s(&phone, "access_token")).await,
        401,
        "session_revoked",
    )
    .await;
    problem(
        srv.refresh(s(&phone, "refresh_token")).await,
        401,
        "session_revoked",
    )
    .await;
    assert_eq!(srv.me(s(&laptop, "access_token")).await.status(), 200);
    // Already revoked, someone else's, unknown, or not an id at all: 404.
    for id in [
        s(&phone, "session_id"),
        s(&stranger, "session_id"),
        &uuid::Uuid::now_v7().to_string(),
        "not-a-uuid",
    ] {
        problem(
            del(s(&laptop, "access_token").into(), id.into()).await,
            404,
            "not_found",
        )
        .await;
    }
    assert_eq!(
        srv.me(s(&stranger, "access_token")).await.status(),
        200,
        "untouched"
    );
}

#[tokio::test]
async fn revoking_all_sessions_optionally_keeps_the_current_one() {
    let srv = start("").await;
    let a = srv.register("all@example.com").await;
    let b = srv.login("all@example.com").await;
    let c = srv.login("all@example.com").await;
    let res = srv
        .client
        .delete(srv.url("/auth/sessions?keep_current=true"))
        .bearer_auth(s(&a, "access_token"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.json::<Value>().await.unwrap(), json!({"revoked": 2}));
    assert_eq!(srv.me(s(&a, "access_token")).await.status(), 200);
    for other in [&b, &c] {
        problem(
            srv.me(s(other, "access_token")).await,
            401,
            "session_revoked",
        )
        .await;
    }
    let res = srv
        .client
        .delete(srv.url("/auth/sessions"))
        .bearer_auth(s(&a, "access_token"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.json::<Value>().await.unwrap(), json!({"revoked": 1}));
    problem(srv.me(s(&a, "access_token")).await, 401, "session_revoked").await;
    // A bad query is a 400.
    let d = srv.login("all@example.com").await;
    for q in ["?keep_current=maybe", "?keep=1"] {
        let res = srv
            .client
            .delete(srv.url(&format!("/auth/sessions{q}")))
            .bearer_auth(s(&d, "access_token"))
            .send()
            .await
            .unwrap();
        problem(res, 400, "invalid_request").await;
    }
}

#[tokio::test]
async fn password_change_with_a_session_revokes_the_others() {
    let srv = start("").await;
    let a = srv.register("pw@example.com").await;
    let b = srv.login("pw@example.com").await;
    let new = "a different long passphrase 42";
    let wrong = srv
        .client
        .post(srv.url("/auth/password"))
        .bearer_auth(s(&a, "access_token"))
        .json(&json!({"current_password": "not it at all, sorry", "new_password": new}))
        .send()
        .await
        .unwrap();
    problem(wrong, 401, "invalid_credentials").await;
    let weak = srv
        .client
        .post(srv.url("/auth/password"))
        .bearer_auth(s(&a, "access_token"))
        .json(&json!({"current_password": PASSWORD, "new_password": "passwordpassword"}))
        .send()
        .await
        .unwrap();
    problem(weak, 422, "weak_password").await;
    let res = srv
        .client
        .post(srv.url("/auth/password"))
        .bearer_auth(s(&a, "access_token"))
        .json(&json!({"current_password": PASSWORD, "new_password": new}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    assert_eq!(
        srv.me(s(&a, "access_token")).await.status(),
        200,
        "this session stays"
    );
    problem(srv.me(s(&b, "access_token")).await, 401, "session_revoked").await;
    let old = srv
        .post(
            "/auth/login",
            json!({"email": "pw@example.com", "password": PASSWORD}),
        )
        .await;
    problem(old, 401, "invalid_credentials").await;
    let ok = srv
        .post(
            "/auth/login",
            json!({"email": "pw@example.com", "password": new}),
        )
        .await;
    assert_eq!(ok.status(), 200);
    let events = srv
        .state
        .engine
        .store()
        .events(None, Some("password.changed"), 10)
        .await
        .unwrap();
    assert_eq!(events.len(), 1);
}

#[tokio::test]
async fn an_expired_password_must_be_changed_by_email_first() {
    let srv = start("[passwords]\nmax_age = \"1s\"").await;
    let a = srv.register("old@example.com").await;
    tokio::time::sleep(std::time::Duration::from_millis(1_100)).await;
    let res = srv
        .post(
            "/auth/login",
            json!({"email": "old@example.com", "password": PASSWORD}),
        )
        .await;
    problem(res, 401, "password_expired").await;
    let wrong = srv
        .post(
            "/auth/login",
            json!({"email": "old@example.com", "password": "wrong but long enough"}),
        )
        .await;
    problem(wrong, 401, "invalid_credentials").await;
    let missing_email = srv
        .post(
            "/auth/password",
            json!({"current_password": PASSWORD, "new_password": "fresh long passphrase 77"}),
        )
        .await;
    problem(missing_email, 401, "invalid_credentials").await;
    let res = srv.post("/auth/password", json!({"email": "OLD@example.com", "current_password": PASSWORD, "new_password": "fresh long passphrase 77"})).await;
    assert_eq!(res.status(), 204);
    problem(srv.me(s(&a, "access_token")).await, 401, "session_revoked").await;
    let ok = srv
        .post(
            "/auth/login",
            json!({"email": "old@example.com", "password": "fresh long passphrase 77"}),
        )
        .await;
    assert_eq!(ok.status(), 200);
}
