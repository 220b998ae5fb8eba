//! What the verifier's requests and background tasks share: the configuration, the keys, the
//! verified-token cache, the revocations in force, and what is known of the connection to
//! Tessera.
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, RwLock};
use std::time::Instant;

use tessera_token::{VerifiedCache, VerifyOptions};
use tokio::sync::watch;

use crate::builder::Builder;
use crate::identity::Auth;
use crate::keys::KeyCache;
use crate::revoked::Revoked;

/// At most this many verified tokens are remembered; a full cache starts over.
const VERIFIED_CAPACITY: usize = 20_000;

pub(crate) struct Inner {
    pub cfg: Builder,
    pub opts: VerifyOptions,
    pub http: reqwest::Client,
    pub keys: KeyCache,
    pub verified: VerifiedCache<Auth>,
    pub revoked: RwLock<Revoked>,
    pub health: Health,
    pub stats: Stats,
    pub replays: crate::dpop::ReplayCache,
}

/// What the background work knows about its connection to Tessera.
pub(crate) struct Health {
    epoch: Instant,
    keys_loaded: AtomicBool,
    snapshot_loaded: AtomicBool,
    pub ready: watch::Sender<bool>,
    /// The same as `ready`, read on every request without the watch's lock.
    pub ready_now: AtomicBool,
    /// A stream is open and has answered.
    pub connected: AtomicBool,
    /// The next entry of the feed is one this version cannot apply: until one it can apply
    /// follows it, what Tessera revoked is not known here, so the feed counts as stale at once.
    pub blocked: AtomicBool,
    /// When Tessera's feed was last heard from, in ms since `epoch`.
    last_contact_ms: AtomicU64,
    pub stale_logged: AtomicBool,
    pub cursor: Mutex<Option<String>>,
}

#[derive(Default)]
pub(crate) struct Stats {
    pub accepted: AtomicU64,
    pub refused: AtomicU64,
    pub refused_revoked: AtomicU64,
    pub refused_unavailable: AtomicU64,
    pub stale_accepted: AtomicU64,
    pub jwks_fetches: AtomicU64,
    pub feed_reconnects: AtomicU64,
}

impl Inner {
    pub fn new(cfg: Builder, http: reqwest::Client) -> Self {
        let opts = VerifyOptions {
            issuer: cfg.issuer.clone().unwrap_or_else(|| cfg.base_url.clone()),
            audience: cfg.audience.clone(),
            leeway_secs: cfg.leeway.as_secs() as i64,
            max_lifetime_secs: None,
        };
        Inner {
            keys: KeyCache::new(cfg.algorithm),
            cfg,
            opts,
            http,
            verified: VerifiedCache::new(VERIFIED_CAPACITY),
            revoked: RwLock::new(Revoked::default()),
            health: Health {
                epoch: Instant::now(),
                keys_loaded: AtomicBool::new(false),
                snapshot_loaded: AtomicBool::new(false),
                ready: watch::Sender::new(false),
                ready_now: AtomicBool::new(false),
                connected: AtomicBool::new(false),
                blocked: AtomicBool::new(false),
                last_contact_ms: AtomicU64::new(0),
                stale_logged: AtomicBool::new(false),
                cursor: Mutex::new(None),
            },
            stats: Stats::default(),
            replays: Default::default(),
        }
    }

    /// The feed stopped at an entry this version cannot apply, or it has not been heard from
    /// for longer than the bound and no stream is open.
    pub fn is_stale(&self) -> bool {
        if self.health.blocked.load(Ordering::Relaxed) {
            return true;
        }
        !self.health.connected.load(Ordering::Relaxed)
            && self
                .health
                .silent_ms()
                .is_some_and(|ms| ms > self.cfg.stale_after.as_millis() as u64)
    }
}

impl Health {
    fn now_ms(&self) -> u64 {
        // Never 0, which means "never heard".
        self.epoch.elapsed().as_millis() as u64 + 1
    }

    /// Tessera's feed answered just now.
    pub fn contact(&self) {
        self.last_contact_ms.store(self.now_ms(), Ordering::Relaxed);
    }

    pub fn silent_ms(&self) -> Option<u64> {
        match self.last_contact_ms.load(Ordering::Relaxed) {
            0 => None,
            t => Some(self.now_ms().saturating_sub(t)),
        }
    }

    pub fn keys_loaded(&self) {
        self.keys_loaded.store(true, Ordering::SeqCst);
        self.update_ready();
    }

    pub fn snapshot_loaded(&self) {
        self.snapshot_loaded.store(true, Ordering::SeqCst);
        self.update_ready();
    }

    fn update_ready(&self) {
        if self.keys_loaded.load(Ordering::SeqCst) && self.snapshot_loaded.load(Ordering::SeqCst) {
            self.ready_now.store(true, Ordering::Release);
            self.ready.send_replace(true);
        }
    }

    pub fn cursor(&self) -> Option<String> {
        self.cursor.lock().expect("cursor lock").clone()
    }

    pub fn set_cursor(&self, cursor: Option<String>) {
        *self.cursor.lock().expect("cursor lock") = cursor;
    }
}
