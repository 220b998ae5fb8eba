//! The verifier: a handle shared by every request, the state behind it, and the per-request
//! check (no I/O unless a token names a key we have not seen).
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::http::HeaderValue;
use serde::Serialize;
use tessera_token::{VerifyError, VerifyOptions};
use tokio::sync::watch;

use crate::auth::{Auth, Identity};
use crate::builder::{Builder, OnStale};
use crate::error::AuthError;
use crate::keys::KeyCache;
use crate::revoked::Revoked;
use crate::verified::VerifiedCache;

/// A Tessera verifier for one API: keys from the JWKS, revocations from the feed, both kept
/// current in the background. Cheap to clone; the background work stops when the last clone
/// is dropped.
///
/// ```no_run
/// use axum::{Router, routing::get};
/// use tessera_axum::{Auth, Require, Tessera};
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let tessera = Tessera::builder("http://127.0.0.1:8080", "the-resource-server-key").start()?;
/// tessera.ready().await;
/// let app: Router = Router::new()
///     .route("/hello", get(|auth: Auth| async move { format!("hello {}", auth.sub) }))
///     .route(
///         "/admin-only",
///         get(|| async { "for admins" }).route_layer(Require::permission("admin")),
///     )
///     .layer(tessera.layer());
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Tessera {
    pub(crate) inner: Arc<Inner>,
    _tasks: Arc<Tasks>,
}

impl std::fmt::Debug for Tessera {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tessera")
            .field("base_url", &self.inner.cfg.base_url)
            .finish_non_exhaustive()
    }
}

/// Aborts the background tasks when the last handle goes.
struct Tasks(Vec<tokio::task::JoinHandle<()>>);

impl Drop for Tasks {
    fn drop(&mut self) {
        for t in &self.0 {
            t.abort();
        }
    }
}

pub(crate) struct Inner {
    pub cfg: Builder,
    pub opts: VerifyOptions,
    pub http: reqwest::Client,
    pub keys: KeyCache,
    pub verified: VerifiedCache,
    pub revoked: RwLock<Revoked>,
    pub health: Health,
    pub stats: Stats,
}

/// What the background work knows about its connection to Tessera.
pub(crate) struct Health {
    epoch: Instant,
    keys_loaded: AtomicBool,
    snapshot_loaded: AtomicBool,
    ready: watch::Sender<bool>,
    /// The same as `ready`, read on every request without the watch's lock.
    ready_now: AtomicBool,
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

/// A snapshot of the verifier's state, for health checks, logs and metrics.
#[derive(Clone, Debug, Serialize)]
#[non_exhaustive]
pub struct Status {
    /// Keys and the first revocation snapshot are loaded: tokens can be verified.
    pub ready: bool,
    /// The revocation stream is open.
    pub feed_connected: bool,
    /// Milliseconds since Tessera's feed was last heard from (`None` before the first time).
    pub feed_silent_ms: Option<u64>,
    /// The feed has been unreachable for longer than [`Builder::stale_after`], or stopped at an
    /// entry this version cannot apply (`feed_blocked`): tokens are refused (or, with
    /// [`OnStale::Accept`], accepted and counted in `stale_accepted`).
    pub stale: bool,
    /// The feed's next entry is one this version cannot apply (Tessera is newer): it is never
    /// skipped, and the feed counts as stale until an entry this version can apply follows it.
    pub feed_blocked: bool,
    /// The last feed cursor applied.
    pub cursor: Option<String>,
    /// Revocation entries held.
    pub revocations: usize,
    /// Tokens accepted.
    pub accepted: u64,
    /// Tokens refused (all reasons, including the two below).
    pub refused: u64,
    /// Tokens refused because their session was revoked.
    pub refused_revoked: u64,
    /// Tokens refused with 503 (not ready, or the feed stale).
    pub refused_unavailable: u64,
    /// Tokens accepted while the feed was stale, under [`OnStale::Accept`].
    pub stale_accepted: u64,
    /// JWKS fetches that succeeded.
    pub jwks_fetches: u64,
    /// Times the revocation stream had to be reopened.
    pub feed_reconnects: u64,
}

/// Unix time in seconds.
pub(crate) fn unix_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// Unix time in milliseconds.
pub(crate) fn unix_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// The token of an `Authorization: Bearer` header (scheme case-insensitive). A header of another
/// scheme counts as no credential (API.md §2).
pub(crate) fn bearer(header: Option<&HeaderValue>) -> Result<&str, AuthError> {
    let value = header
        .and_then(|h| h.to_str().ok())
        .ok_or(AuthError::MissingToken)?;
    let (scheme, token) = value.split_once(' ').ok_or(AuthError::MissingToken)?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(AuthError::MissingToken);
    }
    let token = token.trim();
    if token.is_empty() {
        return Err(AuthError::InvalidToken);
    }
    Ok(token)
}

impl Tessera {
    /// Starts configuring a verifier for the Tessera at `base_url` (where `/.well-known/jwks.json`
    /// and `/auth/revocations` are served), with a resource-server key (`resource_server_keys`
    /// in Tessera's config). The key is sent only to Tessera, never logged.
    pub fn builder(base_url: &str, resource_server_key: &str) -> Builder {
        Builder::new(base_url, resource_server_key)
    }

    pub(crate) fn spawn(inner: Arc<Inner>) -> Tessera {
        let tasks = vec![
            tokio::spawn(crate::keys::maintain(inner.clone())),
            tokio::spawn(crate::feed::follow(inner.clone())),
        ];
        Tessera {
            inner,
            _tasks: Arc::new(Tasks(tasks)),
        }
    }

