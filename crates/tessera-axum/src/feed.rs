//! Following Tessera's revocation feed (API.md §6): a snapshot of what is in force, then the
//! Server-Sent Events stream from its cursor; when the stream breaks, a poll from the cursor
//! (so nothing is missed while reconnecting) and a new stream, with backoff. A `reset` (or a
//! cursor Tessera no longer knows) starts over from a snapshot.
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use axum::http::header;
use serde::Deserialize;

use crate::clock::{pause, unix_ms};
use crate::revoked::{Entry, Revoked};
use crate::sse::SseParser;
use crate::state::Inner;

/// A page request that takes longer than this has failed.
const FETCH_TIMEOUT: Duration = Duration::from_secs(10);
/// A page is at most 1000 entries of a few hundred bytes; anything this large is not Tessera's.
const MAX_PAGE_BYTES: usize = 4 * 1024 * 1024;
/// Entries past their `until_ms` are dropped at most this often.
const PRUNE_EVERY: Duration = Duration::from_secs(10);

#[derive(Deserialize)]
struct Page {
    cursor: String,
    revocations: Vec<Entry>,
    #[serde(default)]
    more: bool,
}

/// Why following stopped for now.
enum Break {
    /// Tessera does not know our cursor: take a snapshot.
    Reset,
    /// Anything else: poll, back off, reconnect.
    Failed(String),
}

pub(crate) async fn follow(inner: Arc<Inner>) {
    let mut backoff = Duration::from_millis(100);
    let mut last_prune = Instant::now();
    loop {
        if inner.health.cursor().is_none() {
            match snapshot(&inner).await {
                Ok(()) => inner.health.snapshot_loaded(),
                Err(e) => {
                    lost(&inner, &e);
                    pause(backoff).await;
                    backoff = (backoff * 2).min(inner.cfg.poll_interval);
                    continue;
                }
            }
        }
        let outcome = stream(&inner, &mut backoff, &mut last_prune).await;
        inner.health.connected.store(false, Ordering::Relaxed);
        match outcome {
            Break::Reset => {
                tracing::warn!("Tessera no longer knows our feed cursor; taking a fresh snapshot");
                inner.health.set_cursor(None);
                continue;
            }
            Break::Failed(e) => lost(&inner, &e),
        }
        inner.stats.feed_reconnects.fetch_add(1, Ordering::Relaxed);
        // Catch up by polling before waiting, so a stream that keeps failing still delivers.
        match poll(&inner).await {
            Ok(()) => {}
            Err(Break::Reset) => inner.health.set_cursor(None),
            Err(Break::Failed(e)) => lost(&inner, &e),
        }
        pause(backoff).await;
        backoff = (backoff * 2).min(inner.cfg.poll_interval);
    }
}

/// Logs a failure to reach the feed: a warning, and an error once the feed is stale.
fn lost(inner: &Inner, why: &str) {
    if inner.is_stale() {
        if !inner.health.stale_logged.swap(true, Ordering::Relaxed) {
            let silent = inner.health.silent_ms().unwrap_or(0) / 1000;
            let policy = match inner.cfg.on_stale {
                crate::OnStale::Refuse => "refusing every token with 503 until it is back",
                crate::OnStale::Accept => {
                    "still accepting tokens: revocations made meanwhile are NOT applied"
                }
            };
            tracing::error!(error = %why, silent_secs = silent, "Tessera's revocation feed is unreachable; {policy}");
        }
    } else {
        tracing::warn!(error = %why, "Tessera's revocation feed dropped; catching up and reconnecting");
    }
}

/// Tessera was heard from.
fn heard(inner: &Inner) {
    inner.health.contact();
    if inner.health.stale_logged.swap(false, Ordering::Relaxed) {
        tracing::info!("Tessera's revocation feed is reachable again");
    }
}

async fn get_page(inner: &Inner, after: Option<&str>) -> Result<Page, Break> {
    let mut url = reqwest::Url::parse(&format!("{}/auth/revocations", inner.cfg.base_url))
        .map_err(|e| Break::Failed(format!("feed: {e}")))?;
    if let Some(c) = after {
        // Cursors are opaque: encoded, never pasted.
        url.query_pairs_mut().append_pair("after", c);
    }
    let res = inner
        .http
        .get(url)
        .header("x-api-key", &inner.cfg.key)
        .timeout(FETCH_TIMEOUT)
        .send()
        .await
        .map_err(|e| Break::Failed(format!("feed: {}", e.without_url())))?;
    match res.status().as_u16() {
        200 => {}
        // A cursor Tessera never issued (404; 400 from versions before it said so).
        400 | 404 if after.is_some() => return Err(Break::Reset),
        401 => {
            return Err(Break::Failed(
                "feed: Tessera refused the resource-server key (401)".into(),
            ));
        }
        s => return Err(Break::Failed(format!("feed: status {s}"))),
    }
    let body = crate::body::read_limited(res, MAX_PAGE_BYTES, "feed page")
        .await
        .map_err(Break::Failed)?;
    serde_json::from_slice::<Page>(&body).map_err(|_| Break::Failed("feed: unreadable page".into()))
}

