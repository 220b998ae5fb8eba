//! The engine: one struct that the server's handlers (or an embedding app) call.
//!
//! - `accounts`: register, login, password change.
//! - `sessions`: refresh with rotation, grace and reuse detection; logout; list and revoke.
//! - `verify`: access tokens, checked against keys and the revocation set, without I/O.
use std::sync::Arc;

use tessera_token::{Algorithm, Jwks, VerifyOptions};
use uuid::Uuid;

use crate::clock::Clock;
use crate::error::Error;
use crate::model::{Event, KeyRecord, KeyState, User, event_kind};
use crate::passwords::{Hasher, PasswordPolicy};
use crate::ratelimit::{MemoryLimiter, RateLimiter};
use crate::revocation::{RevocationHub, RevocationTransport};
use crate::secrets::{DerivedKeys, MasterKey, Redacted};
use crate::stats::Stats;
use crate::store::Store;

pub mod accounts;
mod admin;
pub mod app_sessions;
mod dpop;
mod issue;
mod keyring;
mod limits;
pub mod mfa;
pub mod outbox;
pub mod passkeys;
pub mod recovery;
mod revoke;
mod sessions;
pub mod step_up;
pub mod validate;
mod verify;

/// How many verified access tokens a node remembers (so a reused token skips the signature
/// check); a full cache starts over.
pub const VERIFIED_CACHE_CAPACITY: usize = 50_000;
pub use verify::Principal;

use keyring::KeyRing;

/// What the engine is told by the configuration. Durations are milliseconds; 0 disables the
/// idle timeout, the absolute lifetime, the reuse grace or password expiry.
#[derive(Clone, Debug)]
pub struct EngineConfig {
    pub issuer: String,
    pub audience: Vec<String>,
    pub algorithm: Algorithm,
    pub hs256_secret: Option<Redacted<Vec<u8>>>,
    pub access_ttl_ms: i64,
    pub refresh_ttl_ms: i64,
    pub session_max_lifetime_ms: i64,
    pub reuse_grace_ms: i64,
    pub password_max_age_ms: i64,
    pub passwords: PasswordPolicy,
    pub public_registration: bool,
    /// Concurrent Argon2 hashes (the blocking pool is bounded by this).
    pub hash_permits: usize,
    /// Clock skew tolerated when verifying, at most 5 s.
    pub leeway_secs: i64,
    pub rate_limit: RateLimitPolicy,
    /// If non-empty, the only namespaces login and register accept (`[sessions] namespaces`).
    pub namespaces: Vec<String>,
    /// Live sessions per user (`[sessions] max_per_user`); 0 is unlimited.
    pub max_sessions_per_user: u32,
    /// Account mail (`[email]`).
    pub mail: crate::mail::MailConfig,
    /// Second factors (`[mfa]`).
    pub mfa: mfa::MfaConfig,
    /// `[dpop]`: only `required` is the engine's; proofs are checked where the request is seen.
    pub dpop_required: bool,
    /// `[events] refreshes`: record a `session.refreshed` event per refresh. Off, a refresh
    /// writes the session row only (the row keeps `refresh_count` and `rotated_at` anyway).
    pub refresh_events: bool,
}

/// Login throttling. A limit of 0 is off.
#[derive(Clone, Debug)]
pub struct RateLimitPolicy {
    /// Login and register attempts per client IP per minute.
    pub per_ip_per_minute: u32,
    /// Failed logins per account (known or not) within `failed_login_window_ms`.
    pub failed_logins_per_account: u32,
    pub failed_login_window_ms: i64,
}

impl Default for RateLimitPolicy {
    fn default() -> Self {
        RateLimitPolicy {
            per_ip_per_minute: 30,
            failed_logins_per_account: 10,
            failed_login_window_ms: 15 * 60_000,
        }
    }
}

