//! Fetching Tessera's public keys: loaded before the verifier is ready, fetched again in the
//! background and at once when a token names a `kid` we do not know (a rotation on Tessera),
//! one fetch at a time in its own task that waiters only watch.
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use tessera_token::{Jwks, KeySet};
use tokio::sync::watch;

use crate::clock::pause;
use crate::state::Inner;

/// A JWKS fetch that takes longer than this has failed.
const FETCH_TIMEOUT: Duration = Duration::from_secs(5);
/// A JWKS bigger than this is not Tessera's.
const MAX_JWKS_BYTES: usize = 256 * 1024;

/// Fetches the JWKS and swaps the key set in. Keys that left the JWKS stop verifying at once.
pub(crate) async fn load(inner: &Inner) -> Result<(), String> {
    let url = format!("{}/.well-known/jwks.json", inner.cfg.base_url);
    let res = inner
        .http
        .get(&url)
        .timeout(FETCH_TIMEOUT)
        .send()
        .await
        .map_err(|e| format!("JWKS fetch: {}", e.without_url()))?;
    if !res.status().is_success() {
        return Err(format!("JWKS fetch: status {}", res.status()));
    }
    let body = crate::body::read_limited(res, MAX_JWKS_BYTES, "JWKS fetch").await?;
    let keys = &inner.keys;
    let algorithm = match keys.algorithm.get() {
        Some(a) => *a,
        None => {
            let found = Jwks::algorithms(&body).map_err(|e| format!("JWKS: {e}"))?;
            let [one] = found.as_slice() else {
                return Err(format!(
                    "JWKS names {} algorithms ({found:?}); pin one with Builder::algorithm",
                    found.len()
                ));
            };
            *keys.algorithm.get_or_init(|| *one)
        }
    };
    let parsed = Jwks::parse_verifying_keys(&body, algorithm).map_err(|e| format!("JWKS: {e}"))?;
    if parsed.is_empty() {
        return Err(format!("JWKS: no usable {algorithm} key"));
    }
    let count = parsed.len();
    keys.set
        .store(Some(Arc::new(KeySet::new(algorithm, parsed))));
    inner.verified.clear();
    inner.stats.jwks_fetches.fetch_add(1, Ordering::Relaxed);
    tracing::debug!(keys = count, %algorithm, "Tessera keys loaded");
    Ok(())
}

/// Fetches the JWKS again because a token named an unknown `kid`, at most once per
/// `kid_refetch_interval`, one fetch at a time; returns when that fetch is over (or at once
/// when rate-limited).
pub(crate) async fn refetch_for_unknown_kid(inner: &Arc<Inner>) {
    let mut done = {
        let mut slot = inner.keys.inflight.lock().expect("inflight lock");
        match &*slot {
            Some(rx) => rx.clone(),
            None => {
                let mut last = inner.keys.last_kid_fetch.lock().expect("fetch lock");
                if last.is_some_and(|t| t.elapsed() < inner.cfg.kid_refetch_interval) {
                    return;
                }
                *last = Some(Instant::now());
                let (tx, rx) = watch::channel(false);
                *slot = Some(rx.clone());
                let fetcher = inner.clone();
                // In its own task: a request that gives up must not cancel everyone's fetch.
                tokio::spawn(async move {
                    if let Err(e) = load(&fetcher).await {
                        tracing::warn!(error = %e, "JWKS fetch for an unknown kid failed");
                    }
                    *fetcher.keys.inflight.lock().expect("inflight lock") = None;
                    let _ = tx.send(true);
                });
                rx
            }
        }
    };
    let _ = done.wait_for(|d| *d).await;
}

/// Loads the keys (retrying until Tessera answers), then keeps them fresh.
pub(crate) async fn maintain(inner: Arc<Inner>) {
    let mut backoff = Duration::from_millis(100);
    loop {
        match load(&inner).await {
            Ok(()) => break,
            Err(e) => {
                tracing::warn!(error = %e, tessera = %inner.cfg.base_url, "cannot load Tessera's keys yet; retrying");
                pause(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(5));
            }
        }
    }
    inner.health.keys_loaded();
    loop {
        pause(inner.cfg.jwks_refresh).await;
        // The old keys stay in use until a fetch succeeds.
        let mut retry = Duration::from_secs(1);
        while let Err(e) = load(&inner).await {
            tracing::warn!(error = %e, "JWKS refresh failed; keeping the keys we have");
            pause(retry).await;
            retry = (retry * 2).min(inner.cfg.jwks_refresh);
        }
    }
}
