//! The revocation feed (API.md §6) over HTTP: a snapshot of what is in force, changes after a
//! cursor, and the Server-Sent Events stream that follows new revocations and resumes without
//! loss; read with a resource-server key.

use std::time::{Duration, Instant};

use crate::common::*;
use serde_json::{Value, json};

/// A server whose fallback poll is slowed to a minute: what a stream follower sees within a
/// second, it saw because the revocation itself signalled it.
async fn server() -> TestServer {
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let extra = format!("resource_server_keys = [\"{RESOURCE_KEY}\"]");
    start_tuned(dir, &extra, |s| s.revocation_poll = Duration::from_secs(60)).await
}

async fn page(srv: &TestServer, after: Option<&str>) -> Value {
    let url = match after {
        Some(c) => srv.url(&format!("/auth/revocations?after={c}")),
        None => srv.url("/auth/revocations"),
    };
    let res = srv
        .client
        .get(url)
        .header("x-api-key", RESOURCE_KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    res.json().await.unwrap()
}

async fn logout(srv: &TestServer, session: &Value) {
    let res = srv
        .client
        .post(srv.url("/auth/logout"))
        .bearer_auth(s(session, "access_token"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
}

fn session_ids(page: &Value) -> Vec<String> {
    page["revocations"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "session")
        .map(|e| e["session_id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn the_feed_gives_what_is_in_force_then_what_changed() {
    let srv = server().await;
    let empty = page(&srv, None).await;
    assert_eq!(empty["revocations"], json!([]));
    assert_eq!(empty["more"], false);
    let a = srv.register("feed-a@example.com").await;
    let b = srv.register("feed-b@example.com").await;
    logout(&srv, &a).await;
    let snapshot = page(&srv, None).await;
    assert_eq!(session_ids(&snapshot), vec![s(&a, "session_id")]);
    let entry = &snapshot["revocations"][0];
    assert_eq!(entry["id"], snapshot["cursor"]);
    assert!(entry["until_ms"].as_i64().unwrap() > 0);
    assert!(entry.get("issued_up_to_ms").is_none());
    let cursor = snapshot["cursor"].as_str().unwrap().to_owned();
    assert_eq!(page(&srv, Some(&cursor)).await["revocations"], json!([]));
    // A user-wide revocation is one cutoff entry.
    let uid = b["user"]["id"].as_str().unwrap();
    let res = srv
        .client
        .delete(srv.url(&format!("/admin/users/{uid}/sessions")))
        .header("x-api-key", ADMIN_KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let changed = page(&srv, Some(&cursor)).await;
    let entries = changed["revocations"].as_array().unwrap();
    assert_eq!(entries.len(), 1, "{changed}");
    assert_eq!(entries[0]["kind"], "user");
    assert_eq!(entries[0]["user_id"], b["user"]["id"]);
    assert!(entries[0]["issued_up_to_ms"].as_i64().unwrap() > 0);
    // Bad cursors, and keys.
    for bad in ["x", "-1", ""] {
        let res = srv
            .client
            .get(srv.url(&format!("/auth/revocations?after={bad}")))
            .header("x-api-key", RESOURCE_KEY)
            .send()
            .await
            .unwrap();
        problem(res, 400, "invalid_request").await;
    }
    // Well-formed, but never issued by this feed (another database?): 404, take a snapshot.
    let res = srv
        .client
        .get(srv.url("/auth/revocations?after=999999"))
        .header("x-api-key", RESOURCE_KEY)
        .send()
        .await
        .unwrap();
    problem(res, 404, "not_found").await;
    for path in ["/auth/revocations", "/auth/revocations/stream"] {
        let res = srv.client.get(srv.url(path)).send().await.unwrap();
        let body = problem(res, 401, "unauthorized").await;
        // Either key will do here, and the answer says so.
        assert!(
            body["title"].as_str().unwrap().contains("resource-server"),
            "{body}"
        );
    }
}

/// Reads the stream until an event whose data contains `needle`; returns its `id:`.
async fn event_with(res: &mut reqwest::Response, buf: &mut String, needle: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(1);
    loop {
        if let Some(at) = buf.find(needle) {
            let block_start = buf[..at].rfind("\n\n").map_or(0, |i| i + 2);
            let block_end = buf[at..].find("\n\n").map_or(buf.len(), |i| at + i);
            let block = buf[block_start..block_end].to_owned();
            buf.replace_range(..block_end, "");
            return block
                .lines()
                .find_map(|l| l.strip_prefix("id:"))
                .expect("an id per event")
                .trim()
                .to_owned();
        }
        let left = deadline.saturating_duration_since(Instant::now());
        let chunk = tokio::time::timeout(left, res.chunk())
            .await
            .unwrap_or_else(|_| panic!("no event with {needle} within 1 s; got:\n{buf}"))
            .unwrap()
            .expect("the stream stays open");
        buf.push_str(&String::from_utf8_lossy(&chunk));
    }
}

async fn open_stream(srv: &TestServer, last_event_id: Option<&str>) -> reqwest::Response {
    let mut req = srv
        .client
        .get(srv.url("/auth/revocations/stream"))
        .header("x-api-key", RESOURCE_KEY);
    if let Some(id) = last_event_id {
        req = req.header("last-event-id", id);
    }
    let res = req.send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    res
}

#[tokio::test]
async fn the_stream_follows_revocations_and_resumes_without_loss() {
    let srv = server().await;
    let a = srv.register("stream-a@example.com").await;
    let b = srv.register("stream-b@example.com").await;
    let c = srv.register("stream-c@example.com").await;
    logout(&srv, &a).await;
    let mut res = open_stream(&srv, None).await;
    let mut buf = String::new();
    // The snapshot first, then what happens while connected, within a second.
    event_with(&mut res, &mut buf, s(&a, "session_id")).await;
    logout(&srv, &b).await;
    let id_b = event_with(&mut res, &mut buf, s(&b, "session_id")).await;
    drop(res);
    // Missed while disconnected: delivered on resume, and nothing before the cursor again.
    logout(&srv, &c).await;
    let mut res = open_stream(&srv, Some(&id_b)).await;
    let mut buf = String::new();
    event_with(&mut res, &mut buf, s(&c, "session_id")).await;
    assert!(!buf.contains(s(&a, "session_id")) && !buf.contains(s(&b, "session_id")));
}

#[tokio::test]
async fn a_cursor_from_another_feed_gets_a_reset() {
    let srv = server().await;
    let mut res = open_stream(&srv, Some("123456")).await;
    let mut body = String::new();
    while let Some(chunk) = tokio::time::timeout(Duration::from_secs(1), res.chunk())
        .await
        .expect("the stream ends after a reset")
        .unwrap()
    {
        body.push_str(&String::from_utf8_lossy(&chunk));
    }
    assert!(body.contains("event: reset"), "{body}");
}

#[tokio::test]
async fn streams_are_bounded_per_key_and_a_closed_one_gives_its_place_back() {
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let extra = format!(
        "resource_server_keys = [\"{RESOURCE_KEY}\"]\n[http]\nmax_connections = 4\nmax_streams_per_key = 2"
    );
    let srv = start_tuned(dir, &extra, |_| {}).await;
    let first = open_stream(&srv, None).await;
    let _second = open_stream(&srv, None).await;
    let third = get_with(&srv, "/auth/revocations/stream", RESOURCE_KEY).await;
    assert_eq!(third.headers()["retry-after"], "5");
    problem(third, 429, "rate_limited").await;
    // Another key has its own count, and the server still answers everyone else.
    let other = get_with(&srv, "/auth/revocations/stream", ADMIN_KEY).await;
    assert_eq!(other.status(), 200);
    let health = srv.client.get(srv.url("/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    // A stream whose client went away frees its place.
    drop(first);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let res = get_with(&srv, "/auth/revocations/stream", RESOURCE_KEY).await;
        if res.status() == 200 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the closed stream's place was never given back"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// `GET path` with `key` in `X-Api-Key`.
async fn get_with(srv: &TestServer, path: &str, key: &str) -> reqwest::Response {
    srv.client
        .get(srv.url(path))
        .header("x-api-key", key)
        .send()
        .await
        .unwrap()
}
