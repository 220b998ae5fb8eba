//! The verifier: a handle shared by every request, the state behind it, and the per-request
//! check (no I/O unless a token names a key we have not seen).
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::http::HeaderValue;
use serde::Serialize;
use tessera_token::{Algorithm, Credential, VerifyError};

use crate::builder::{BuildError, Builder, OnStale};
use crate::clock::unix_secs;
use crate::error::AuthError;
use crate::identity::{Auth, Identity};
use crate::state::Inner;

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

impl Tessera {
    /// Starts configuring a verifier for the Tessera at `base_url` (where `/.well-known/jwks.json`
    /// and `/auth/revocations` are served), with a resource-server key (`resource_server_keys`
    /// in Tessera's config). The key is sent only to Tessera, never logged.
    pub fn builder(base_url: &str, resource_server_key: &str) -> Builder {
        Builder::new(base_url, resource_server_key)
    }

    pub(crate) fn spawn(inner: Arc<Inner>) -> Tessera {
        let tasks = vec![
            tokio::spawn(crate::jwks::maintain(inner.clone())),
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
        self.authenticate_request(&axum::http::Method::GET, "/", header, None)
            .await
    }

    /// [`Tessera::authenticate`] for a whole request: a DPoP-bound token (API.md §10) is
    /// accepted only as `Authorization: DPoP` with the request's `DPoP` proof by its key, naming
    /// `method` and [`Builder::public_url`] + `path`. This is what [`Auth`] does.
    pub async fn authenticate_request(
        &self,
        method: &axum::http::Method,
        path: &str,
        header: Option<&HeaderValue>,
        proof: Option<&HeaderValue>,
    ) -> Result<Auth, AuthError> {
        let result = self.verify(method, path, header, proof).await;
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

impl Tessera {
    async fn verify(
        &self,
        method: &axum::http::Method,
        path: &str,
        header: Option<&HeaderValue>,
        proof: Option<&HeaderValue>,
    ) -> Result<Auth, AuthError> {
        let i = &self.inner;
        let (token, dpop) = match tessera_token::bearer_credential(header.map(|h| h.as_bytes())) {
            Credential::Bearer(t) => (t, false),
            Credential::Dpop(t) => (t, true),
            Credential::Missing => return Err(AuthError::MissingToken),
            Credential::Malformed => return Err(AuthError::InvalidToken),
        };
        if !i.health.ready_now.load(Ordering::Acquire) {
            return Err(AuthError::Unavailable);
        }
        let now = unix_secs();
        let auth = match i.verified.get(token) {
            Some(a) if now >= a.exp.saturating_add(i.opts.leeway_secs) => {
                return Err(AuthError::TokenExpired);
            }
            Some(a) => a,
            None => {
                let claims = match i.keys.verify(token, &i.opts, now) {
                    Err(VerifyError::UnknownKey) => {
                        // Maybe Tessera rotated keys since we last looked.
                        crate::jwks::refetch_for_unknown_kid(i).await;
                        i.keys.verify(token, &i.opts, now)
                    }
                    other => other,
                };
                let claims = claims.map_err(|e| match e {
                    VerifyError::Expired => AuthError::TokenExpired,
                    _ => AuthError::InvalidToken,
                })?;
                let auth = Auth(Arc::new(Identity::from(claims)));
                i.verified.insert(token, auth.clone());
                auth
            }
        };
        match (&auth.jkt, dpop) {
            (None, false) => {}
            // A DPoP-bound token (cnf.jkt) is good only with a proof by its key (API.md §10).
            (Some(_), false) => return Err(AuthError::InvalidToken),
            (None, true) => {
                let why = "this token is not DPoP-bound: send it as Bearer";
                return Err(AuthError::InvalidDpopProof { why });
            }
            (Some(jkt), true) => {
                let Some(origin) = &i.cfg.public_url else {
                    let why = "this API has no public URL to check DPoP proofs against";
                    return Err(AuthError::InvalidDpopProof { why });
                };
                let proof = proof.and_then(|p| p.to_str().ok());
                let url = format!("{origin}{path}");
                crate::dpop::check(&i.replays, proof, method.as_str(), &url, token, jkt, now)
                    .map_err(|why| AuthError::InvalidDpopProof { why })?;
            }
        }
        if i.revoked.read().expect("revocations lock").refuses(&auth) {
            return Err(AuthError::SessionRevoked);
        }
        if i.is_stale() {
            match i.cfg.on_stale {
                OnStale::Refuse => return Err(AuthError::Unavailable),
                OnStale::Accept => {
                    i.stats.stale_accepted.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
        Ok(auth)
    }
}

impl Builder {
    /// Starts the background work (JWKS, revocation feed) and returns the verifier at once.
    /// Until the keys and the first revocation snapshot are in, every token is answered 503
    /// `unavailable`: await [`Tessera::ready`] before reporting ready. Needs a Tokio runtime.
    pub fn start(self) -> Result<Tessera, BuildError> {
        let url = reqwest::Url::parse(&self.base_url)
            .map_err(|e| BuildError(format!("Tessera URL {:?}: {e}", self.base_url)))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(BuildError("Tessera URL: http or https only".into()));
        }
        if self.key.is_empty() {
            return Err(BuildError("the resource-server key is empty".into()));
        }
        if self.algorithm == Some(Algorithm::HS256) {
            return Err(BuildError(
                "HS256 keys are never published: a resource server cannot verify them".into(),
            ));
        }
        if self.leeway > Duration::from_secs(tessera_token::MAX_LEEWAY_SECS as u64) {
            return Err(BuildError("leeway: at most 5 s".into()));
        }
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(BuildError("start() needs a Tokio runtime".into()));
        }
        let http = match self.http.clone() {
            Some(c) => c,
            None => reqwest::Client::builder()
                .connect_timeout(Duration::from_secs(5))
                .user_agent(concat!("tessera-axum/", env!("CARGO_PKG_VERSION")))
                .build()
                .map_err(|e| BuildError(format!("HTTP client: {e}")))?,
        };
        Ok(Tessera::spawn(Arc::new(Inner::new(self, http))))
    }
}
