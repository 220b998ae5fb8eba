//! The revocation feed for resource servers (API.md §6): a page of what is in force (or of what
//! changed after a cursor), and the same as Server-Sent Events that follow new revocations as
//! this node learns of them. Records are read from the store, which every node shares, so any
//! node serves any cursor.
use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::Stream;
use schemars::JsonSchema;
use serde::Deserialize;
use tessera_core::Error;
use tessera_core::revocation::RevocationHub;

use crate::error::{ApiError, ApiResult};
use crate::extract::{QueryParams, ReaderKey};
use crate::state::AppState;
use crate::views::{RevocationEntry, RevocationPage};

/// A comment line at least this often keeps idle proxies from closing the stream.
const HEARTBEAT: Duration = Duration::from_secs(15);
/// A follower re-reads the store this often even without news (after a failed read, say); news
/// itself arrives through the hub's change signal, at once.
const RETRY: Duration = Duration::from_secs(5);

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FeedQuery {
    /// A cursor from an earlier page or event: only what was recorded after it.
    #[schemars(regex(pattern = r"^[0-9]{1,18}$"))]
    after: Option<String>,
}

fn cursor(raw: &str) -> Result<i64, ApiError> {
    raw.parse::<i64>()
        .ok()
        .filter(|c| *c >= 0)
        .ok_or_else(|| ApiError::bad_request("after: not a cursor of this feed"))
}

pub async fn revocations(
    State(st): State<Arc<AppState>>,
    _: ReaderKey,
    QueryParams(q): QueryParams<FeedQuery>,
) -> ApiResult<Json<RevocationPage>> {
    let hub = st.engine.revocations();
    let after = q.after.as_deref().map(cursor).transpose()?.unwrap_or(0);
    if after > hub.head().await.map_err(Error::from)? {
        // A cursor this feed never issued (another database?): nothing is at that position.
        return Err(ApiError::not_found()
            .detail("after: a cursor this feed never issued; take a snapshot without it"));
    }
    let page = hub.page(after).await.map_err(Error::from)?;
    Ok(Json(RevocationPage {
        cursor: page.cursor.to_string(),
        revocations: page
            .records
            .iter()
            .map(|r| RevocationEntry::new(r, hub.until_ms(r)))
            .collect(),
        more: page.more,
    }))
}

/// What a follower of the stream has to do next.
struct Follower {
    hub: RevocationHub,
    cursor: i64,
    pending: VecDeque<Event>,
    changes: tokio::sync::watch::Receiver<u64>,
    closing: tokio::sync::watch::Receiver<bool>,
    done: bool,
}

impl Follower {
    /// The next event: a queued one, else the next page after the cursor, else whatever comes
    /// next. `None` when the server shuts down (or after a `reset`).
    async fn next(&mut self) -> Option<Event> {
        loop {
            if let Some(e) = self.pending.pop_front() {
                return Some(e);
            }
            if self.done {
                return None;
            }
            // Mark what we have seen before reading, so a change during the read is not lost.
            self.changes.borrow_and_update();
            match self.hub.page(self.cursor).await {
                Ok(page) => {
                    for r in &page.records {
                        let entry = RevocationEntry::new(r, self.hub.until_ms(r));
                        let event = Event::default()
                            .id(r.seq.to_string())
                            .event("revocation")
                            .json_data(entry)
                            .expect("an entry serializes");
                        self.pending.push_back(event);
                    }
                    self.cursor = page.cursor;
                    if page.more || !self.pending.is_empty() {
                        continue;
                    }
                }
                // The store is down: try again on the next change, or in a while.
                Err(e) => tracing::warn!(error = %e, "revocation feed read failed; will retry"),
            }
            tokio::select! {
                _ = self.changes.changed() => {}
                _ = tokio::time::sleep(RETRY) => {}
                _ = self.closing.wait_for(|c| *c) => return None,
            }
        }
    }
}

pub async fn stream(
    State(st): State<Arc<AppState>>,
    _: ReaderKey,
    headers: HeaderMap,
    QueryParams(q): QueryParams<FeedQuery>,
) -> ApiResult<Sse<impl Stream<Item = Result<Event, Infallible>>>> {
    let hub = st.engine.revocations().clone();
    let resume = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .or(q.after);
    let after = resume.as_deref().map(cursor).transpose()?.unwrap_or(0);
    let mut follower = Follower {
        cursor: after,
        pending: VecDeque::new(),
        changes: hub.changes(),
        closing: st.closing.subscribe(),
        done: false,
        hub,
    };
    if after > follower.hub.head().await.map_err(Error::from)? {
        // Not a cursor of this feed: the client must start over from a snapshot.
        follower
            .pending
            .push_back(Event::default().event("reset").data("{}"));
        follower.done = true;
    }
    let events = futures_util::stream::unfold(follower, |mut f| async move {
        f.next().await.map(|e| (Ok(e), f))
    });
    Ok(Sse::new(events).keep_alive(KeepAlive::new().interval(HEARTBEAT)))
}
