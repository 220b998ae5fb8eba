//! A hostile Tessera for resource servers: the real JWKS (so real tokens verify), and a feed or
//! a JWKS crafted to break a careless follower. Every answer body is counted as it is produced,
//! so a test can tell a client that stopped reading at its bound from one that read it all.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};

/// What the fake serves besides the real JWKS and an empty snapshot.
#[derive(Clone)]
pub(crate) enum Scenario {
    /// After the snapshot: an entry of a kind no version knows, then a real revocation of
    /// session `sid`, on the stream and on every poll.
    UnknownKindThenRevocation { sid: String },
    /// A JWKS of `HUGE` bytes (its length announced when `declared`).
    HugeJwks { declared: bool },
    /// A snapshot page of `HUGE` bytes.
    HugePage { declared: bool },
    /// A stream whose one event has data lines without end (`HUGE` bytes in all).
    EndlessEvent,
}

/// How big the oversized answers are: far beyond any bound, small enough to be sent in full
/// within a test's patience if a client reads it all.
pub(crate) const HUGE: usize = 64 * 1024 * 1024;

/// One answer body: how much of it was produced, and whether it is over (sent in full, or
/// dropped because the client went away).
#[derive(Default)]
pub(crate) struct Probe {
    pub sent: AtomicU64,
    pub ended: AtomicBool,
}

struct Shared {
    jwks: Bytes,
    scenario: Scenario,
    streams: AtomicUsize,
    probes: Mutex<Vec<Arc<Probe>>>,
}

pub(crate) struct FakeTessera {
    pub base: String,
    shared: Arc<Shared>,
}

impl FakeTessera {
    /// Serves `scenario` with the JWKS of the real Tessera at `real_base`.
    pub(crate) async fn start(real_base: &str, scenario: Scenario) -> FakeTessera {
        let jwks = reqwest::get(format!("{real_base}/.well-known/jwks.json"))
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        let shared = Arc::new(Shared {
            jwks,
            scenario,
            streams: AtomicUsize::new(0),
            probes: Mutex::new(Vec::new()),
        });
        let app = Router::new()
            .route("/.well-known/jwks.json", get(jwks_route))
            .route("/auth/revocations", get(page_route))
            .route("/auth/revocations/stream", get(stream_route))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        FakeTessera { base, shared }
    }

    /// How many times the stream was opened.
    pub(crate) fn streams(&self) -> usize {
        self.shared.streams.load(Ordering::Relaxed)
    }

    /// Waits (at most `limit`) for the first oversized body to end; what it had produced.
    pub(crate) async fn first_huge_body(&self, limit: Duration) -> (u64, bool) {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let first = self.shared.probes.lock().unwrap().first().cloned();
            if let Some(p) = &first
                && p.ended.load(Ordering::Relaxed)
            {
                return (p.sent.load(Ordering::Relaxed), true);
            }
            if tokio::time::Instant::now() >= deadline {
                return (first.map_or(0, |p| p.sent.load(Ordering::Relaxed)), false);
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// Marks its probe ended when the body is dropped, whether sent in full or abandoned.
struct EndOnDrop(Arc<Probe>);

impl Drop for EndOnDrop {
    fn drop(&mut self) {
        self.0.ended.store(true, Ordering::Relaxed);
    }
}

/// `head`, then `line` over and over up to `HUGE` bytes, counted in a new probe.
fn huge_body(shared: &Shared, head: &'static str, line: &'static str) -> Body {
    let probe = Arc::new(Probe::default());
    shared.probes.lock().unwrap().push(probe.clone());
    let chunk: Bytes = line.repeat(64 * 1024 / line.len()).into();
    let state = (
        EndOnDrop(probe),
        Some(Bytes::from_static(head.as_bytes())),
        chunk,
    );
    let stream = futures_util::stream::unfold(state, |(guard, head, chunk)| async move {
        let sent = guard.0.sent.load(Ordering::Relaxed) as usize;
        if sent >= HUGE {
            return None;
        }
        let next = head.clone().unwrap_or_else(|| chunk.clone());
        guard.0.sent.fetch_add(next.len() as u64, Ordering::Relaxed);
        Some((Ok::<_, std::io::Error>(next), (guard, None, chunk)))
    });
    Body::from_stream(stream)
}

fn declared(mut res: Response, yes: bool) -> Response {
    if yes {
        res.headers_mut()
            .insert(header::CONTENT_LENGTH, HUGE.to_string().parse().unwrap());
    }
    res
}

async fn jwks_route(State(s): State<Arc<Shared>>) -> Response {
    match s.scenario {
        Scenario::HugeJwks { declared: d } => {
            let body = huge_body(&s, "{\"keys\":[", "                ");
            declared(body.into_response(), d)
        }
        _ => ([(header::CONTENT_TYPE, "application/json")], s.jwks.clone()).into_response(),
    }
}

fn entry(id: u64, kind: &str, sid: &str) -> Value {
    let until = (std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64)
        + 3_600_000;
    json!({"id": id.to_string(), "kind": kind, "session_id": sid, "until_ms": until,
           "issued_up_to_ms": null, "user_id": null, "namespace": null})
}

async fn page_route(
    State(s): State<Arc<Shared>>,
    Query(q): Query<std::collections::HashMap<String, String>>,
) -> Response {
    let json_page = |v: Value| axum::Json(v).into_response();
    match (&s.scenario, q.get("after")) {
        (Scenario::HugePage { declared: d }, None) => {
            let body = huge_body(
                &s,
                "{\"cursor\":\"1\",\"revocations\":[",
                "                ",
            );
            declared(body.into_response(), *d)
        }
        (Scenario::UnknownKindThenRevocation { sid }, Some(_)) => json_page(json!({
            "cursor": "12",
            "revocations": [entry(11, "kind_from_the_future", sid), entry(12, "session", sid)],
            "more": false
        })),
        (_, after) => json_page(json!({
            "cursor": after.cloned().unwrap_or_else(|| "10".into()),
            "revocations": [],
            "more": false
        })),
    }
}

async fn stream_route(State(s): State<Arc<Shared>>) -> Response {
    s.streams.fetch_add(1, Ordering::Relaxed);
    let sse = [(header::CONTENT_TYPE, "text/event-stream")];
    match &s.scenario {
        Scenario::EndlessEvent => {
            let body = huge_body(&s, "event: revocation\nid: 11\n", "data: aaaaaaaaaaaaaaa\n");
            (sse, body).into_response()
        }
        Scenario::UnknownKindThenRevocation { sid } => {
            let events = format!(
                "event: revocation\nid: 11\ndata: {}\n\nevent: revocation\nid: 12\ndata: {}\n\n",
                entry(11, "kind_from_the_future", sid),
                entry(12, "session", sid)
            );
            (sse, heartbeats(Some(events))).into_response()
        }
        _ => (sse, heartbeats(None)).into_response(),
    }
}

/// `first`, then a comment line every 500 ms for a minute: an open, healthy-looking stream.
fn heartbeats(first: Option<String>) -> Body {
    let stream = futures_util::stream::unfold((first, 0u32), |(first, n)| async move {
        if let Some(f) = first {
            return Some((Ok::<_, std::io::Error>(Bytes::from(f)), (None, n)));
        }
        if n >= 120 {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        Some((Ok(Bytes::from_static(b": heartbeat\n\n")), (None, n + 1)))
    });
    Body::from_stream(stream)
}