impl EngineConfig {
    /// Defaults of API.md §1 for the given issuer.
    pub fn new(issuer: impl Into<String>) -> Self {
        EngineConfig {
            issuer: issuer.into(),
            audience: vec![],
            algorithm: Algorithm::EdDSA,
            hs256_secret: None,
            access_ttl_ms: 15 * 60_000,
            refresh_ttl_ms: 14 * 86_400_000,
            session_max_lifetime_ms: 90 * 86_400_000,
            reuse_grace_ms: 30_000,
            password_max_age_ms: 0,
            passwords: PasswordPolicy::default(),
            public_registration: true,
            hash_permits: std::thread::available_parallelism().map_or(2, |n| n.get()),
            leeway_secs: 5,
            rate_limit: RateLimitPolicy::default(),
            namespaces: Vec::new(),
            max_sessions_per_user: 0,
            mail: crate::mail::MailConfig::disabled(""),
            mfa: mfa::MfaConfig::default(),
            dpop_required: false,
            refresh_events: true,
        }
    }
}

/// Who is asking, for session metadata and events.
#[derive(Clone, Debug, Default)]
pub struct RequestMeta {
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

/// A token response (API.md §4.1). Token fields are [`Redacted`] so `Debug` cannot leak them.
#[derive(Debug)]
pub struct Issued {
    pub access_token: Redacted<String>,
    pub expires_in: i64,
    /// Unix seconds.
    pub access_expires_at: i64,
    pub refresh_token: Redacted<String>,
    /// Unix milliseconds.
    pub refresh_expires_at: i64,
    pub session_id: Uuid,
    pub csrf_token: Redacted<String>,
    /// The user, as the token response shows it (`mfa` is left empty: filling it would cost
    /// every refresh a read of the factors, and the token response does not carry it).
    pub user: User,
    /// The session is bound to a DPoP key: `token_type` is `DPoP` (API.md §10).
    pub dpop_bound: bool,
}

/// The session engine.
pub struct Engine {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    cfg: EngineConfig,
    verify_opts: VerifyOptions,
    secrets: DerivedKeys,
    keys: KeyRing,
    revocations: RevocationHub,
    hasher: Hasher,
    limiter: Arc<dyn RateLimiter>,
    stats: Stats,
    verified: tessera_token::VerifiedCache<std::sync::Arc<Principal>>,
    /// Woken when mail is queued, so this node's worker sends it at once.
    mail_queued: tokio::sync::Notify,
    /// The WebAuthn relying party of `[webauthn]`, if there can be one.
    webauthn: Option<Arc<webauthn_rs::Webauthn>>,
}

impl Engine {
    /// Builds the engine: loads (or makes) the signing keys and the recent revocations.
    pub async fn start(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        master: &MasterKey,
        cfg: EngineConfig,
    ) -> Result<Self, Error> {
        let secrets = master.derive();
        let keys = KeyRing::load(
            store.as_ref(),
            &secrets,
            cfg.algorithm,
            cfg.hs256_secret.clone(),
            cfg.access_ttl_ms + tessera_token::MAX_LEEWAY_SECS * 1000,
            clock.now_ms(),
        )
        .await?;
        let hasher = Hasher::new(&cfg.passwords, cfg.hash_permits).map_err(|e| {
            tracing::error!(%e, "Argon2 parameters rejected");
            Error::Internal
        })?;
        let webauthn = match &cfg.mfa.passkeys {
            Some(p) => Some(Arc::new(p.relying_party().map_err(|e| {
                tracing::error!(%e, "webauthn settings rejected");
                Error::Internal
            })?)),
            None => None,
        };
        let engine = Engine {
            webauthn,
            verify_opts: VerifyOptions {
                issuer: cfg.issuer.clone(),
                audience: cfg.audience.clone(),
                leeway_secs: cfg.leeway_secs,
                max_lifetime_secs: Some(cfg.access_ttl_ms / 1000),
            },
            revocations: RevocationHub::new(store.clone(), clock.clone(), cfg.access_ttl_ms),
            store,
            clock,
            cfg,
            secrets,
            keys,
            hasher,
            limiter: Arc::new(MemoryLimiter::new()),
            stats: Stats::default(),
            verified: tessera_token::VerifiedCache::new(VERIFIED_CACHE_CAPACITY),
            mail_queued: tokio::sync::Notify::new(),
        };
        engine.revocations.sync().await?;
        Ok(engine)
    }

    pub fn config(&self) -> &EngineConfig {
        &self.cfg
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    pub fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }

    /// What the engine has done so far, for metrics.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// How long the current signing key has been signing, in seconds.
    pub fn signing_key_age_secs(&self) -> i64 {
        (self.clock.now_ms() - self.keys.get().activated_at).max(0) / 1000
    }

