//! The feed for resource servers (API.md §6): pages of the records still in force, and followers
//! that wait for new ones.
//!
//! Followers do not read the store each. One tail per node reads it when the hub's change signal
//! says records may have been added (this node's own revocations, a broadcast, a sync that found
//! some) and hands each batch to every follower through a broadcast channel; a follower reads the
//! store only to catch up: when it starts, when it fell behind the channel, or after a failed
//! read. Two thousand idle followers cost nothing but their heartbeats.
use std::collections::VecDeque;
use std::sync::{Arc, Weak};
use std::time::Duration;

use tokio::sync::broadcast;

use super::{RevocationHub, Shared};
use crate::model::Revocation;
use crate::store::StoreError;

/// At most this many records in one page of the feed for resource servers.
pub const FEED_PAGE: i64 = 1000;
/// Batches a follower may fall behind before it catches up from the store instead.
const TAIL_BACKLOG: usize = 256;
/// After a failed read of the store, the tail or a follower tries again this much later.
const RETRY: Duration = Duration::from_secs(5);

/// One page of the feed: the records after a cursor that can still refuse an unexpired token,
/// and the cursor to ask from next.
#[derive(Clone, Debug)]
pub struct FeedPage {
    pub cursor: i64,
    pub records: Vec<Revocation>,
    /// The page is full: ask again from `cursor` for the rest.
    pub more: bool,
}

/// Why the feed cannot answer from a cursor.
#[derive(Debug, thiserror::Error)]
pub enum FeedError {
    /// A cursor this feed never issued (another database?): the client must take a snapshot.
    #[error("a cursor this feed never issued")]
    UnknownCursor,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What the tail read: every record in `(from, to]` still in force.
#[derive(Debug)]
struct Batch {
    from: i64,
    to: i64,
    records: Vec<Revocation>,
}

/// The node's one reader of new records for every follower.
pub(super) struct Tail {
    batches: broadcast::Sender<Arc<Batch>>,
}

impl Tail {
    fn start(shared: &Arc<Shared>) -> Tail {
        let (batches, _) = broadcast::channel(TAIL_BACKLOG);
        let task = TailTask {
            shared: Arc::downgrade(shared),
            changes: shared.changes.subscribe(),
            batches: batches.clone(),
        };
        tokio::spawn(task.run());
        Tail { batches }
    }
}

struct TailTask {
    /// Weak: the task ends with the hub.
    shared: Weak<Shared>,
    changes: tokio::sync::watch::Receiver<u64>,
    batches: broadcast::Sender<Arc<Batch>>,
}

impl TailTask {
    async fn run(mut self) {
        // From the head: followers catch up on what came before from the store themselves.
        let mut cursor = None;
        loop {
            let Some(shared) = self.shared.upgrade() else {
                return;
            };
            let hub = RevocationHub(shared);
            // Mark what we have seen before reading, so a change during the read is not lost.
            self.changes.borrow_and_update();
            let read = match cursor {
                None => hub.head().await.map(|h| {
                    // Tell the followers where the batches start: one that caught up to less
                    // than this head (a record landed between its read and ours) reads the
                    // rest from the store, as for any gap.
                    let _ = self.batches.send(Arc::new(Batch {
                        from: h,
                        to: h,
                        records: Vec::new(),
                    }));
                    cursor = Some(h)
                }),
                Some(c) => self.read_from(&hub, c).await.map(|c| cursor = Some(c)),
            };
            drop(hub);
            if let Err(e) = read {
                tracing::warn!(error = %e, "revocation feed read failed; will retry");
                tokio::time::sleep(RETRY).await;
            } else if self.changes.changed().await.is_err() {
                return;
            }
        }
    }