/// Replaces the set with what is in force now.
async fn snapshot(inner: &Inner) -> Result<(), String> {
    let mut fresh = Revoked::default();
    let mut after: Option<String> = None;
    loop {
        let page = match get_page(inner, after.as_deref()).await {
            Ok(p) => p,
            Err(Break::Reset) => return Err("feed: cursor refused during a snapshot".into()),
            Err(Break::Failed(e)) => return Err(e),
        };
        for e in &page.revocations {
            if fresh.apply(e).is_err() {
                inner.health.blocked.store(true, Ordering::Relaxed);
                return Err(unreadable(e));
            }
        }
        after = Some(page.cursor);
        if !page.more {
            break;
        }
    }
    fresh.prune(unix_ms());
    *inner.revoked.write().expect("revocations lock") = fresh;
    inner.health.blocked.store(false, Ordering::Relaxed);
    inner.health.set_cursor(after);
    heard(inner);
    Ok(())
}

fn unreadable(e: &Entry) -> String {
    format!(
        "feed: entry {} of kind {:?} cannot be applied by this version; not moving past it",
        e.id, e.kind
    )
}

/// Applies what was recorded after our cursor.
async fn poll(inner: &Inner) -> Result<(), Break> {
    loop {
        let cursor = inner.health.cursor();
        let page = get_page(inner, cursor.as_deref()).await?;
        for e in &page.revocations {
            apply(inner, e, None).map_err(Break::Failed)?;
        }
        inner.health.set_cursor(Some(page.cursor));
        heard(inner);
        if !page.more {
            return Ok(());
        }
    }
}

/// Applies one entry and moves the cursor past it. An entry this version cannot apply is
/// never skipped: the cursor stays before it, and the feed counts as stale until an entry that
/// can be applied comes next.
fn apply(inner: &Inner, e: &Entry, id: Option<String>) -> Result<(), String> {
    let applied = inner.revoked.write().expect("revocations lock").apply(e);
    inner
        .health
        .blocked
        .store(applied.is_err(), Ordering::Relaxed);
    applied.map_err(|_| unreadable(e))?;
    inner
        .health
        .set_cursor(Some(id.unwrap_or_else(|| e.id.clone())));
    Ok(())
}

/// Follows the stream from our cursor until it breaks.
async fn stream(inner: &Inner, backoff: &mut Duration, last_prune: &mut Instant) -> Break {
    let cursor = inner.health.cursor().unwrap_or_default();
    let req = inner
        .http
        .get(format!("{}/auth/revocations/stream", inner.cfg.base_url))
        .header("x-api-key", &inner.cfg.key)
        .header(header::ACCEPT, "text/event-stream")
        .header("last-event-id", cursor)
        .send();
    let mut res = match tokio::time::timeout(FETCH_TIMEOUT, req).await {
        Err(_) => return Break::Failed("stream: no answer".into()),
        Ok(Err(e)) => return Break::Failed(format!("stream: {}", e.without_url())),
        Ok(Ok(res)) => res,
    };
    match res.status().as_u16() {
        200 => {}
        400 => return Break::Reset,
        401 => {
            return Break::Failed("stream: Tessera refused the resource-server key (401)".into());
        }
        s => return Break::Failed(format!("stream: status {s}")),
    }
    // Answering is not enough to count as heard from, or to reset the backoff: a stream whose
    // first entry cannot be applied would otherwise reconnect at once, forever, never stale.
    inner.health.connected.store(true, Ordering::Relaxed);
    let mut parser = SseParser::default();
    loop {
        let chunk = match tokio::time::timeout(inner.cfg.stream_idle_timeout, res.chunk()).await {
            Err(_) => return Break::Failed("stream: silent for too long".into()),
            Ok(Err(e)) => return Break::Failed(format!("stream: {}", e.without_url())),
            Ok(Ok(None)) => return Break::Failed("stream: closed by Tessera".into()),
            Ok(Ok(Some(bytes))) => bytes,
        };
        let Ok(events) = parser.push(&chunk) else {
            return Break::Failed("stream: a line too long to be an entry".into());
        };
        for ev in events {
            match ev.event.as_str() {
                "revocation" => {
                    let entry: Entry = match serde_json::from_str(&ev.data) {
                        Ok(e) => e,
                        Err(_) => return Break::Failed("stream: an entry that is not JSON".into()),
                    };
                    if let Err(e) = apply(inner, &entry, ev.id) {
                        return Break::Failed(e);
                    }
                }
                "reset" => return Break::Reset,
                _ => {}
            }
        }
        // Only a chunk that was applied in full counts as hearing from Tessera: an entry we
        // cannot apply must end in the stale policy, not in silence.
        heard(inner);
        *backoff = Duration::from_millis(100);
        if last_prune.elapsed() >= PRUNE_EVERY {
            inner
                .revoked
                .write()
                .expect("revocations lock")
                .prune(unix_ms());
            *last_prune = Instant::now();
        }
    }
}
