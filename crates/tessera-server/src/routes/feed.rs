//! The revocation feed for resource servers (API.md §6): a page of what is in force (or of what
//! changed after a cursor), and the same as Server-Sent Events that follow new revocations as
//! this node learns of them (the revocation component's followers: no store read per stream
//! unless it must catch up). Records are read from the store, which every node shares, so any
//! node serves any cursor. Streams are counted per key (`http.max_streams_per_key`).
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
use tessera_core::revocation::{FeedError, Follower, RevocationHub};
use tokio::sync::watch;

use crate::error::{ApiError, ApiResult};
use crate::extract::{QueryParams, ReaderKey};
use crate::state::{AppState, StreamSlot};
use crate::views::RevocationPage;

/// A comment line at least this often keeps idle proxies from closing the stream.
const HEARTBEAT: Duration = Duration::from_secs(15);

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

impl From<FeedError> for ApiError {
    fn from(e: FeedError) -> Self {
        match e {
            FeedError::UnknownCursor => ApiError::not_found()
                .detail("after: a cursor this feed never issued; take a snapshot without it"),
            FeedError::Store(e) => Error::from(e).into(),
        }
    }
}

pub async fn revocations(
    State(st): State<Arc<AppState>>,
    _: ReaderKey,
    QueryParams(q): QueryParams<FeedQuery>,
) -> ApiResult<Json<RevocationPage>> {
    let hub = st.engine.revocations();
    let after = q.after.as_deref().map(cursor).transpose()?.unwrap_or(0);
    let page = hub.page_after(after).await?;
    Ok(Json(RevocationPage {
        cursor: page.cursor.to_string(),
        revocations: page.records.iter().map(|r| hub.entry(r)).collect(),
        more: page.more,
    }))
}

/// One stream's events: a `reset` for a cursor the feed does not know, else every record from
/// the revocation component's follower, until the server shuts down. Holds the key's stream
/// slot until the connection drops it.
enum Events {
    Reset,
    Follow {
        follower: Follower,
        hub: RevocationHub,
        closing: watch::Receiver<bool>,
        _slot: StreamSlot,
    },
    Done,
}

impl Events {
    async fn next(mut self) -> Option<(Result<Event, Infallible>, Events)> {
        match self {
            Events::Done => None,
            Events::Reset => Some((Ok(Event::default().event("reset").data("{}")), Events::Done)),
            Events::Follow {
                ref mut follower,
                ref hub,
                ref mut closing,
                ..
            } => {
                let r = tokio::select! {
                    r = follower.next() => r,
                    _ = closing.wait_for(|c| *c) => return None,
                };
                let event = Event::default()
                    .id(r.seq.to_string())
                    .event("revocation")
                    .json_data(hub.entry(&r))
                    .expect("an entry serializes");
                Some((Ok(event), self))
            }
        }
    }
}

pub async fn stream(
    State(st): State<Arc<AppState>>,
    ReaderKey(key): ReaderKey,
    headers: HeaderMap,
    QueryParams(q): QueryParams<FeedQuery>,
) -> ApiResult<Sse<impl Stream<Item = Result<Event, Infallible>>>> {
    let slot = st.streams.open(key).ok_or_else(|| {
        ApiError::from(Error::RateLimited {
            retry_after_secs: 5,
        })
        .detail("too many revocation streams are open with this key (http.max_streams_per_key)")
    })?;
    let hub = st.engine.revocations().clone();
    let resume = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .or(q.after);
    let after = resume.as_deref().map(cursor).transpose()?.unwrap_or(0);
    let events = match hub.follow(after).await {
        Ok(follower) => Events::Follow {
            follower,
            hub,
            closing: st.closing.subscribe(),
            _slot: slot,
        },
        // Not a cursor of this feed: the client must start over from a snapshot.
        Err(FeedError::UnknownCursor) => Events::Reset,
        Err(e) => return Err(e.into()),
    };
    let events = futures_util::stream::unfold(events, Events::next);
    Ok(Sse::new(events).keep_alive(KeepAlive::new().interval(HEARTBEAT)))
}