    /// The published keys.
    pub fn jwks(&self) -> Jwks {
        self.keys.get().jwks.clone()
    }

    /// Revocation: the set verification consults, how it is kept in step with other nodes, and
    /// how long-lived processes start following them ([`RevocationHub::start`]).
    pub fn revocations(&self) -> &RevocationHub {
        &self.revocations
    }

    /// Rotates the signing keys now: `next` starts signing (it has been published all along),
    /// `current` retires (still published, so its tokens keep verifying), a new `next` is made.
    /// Returns the key that now signs. HS256, whose key is the configured secret, cannot rotate.
    pub async fn rotate_keys(&self) -> Result<KeyRecord, Error> {
        let alg = self.cfg.algorithm;
        if alg == Algorithm::HS256 {
            return Err(Error::NotFound);
        }
        for _ in 0..3 {
            let current = self.current_key_record().await?;
            let now = self.clock.now_ms();
            let next = keyring::new_record(&self.secrets, alg, KeyState::Next, now)?;
            let event = Event {
                detail: serde_json::json!({"retired": current.kid}),
                ..Event::new(event_kind::KEY_ROTATED, now)
            };
            let rotated = self
                .store
                .rotate_keys(&current.kid, &next, now, &event)
                .await?;
            self.reload_keys().await?;
            if rotated {
                return self.current_key_record().await;
            }
        }
        Err(Error::Unavailable)
    }

    /// Rotates when the current key has signed for `interval_ms` (0: never). Every node may call
    /// this; the store lets exactly one rotation through.
    pub async fn rotate_keys_if_due(&self, interval_ms: i64) -> Result<bool, Error> {
        if interval_ms <= 0 || self.cfg.algorithm == Algorithm::HS256 {
            return Ok(false);
        }
        let current = self.current_key_record().await?;
        let since = current.activated_at.unwrap_or(current.created_at);
        if self.clock.now_ms() - since < interval_ms {
            return Ok(false);
        }
        let now = self.clock.now_ms();
        let next = keyring::new_record(&self.secrets, self.cfg.algorithm, KeyState::Next, now)?;
        let event = Event {
            detail: serde_json::json!({"retired": current.kid, "automatic": true}),
            ..Event::new(event_kind::KEY_ROTATED, now)
        };
        let rotated = self
            .store
            .rotate_keys(&current.kid, &next, now, &event)
            .await?;
        self.reload_keys().await?;
        Ok(rotated)
    }

    /// The stored keys of the configured algorithm, newest first (no private parts leave the
    /// sealed bytes).
    pub async fn key_records(&self) -> Result<Vec<KeyRecord>, Error> {
        let mut keys: Vec<_> = self
            .store
            .keys()
            .await?
            .into_iter()
            .filter(|k| k.alg == self.cfg.algorithm.as_str())
            .collect();
        keys.sort_by_key(|k| std::cmp::Reverse(k.created_at));
        Ok(keys)
    }

    async fn current_key_record(&self) -> Result<KeyRecord, Error> {
        self.key_records()
            .await?
            .into_iter()
            .find(|k| k.state == KeyState::Current)
            .ok_or(Error::Internal)
    }

    /// Re-reads the key set from the store.
    pub async fn reload_keys(&self) -> Result<(), Error> {
        let changed = self
            .keys
            .reload(self.store.as_ref(), &self.secrets, self.clock.now_ms())
            .await?;
        if changed {
            // Only keys vouch for cached verifications; a different set starts the cache over.
            self.verified.clear();
        }
        Ok(())
    }

    /// Whether the store answers.
    pub async fn ready(&self) -> bool {
        self.store.ping().await.is_ok()
    }

    /// Counts rate limits with `limiter` (shared across nodes, say) instead of in memory.
    pub fn with_rate_limiter(mut self, limiter: Arc<dyn RateLimiter>) -> Self {
        self.limiter = limiter;
        self
    }

    /// Adds a way for revocations to travel between nodes (the store's `NOTIFY`, Redis pub/sub):
    /// this node's revocations are published on it, and [`RevocationHub::start`] listens on it.
    pub fn with_revocation_transport(self, transport: Arc<dyn RevocationTransport>) -> Self {
        self.revocations.add_transport(transport);
        self
    }
}