    /// Sends every record after `cursor` to the followers; the new cursor.
    async fn read_from(&self, hub: &RevocationHub, mut cursor: i64) -> Result<i64, StoreError> {
        loop {
            let page = hub.page(cursor).await?;
            let batch = Batch {
                from: cursor,
                to: page.cursor,
                records: page.records,
            };
            cursor = page.cursor;
            if batch.to > batch.from {
                // No follower listening is fine: the next one catches up itself.
                let _ = self.batches.send(Arc::new(batch));
            }
            if !page.more {
                return Ok(cursor);
            }
        }
    }
}

/// Follows the feed from a cursor: every record after it, in order, then each new one as it
/// is recorded. From [`RevocationHub::follow`].
pub struct Follower {
    hub: RevocationHub,
    /// Everything up to here has been returned.
    cursor: i64,
    batches: broadcast::Receiver<Arc<Batch>>,
    pending: VecDeque<Revocation>,
    /// Where the cursor goes once `pending` is returned.
    pending_end: Option<i64>,
    /// Read the store from the cursor before taking the next batch.
    behind: bool,
}

impl Follower {
    /// The cursor after the last record returned (or the one it started from).
    pub fn cursor(&self) -> i64 {
        self.cursor
    }

    /// The next record, waiting as long as it takes. A failed read of the store is retried.
    pub async fn next(&mut self) -> Revocation {
        loop {
            if let Some(r) = self.pending.pop_front() {
                self.cursor = self.cursor.max(r.seq);
                return r;
            }
            if let Some(end) = self.pending_end.take() {
                self.cursor = self.cursor.max(end);
            }
            if self.behind {
                match self.hub.page(self.cursor).await {
                    Ok(page) => {
                        self.pending.extend(page.records);
                        self.pending_end = Some(page.cursor);
                        self.behind = page.more;
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "revocation feed read failed; will retry");
                        tokio::time::sleep(RETRY).await;
                    }
                }
                continue;
            }
            match self.batches.recv().await {
                // Something between our cursor and this batch went by unseen: read it.
                Ok(batch) if batch.from > self.cursor => self.behind = true,
                Ok(batch) => {
                    let cursor = self.cursor;
                    let new = batch.records.iter().filter(|r| r.seq > cursor);
                    self.pending.extend(new.cloned());
                    self.pending_end = Some(batch.to);
                }
                Err(broadcast::error::RecvError::Lagged(_)) => self.behind = true,
                // The tail ended with the hub: nothing more will come.
                Err(broadcast::error::RecvError::Closed) => std::future::pending::<()>().await,
            }
        }
    }
}

impl RevocationHub {
    /// The feed: the records after `after` (0: from the start) that can still refuse an
    /// unexpired token, at most [`FEED_PAGE`], and the cursor to ask from next. Records become
    /// visible in sequence order (see the store), so no cursor skips one.
    pub async fn page(&self, after: i64) -> Result<FeedPage, StoreError> {
        let s = &self.0;
        // Read first: every record up to `head` has committed, so a page that is not full holds
        // every one of them still in force, and `head` is a safe cursor even if none is.
        let head = s.store.revocation_head().await?;
        let min_at = s.clock.now_ms() - s.access_ttl_ms - super::RETENTION_MARGIN_MS;
        let records = s.store.revocations(after, min_at, FEED_PAGE).await?;
        let more = records.len() as i64 == FEED_PAGE;
        let last = records.last().map_or(after, |r| r.seq);
        let cursor = if more {
            last
        } else {
            last.max(head).max(after)
        };
        Ok(FeedPage {
            cursor,
            records,
            more,
        })
    }

    /// [`RevocationHub::page`] for a client's cursor: [`FeedError::UnknownCursor`] for one this
    /// feed never issued.
    pub async fn page_after(&self, after: i64) -> Result<FeedPage, FeedError> {
        self.check_cursor(after).await?;
        Ok(self.page(after).await?)
    }

    /// Follows the feed from a client's cursor (0: from the start).
    pub async fn follow(&self, after: i64) -> Result<Follower, FeedError> {
        let batches = self.tail().batches.subscribe();
        self.check_cursor(after).await?;
        Ok(Follower {
            hub: self.clone(),
            cursor: after,
            batches,
            pending: VecDeque::new(),
            pending_end: None,
            behind: true,
        })
    }

    async fn check_cursor(&self, after: i64) -> Result<(), FeedError> {
        if after < 0 || after > self.head().await? {
            return Err(FeedError::UnknownCursor);
        }
        Ok(())
    }

    fn tail(&self) -> &Tail {
        self.0.tail.get_or_init(|| Tail::start(&self.0))
    }
}

