//! Rate limits on login and register (per client IP, and failed logins per account).

use crate::common::*;
use serde_json::{Value, json};

async fn login_as(
    srv: &TestServer,
    email: &str,
    password: &str,
    xff: Option<&str>,
) -> reqwest::Response {
    let mut req = srv
        .client
        .post(srv.url("/auth/login"))
        .json(&json!({"email": email, "password": password}));
    if let Some(x) = xff {
        req = req.header("x-forwarded-for", x);
    }
    req.send().await.unwrap()
}

async fn assert_limited(res: reqwest::Response) {
    let retry: u64 = res
        .headers()
        .get("retry-after")
        .expect("Retry-After")
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60 * 15).contains(&retry), "{retry}");
    problem(res, 429, "rate_limited").await;
}

#[tokio::test]
async fn login_and_register_are_limited_per_client_ip() {
    let srv = start("[rate_limit]\nlogin_per_ip_per_minute = 3").await;
    srv.register("ip@example.com").await;
    assert_eq!(
        login_as(&srv, "ip@example.com", PASSWORD, None)
            .await
            .status(),
        200
    );
    assert_eq!(
        login_as(&srv, "ip@example.com", PASSWORD, None)
            .await
            .status(),
        200
    );
    assert_limited(login_as(&srv, "ip@example.com", PASSWORD, None).await).await;
    let reg = srv
        .post(
            "/auth/register",
            json!({"email": "ip2@example.com", "password": PASSWORD}),
        )
        .await;
    assert_limited(reg).await;
    // Without trust, X-Forwarded-For changes nothing.
    assert_limited(login_as(&srv, "ip@example.com", PASSWORD, Some("203.0.113.9")).await).await;
}

#[tokio::test]
async fn forwarded_for_is_used_only_when_trusted_and_only_its_last_hop() {
    let srv = start("[rate_limit]\nlogin_per_ip_per_minute = 2\ntrust_forwarded_for = true").await;
    srv.register("xff@example.com").await; // counts against 127.0.0.1
    for _ in 0..2 {
        assert_eq!(
            login_as(
                &srv,
                "xff@example.com",
                PASSWORD,
                Some("198.51.100.1, 203.0.113.7")
            )
            .await
            .status(),
            200
        );
    }
    // The client cannot escape by varying the entries before the trusted proxy's.
    assert_limited(
        login_as(
            &srv,
            "xff@example.com",
            PASSWORD,
            Some("198.51.100.2, 203.0.113.7"),
        )
        .await,
    )
    .await;
    // Another client behind the proxy has its own budget, and is recorded with its address.
    let res = login_as(&srv, "xff@example.com", PASSWORD, Some("203.0.113.8")).await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    let me: Value = srv.me(s(&body, "access_token")).await.json().await.unwrap();
    assert_eq!(me["session"]["ip"], "203.0.113.8");
}

#[tokio::test]
async fn failed_logins_lock_an_account_known_or_not_and_success_resets() {
    let srv =
        start("[rate_limit]\nlogin_per_ip_per_minute = 0\nfailed_logins_per_account = 3").await;
    srv.register("lock@example.com").await;
    for email in ["lock@example.com", "nobody@example.com"] {
        for _ in 0..3 {
            problem(
                login_as(&srv, email, "wrong password, long enough", None).await,
                401,
                "invalid_credentials",
            )
            .await;
        }
        // Locked: even the right password (and any spelling of the email) is refused, unhashed.
        assert_limited(login_as(&srv, email, PASSWORD, None).await).await;
        assert_limited(
            login_as(&srv, &format!("  {}", email.to_uppercase()), PASSWORD, None).await,
        )
        .await;
    }
    // Other accounts are untouched; a success resets the count.
    srv.register("fine@example.com").await;
    for _ in 0..2 {
        login_as(
            &srv,
            "fine@example.com",
            "wrong password, long enough",
            None,
        )
        .await;
        assert_eq!(
            login_as(&srv, "fine@example.com", PASSWORD, None)
                .await
                .status(),
            200
        );
    }
    for _ in 0..2 {
        login_as(
            &srv,
            "fine@example.com",
            "wrong password, long enough",
            None,
        )
        .await;
    }
    assert_eq!(
        login_as(&srv, "fine@example.com", PASSWORD, None)
            .await
            .status(),
        200
    );
}

#[tokio::test]
async fn zero_disables_the_limits() {
    let srv =
        start("[rate_limit]\nlogin_per_ip_per_minute = 0\nfailed_logins_per_account = 0").await;
    srv.register("free@example.com").await;
    for _ in 0..40 {
        let res = login_as(
            &srv,
            "free@example.com",
            "wrong password, long enough",
            None,
        )
        .await;
        assert_eq!(res.status(), 401);
    }
}

async fn change_password(srv: &TestServer, access: Option<&str>, body: Value) -> reqwest::Response {
    let mut req = srv.client.post(srv.url("/auth/password")).json(&body);
    if let Some(a) = access {
        req = req.bearer_auth(a);
    }
    req.send().await.unwrap()
}

/// API.md §5: failed `current_password` checks count toward the account's lock and are
/// `login.failed` events, with a session too.
#[tokio::test]
async fn wrong_current_passwords_lock_the_account_and_are_recorded() {
    let srv =
        start("[rate_limit]\nlogin_per_ip_per_minute = 0\nfailed_logins_per_account = 3").await;
    let a = srv.register("pw-lock@example.com").await;
    let access = s(&a, "access_token");
    let guess = |current: &'static str| json!({"current_password": current, "new_password": "a brand new passphrase 77"});
    for _ in 0..3 {
        problem(
            change_password(&srv, Some(access), guess("wrong password, long enough")).await,
            401,
            "invalid_credentials",
        )
        .await;
    }
    // Locked, unhashed: the right password too, here and at login.
    assert_limited(change_password(&srv, Some(access), guess(PASSWORD)).await).await;
    assert_limited(login_as(&srv, "pw-lock@example.com", PASSWORD, None).await).await;
    let events: Value = srv
        .client
        .get(srv.url("/admin/events?type=login.failed"))
        .header("x-api-key", ADMIN_KEY)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let user_id = &srv.me(access).await.json::<Value>().await.unwrap()["user"]["id"];
    let mine = events["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| &e["user_id"] == user_id)
        .count();
    assert_eq!(mine, 3, "{events}");
}

/// API.md §5: the by-email form is limited per client IP like login.
#[tokio::test]
async fn password_changes_by_email_count_toward_the_ip_limit() {
    let srv =
        start("[rate_limit]\nlogin_per_ip_per_minute = 3\nfailed_logins_per_account = 0").await;
    for i in 0..3 {
        let body = json!({"email": format!("nobody{i}@example.com"),
            "current_password": "wrong password, long enough",
            "new_password": "a brand new passphrase 77"});
        problem(
            change_password(&srv, None, body).await,
            401,
            "invalid_credentials",
        )
        .await;
    }
    let body = json!({"email": "nobody9@example.com",
        "current_password": "wrong password, long enough",
        "new_password": "a brand new passphrase 77"});
    assert_limited(change_password(&srv, None, body).await).await;
}
