//! Revocation, in one place (DESIGN.md §3): the in-memory set every verifier consults, how
//! records reach it (this node's own writes, push from other nodes through the
//! [`RevocationTransport`]s, a poll of the store as the fallback, and the load at start), and the
//! last step of every revocation (apply here, then broadcast).
//!
//! The engine owns one [`RevocationHub`]; whoever runs the engine (the server, the CLI, an
//! embedding app) adds the transports its store offers and calls [`RevocationHub::start`].
use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, RwLock};
use std::time::Duration;

use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;
use uuid::Uuid;

use crate::clock::Clock;
use crate::model::Revocation;
use crate::store::{Store, StoreError};

mod feed;
mod set;
mod transport;

pub use feed::{FEED_PAGE, FeedError, FeedPage, Follower};
pub use set::RevocationSet;
pub use transport::{Inbox, RevocationTransport};

/// How many revocation records one sync reads at a time.
const SYNC_BATCH: i64 = 1000;
/// How many past syncs a sync looks back over (at one sync per 500 ms, about 10 s).
const SYNC_LOOKBACK: usize = 20;
/// Records older than `access_ttl` plus this can no longer refuse an unexpired token.
const RETENTION_MARGIN_MS: i64 = tessera_revocation::RETENTION_MARGIN_MS;

/// See the module docs. Clones share one hub.
#[derive(Clone)]
pub struct RevocationHub(Arc<Shared>);

pub(crate) struct Shared {
    set: RevocationSet,
    wake: Notify,
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    access_ttl_ms: i64,
    transports: RwLock<Vec<Arc<dyn RevocationTransport>>>,
    /// Watermarks of recent syncs, oldest first: each sync re-reads the feed from the oldest, so
    /// a record whose sequence number committed late (PostgreSQL hands out identities before
    /// commit) is still seen. Applying a record twice is harmless.
    recent_watermarks: Mutex<VecDeque<i64>>,
    /// Broadcasts still being sent, so a short-lived process can wait for them.
    broadcasting: AtomicUsize,
    settled: Notify,
    /// Bumped whenever records may have been added (for followers of the feed).
    changes: watch::Sender<u64>,
    /// The feed's reader for its followers, started by the first one.
    tail: OnceLock<feed::Tail>,
}

impl Shared {
    fn changed(&self) {
        self.changes.send_modify(|n| *n = n.wrapping_add(1));
    }
}

