//! Tessera's public keys as the verifier holds them: swapped atomically, so readers never wait
//! on a lock. `jwks.rs` fetches them.
use std::sync::{Mutex, OnceLock};
use std::time::Instant;

use arc_swap::ArcSwapOption;
use tessera_token::{AccessClaims, Algorithm, KeySet, VerifyError, VerifyOptions};
use tokio::sync::watch;

pub(crate) struct KeyCache {
    pub(crate) set: ArcSwapOption<KeySet>,
    /// Configured, or learnt from the first JWKS and then fixed.
    pub(crate) algorithm: OnceLock<Algorithm>,
    /// The fetch in flight for an unknown `kid`, if any: later askers watch it instead of
    /// starting their own.
    pub(crate) inflight: Mutex<Option<watch::Receiver<bool>>>,
    pub(crate) last_kid_fetch: Mutex<Option<Instant>>,
}

impl KeyCache {
    pub fn new(algorithm: Option<Algorithm>) -> Self {
        let pinned = OnceLock::new();
        if let Some(a) = algorithm {
            let _ = pinned.set(a);
        }
        KeyCache {
            set: ArcSwapOption::empty(),
            algorithm: pinned,
            inflight: Mutex::new(None),
            last_kid_fetch: Mutex::new(None),
        }
    }

    pub fn verify(
        &self,
        token: &str,
        opts: &VerifyOptions,
        now: i64,
    ) -> Result<AccessClaims, VerifyError> {
        match &*self.set.load() {
            Some(set) => set.verify(token, opts, now),
            None => Err(VerifyError::UnknownKey),
        }
    }
}