    /// The layer that makes this verifier available to [`Auth`], `Option<Auth>` and
    /// [`Require`](crate::Require) on every route below it. Put it outermost
    /// (`.layer(tessera.layer())` after the routes and their guards).
    pub fn layer(&self) -> axum::Extension<Tessera> {
        axum::Extension(self.clone())
    }

    /// Completes once the keys and the first revocation snapshot are loaded (it may wait
    /// forever if Tessera never answers; wrap it in a timeout if that matters).
    ///
    /// ```no_run
    /// # async fn run(tessera: tessera_axum::Tessera) {
    /// use std::time::Duration;
    /// if tokio::time::timeout(Duration::from_secs(10), tessera.ready()).await.is_err() {
    ///     eprintln!("Tessera is not answering yet; serving 503 until it does");
    /// }
    /// # }
    /// ```
    pub async fn ready(&self) {
        let mut rx = self.inner.health.ready.subscribe();
        let _ = rx.wait_for(|r| *r).await;
    }

    /// Whether tokens can be verified now: ready, and the feed not stale.
    pub fn is_ready(&self) -> bool {
        self.inner.health.ready_now.load(Ordering::Acquire) && !self.inner.is_stale()
    }

    /// The verifier's state and counters: for a health route, logs or metrics.
    ///
    /// ```no_run
    /// # fn run(tessera: tessera_axum::Tessera) {
    /// let s = tessera.status();
    /// if s.stale {
    ///     eprintln!("revocation feed silent for {:?} ms", s.feed_silent_ms);
    /// }
    /// println!("accepted {} refused {} (revoked {})", s.accepted, s.refused, s.refused_revoked);
    /// # }
    /// ```
    pub fn status(&self) -> Status {
        let i = &self.inner;
        let h = &i.health;
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
        Status {
            ready: *h.ready.borrow(),
            feed_connected: h.connected.load(Ordering::Relaxed),
            feed_silent_ms: h.silent_ms(),
            stale: i.is_stale(),
            feed_blocked: h.blocked.load(Ordering::Relaxed),
            cursor: h.cursor.lock().expect("cursor lock").clone(),
            revocations: i.revoked.read().expect("revocations lock").len(),
            accepted: load(&i.stats.accepted),
            refused: load(&i.stats.refused),
            refused_revoked: load(&i.stats.refused_revoked),
            refused_unavailable: load(&i.stats.refused_unavailable),
            stale_accepted: load(&i.stats.stale_accepted),
            jwks_fetches: load(&i.stats.jwks_fetches),
            feed_reconnects: load(&i.stats.feed_reconnects),
        }
    }

    /// Verifies the token of an `Authorization` header: signature and claims from the JWKS,
    /// then the revocations in force, then the feed's health. This is what [`Auth`] does; call
    /// it directly outside axum's extractors.
    ///
    /// ```no_run
    /// # async fn run(tessera: tessera_axum::Tessera, headers: axum::http::HeaderMap) {
    /// match tessera.authenticate(headers.get("authorization")).await {
    ///     Ok(auth) => println!("user {} in session {}", auth.sub, auth.sid),
    ///     Err(e) => println!("refused: {}", e.code()),
    /// }
    /// # }
    /// ```
    pub async fn authenticate(&self, header: Option<&HeaderValue>) -> Result<Auth, AuthError> {
        let result = self.inner.authenticate(header).await;
        let stats = &self.inner.stats;
        match &result {
            Ok(_) => stats.accepted.fetch_add(1, Ordering::Relaxed),
            Err(e) => {
                match e {
                    AuthError::SessionRevoked => {
                        stats.refused_revoked.fetch_add(1, Ordering::Relaxed)
                    }
                    AuthError::Unavailable => {
                        stats.refused_unavailable.fetch_add(1, Ordering::Relaxed)
                    }
                    _ => 0,
                };
                stats.refused.fetch_add(1, Ordering::Relaxed)
            }
        };
        result
    }
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
            verified: VerifiedCache::default(),
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
        }
    }

    async fn authenticate(
        self: &Arc<Self>,
        header: Option<&HeaderValue>,
    ) -> Result<Auth, AuthError> {
        let token = bearer(header)?;
        if !self.health.ready_now.load(Ordering::Acquire) {
            return Err(AuthError::Unavailable);
        }
        let now = unix_secs();
        let auth = match self.verified.get(token) {
            Some(a) if now >= a.exp.saturating_add(self.opts.leeway_secs) => {
                return Err(AuthError::TokenExpired);
            }
            Some(a) => a,
            None => {
                let claims = match self.keys.verify(token, &self.opts, now) {
                    Err(VerifyError::UnknownKey) => {
                        // Maybe Tessera rotated keys since we last looked.
                        crate::keys::refetch_for_unknown_kid(self).await;
                        self.keys.verify(token, &self.opts, now)
                    }
                    other => other,
                };
                let claims = claims.map_err(|e| match e {
                    VerifyError::Expired => AuthError::TokenExpired,
                    _ => AuthError::InvalidToken,
                })?;
                let auth = Auth(Arc::new(Identity::from(claims)));
                self.verified.insert(token, auth.clone());
                auth
            }
        };
        if self
            .revoked
            .read()
            .expect("revocations lock")
            .refuses(&auth)
        {
            return Err(AuthError::SessionRevoked);
        }
        if self.is_stale() {
            match self.cfg.on_stale {
                OnStale::Refuse => return Err(AuthError::Unavailable),
                OnStale::Accept => {
                    self.stats.stale_accepted.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
        Ok(auth)
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

/// Waits `d`; a helper so the background loops read plainly.
pub(crate) async fn pause(d: Duration) {
    tokio::time::sleep(d).await;
}