#[cfg(test)]
mod tests {
    use std::future::Future;
    use std::sync::Arc;
    use std::time::Duration;

    use uuid::Uuid;

    use crate::clock::SystemClock;
    use crate::memory::MemoryStore;
    use crate::model::RevocationTarget;
    use crate::revocation::RevocationHub;
    use crate::store::RevocationStore;

    async fn revoke(store: &MemoryStore, hub: &RevocationHub) -> i64 {
        let target = RevocationTarget::Session {
            session_id: Uuid::now_v7(),
        };
        let at = crate::clock::Clock::now_ms(&SystemClock);
        let seq = store.record_revocation(&target, at).await.unwrap();
        hub.announce(vec![crate::model::Revocation { seq, target, at }]);
        seq
    }

    #[tokio::test(start_paused = true)]
    async fn followers_wait_on_the_signal_and_do_not_each_read_the_store() {
        let store = Arc::new(MemoryStore::new());
        let hub = RevocationHub::new(store.clone(), Arc::new(SystemClock), 900_000);
        let first = revoke(&store, &hub).await;
        let mut waiting = Vec::new();
        for _ in 0..100 {
            let mut f = hub.follow(0).await.unwrap();
            assert_eq!(f.next().await.seq, first, "caught up from the store");
            let (tx, rx) = tokio::sync::oneshot::channel();
            tokio::spawn(async move {
                let _ = tx.send(f.next().await.seq);
            });
            waiting.push(rx);
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
        let before = store.revocation_reads();
        // A minute of quiet: no follower reads the store (each used to, every 5 s).
        tokio::time::sleep(Duration::from_secs(60)).await;
        assert_eq!(
            store.revocation_reads(),
            before,
            "idle followers read the store"
        );
        // One revocation reaches all hundred through one read of the tail.
        let second = revoke(&store, &hub).await;
        for rx in waiting {
            assert_eq!(rx.await.unwrap(), second);
        }
        let reads = store.revocation_reads() - before;
        assert!(reads <= 2, "{reads} reads of the store for one revocation");
    }

    /// The first follower starts the tail, which takes the store's head as its start. A record
    /// written after the follower caught up but before the tail read the head is in no batch:
    /// the tail's first batch must still tell the follower where it starts.
    #[tokio::test(start_paused = true)]
    async fn a_record_between_the_first_catch_up_and_the_tail_start_is_not_lost() {
        let store = Arc::new(MemoryStore::new());
        let hub = RevocationHub::new(store.clone(), Arc::new(SystemClock), 900_000);
        let mut f = hub.follow(0).await.unwrap();
        // The follower catches up (nothing yet) and waits for the tail, which has not run.
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        assert!(std::pin::pin!(f.next()).poll(&mut cx).is_pending());
        let seq = revoke(&store, &hub).await;
        let next = tokio::time::timeout(Duration::from_secs(60), f.next()).await;
        assert_eq!(
            next.expect("the record never reached the follower").seq,
            seq
        );
    }

    #[tokio::test]
    async fn a_follower_misses_nothing_and_an_unknown_cursor_is_refused() {
        let store = Arc::new(MemoryStore::new());
        let hub = RevocationHub::new(store.clone(), Arc::new(SystemClock), 900_000);
        let a = revoke(&store, &hub).await;
        let mut late = hub.follow(a).await.unwrap();
        let mut early = hub.follow(0).await.unwrap();
        // Written with no announcement at all: only the next signal's read of the tail finds it.
        let target = RevocationTarget::User {
            user_id: Uuid::now_v7(),
        };
        let now = crate::clock::Clock::now_ms(&SystemClock);
        let b = store.record_revocation(&target, now).await.unwrap();
        let c = revoke(&store, &hub).await;
        let mut seen = Vec::new();
        for _ in 0..3 {
            seen.push(early.next().await.seq);
        }
        assert_eq!(seen, [a, b, c]);
        assert_eq!(late.next().await.seq, b);
        assert_eq!(late.next().await.seq, c);
        assert_eq!(late.cursor(), c);
        assert!(matches!(
            hub.follow(c + 1).await,
            Err(super::FeedError::UnknownCursor)
        ));
    }
}
