//! The revocation transports (`tessera_core::revocation::RevocationTransport`): how nodes hear
//! about revocations sooner than their next poll of the store.
//!
//! - PostgreSQL ([`crate::postgres::PgNotify`]): every revocation sends `NOTIFY` in its own
//!   transaction; a listening node wakes its sync at once.
//! - Redis ([`redis::RedisTransport`], when `redis_url` is set): the revoking node publishes the
//!   record; the others apply it straight from the message.
//!
//! Both are accelerators only. Every node still polls the store, so a lost message or a dead
//! Redis costs at most one poll interval, never a revoked session let back in.
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

#[cfg(feature = "redis")]
pub mod redis;

/// Reconnect delays: from 100 ms, doubling, to at most 5 s.
pub(crate) struct Backoff(Duration);

impl Backoff {
    pub fn new() -> Self {
        Backoff(Duration::from_millis(100))
    }
    pub fn reset(&mut self) {
        self.0 = Duration::from_millis(100);
    }
    pub async fn wait(&mut self) {
        tokio::time::sleep(self.0).await;
        self.0 = (self.0 * 2).min(Duration::from_secs(5));
    }
}

/// Logs a connection going down once, and coming back once, instead of on every attempt.
pub(crate) struct Health {
    what: &'static str,
    down: AtomicBool,
}

impl Health {
    pub const fn new(what: &'static str) -> Self {
        Health {
            what,
            down: AtomicBool::new(false),
        }
    }
    pub fn down(&self, error: &dyn std::fmt::Display) {
        if !self.down.swap(true, Ordering::Relaxed) {
            tracing::warn!(%error, "{} unreachable; revocations still arrive by polling the database", self.what);
        }
    }
    pub fn up(&self) {
        if self.down.swap(false, Ordering::Relaxed) {
            tracing::info!("{} reachable again", self.what);
        }
    }
}