impl RevocationHub {
    pub(crate) fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>, access_ttl_ms: i64) -> Self {
        RevocationHub(Arc::new(Shared {
            set: RevocationSet::new(access_ttl_ms),
            wake: Notify::new(),
            store,
            clock,
            access_ttl_ms,
            transports: RwLock::new(Vec::new()),
            recent_watermarks: Mutex::new(VecDeque::new()),
            broadcasting: AtomicUsize::new(0),
            settled: Notify::new(),
            changes: watch::channel(0).0,
            tail: OnceLock::new(),
        }))
    }

    pub(crate) fn add_transport(&self, transport: Arc<dyn RevocationTransport>) {
        self.0
            .transports
            .write()
            .expect("transports lock")
            .push(transport);
    }

    /// Whether a token of session `sid`, user `sub`, namespace `ns`, issued at `issued_ms`, has
    /// been revoked. A hash lookup, no I/O.
    pub fn is_revoked(&self, sid: &Uuid, sub: &Uuid, ns: &str, issued_ms: i64) -> bool {
        self.0.set.is_revoked(sid, sub, ns, issued_ms)
    }

    /// The set itself (for metrics and tests).
    pub fn set(&self) -> &RevocationSet {
        &self.0.set
    }

    /// Reads the store's records newer than this node's watermark and applies them: at start,
    /// on every poll, and at once when a transport says something happened.
    pub async fn sync(&self) -> Result<usize, StoreError> {
        let s = &self.0;
        let before = s.set.watermark();
        let min_at = s.clock.now_ms() - s.access_ttl_ms - RETENTION_MARGIN_MS;
        let mut from = {
            let mut recent = s.recent_watermarks.lock().expect("watermarks lock");
            recent.push_back(s.set.watermark());
            if recent.len() > SYNC_LOOKBACK {
                recent.pop_front();
            }
            recent.front().copied().unwrap_or(0)
        };
        let mut applied = 0;
        loop {
            let batch = s.store.revocations(from, min_at, SYNC_BATCH).await?;
            from = batch.last().map_or(from, |r| r.seq);
            for r in &batch {
                s.set.apply(r);
            }
            s.set.advance(from);
            applied += batch.len();
            if (batch.len() as i64) < SYNC_BATCH {
                break;
            }
        }
        s.set.prune(s.clock.now_ms());
        if s.set.watermark() > before {
            s.changed();
        }
        Ok(applied)
    }

    /// The last step of every revocation, once the store has the records: refused here from
    /// now on, then broadcast without waiting (a request never depends on a transport).
    pub(crate) fn announce(&self, records: Vec<Revocation>) {
        for r in &records {
            self.0.set.apply(r);
        }
        if !records.is_empty() {
            self.0.changed();
        }
        let transports = self.0.transports.read().expect("transports lock").clone();
        if records.is_empty() || transports.is_empty() {
            return;
        }
        self.0.broadcasting.fetch_add(1, Ordering::SeqCst);
        let shared = self.0.clone();
        tokio::spawn(async move {
            for t in &transports {
                t.publish(&records).await;
            }
            if shared.broadcasting.fetch_sub(1, Ordering::SeqCst) == 1 {
                shared.settled.notify_waiters();
            }
        });
    }

    /// Waits (at most `limit`) until this node's broadcasts have been sent: for a process that
    /// revokes and exits, like the CLI.
    pub async fn settle(&self, limit: Duration) {
        let wait = async {
            loop {
                let settled = self.0.settled.notified();
                if self.0.broadcasting.load(Ordering::SeqCst) == 0 {
                    return;
                }
                settled.await;
            }
        };
        let _ = tokio::time::timeout(limit, wait).await;
    }

    /// The feed's newest cursor: a cursor beyond it belongs to another feed (a new database).
    pub async fn head(&self) -> Result<i64, StoreError> {
        self.0.store.revocation_head().await
    }

    /// When a record stops mattering (unix ms): no token it can refuse is unexpired after this.
    pub fn until_ms(&self, r: &Revocation) -> i64 {
        tessera_revocation::until_ms(r.at, self.0.access_ttl_ms)
    }

    /// The feed's entry for a record (`tessera-revocation`'s wire format).
    pub fn entry(&self, r: &Revocation) -> tessera_revocation::Entry {
        let rule = tessera_revocation::Rule {
            target: r.target.clone(),
            issued_up_to_ms: r.at,
            until_ms: self.until_ms(r),
        };
        tessera_revocation::Entry::new(r.seq, &rule)
    }

    /// Changes whenever records may have been added to the feed: this node's own, a broadcast,
    /// or a sync that found new ones.
    pub fn changes(&self) -> watch::Receiver<u64> {
        self.0.changes.subscribe()
    }

    /// Starts following the other nodes: every transport's listener, and the poll of the store
    /// every `poll` (the bound on how late a revocation is seen if every broadcast is lost).
    /// The tasks stop when the returned value is dropped.
    pub fn start(&self, poll: Duration) -> Background {
        let mut tasks = Vec::new();
        let transports = self.0.transports.read().expect("transports lock").clone();
        let names: Vec<&str> = transports.iter().map(|t| t.name()).collect();
        tracing::info!(
            broadcasts = ?names,
            poll_ms = poll.as_millis() as u64,
            "following other nodes' revocations"
        );
        for t in transports {
            let inbox = Inbox(self.0.clone());
            tasks.push(tokio::spawn(async move { t.listen(inbox).await }));
        }
        let hub = RevocationHub(self.0.clone());
        tasks.push(tokio::spawn(async move {
            let mut tick = tokio::time::interval(poll);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = tick.tick() => {}
                    _ = hub.0.wake.notified() => {}
                }
                if let Err(e) = hub.sync().await {
                    tracing::warn!(error = %e, "revocation sync failed; will retry");
                }
            }
        }));
        Background(tasks)
    }
}

/// The tasks [`RevocationHub::start`] runs; dropping this stops them.
pub struct Background(Vec<JoinHandle<()>>);

impl Drop for Background {
    fn drop(&mut self) {
        for t in &self.0 {
            t.abort();
        }
    }
}
