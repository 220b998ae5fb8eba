//! Rate limits: fixed windows counted per key, behind a trait so a cluster can share counters
//! (Redis) while a single node counts in memory.
use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;

/// The outcome of a check.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    Allowed,
    /// Over the limit; the window ends in this many seconds (at least 1).
    Limited {
        retry_after_secs: u64,
    },
}

/// Counters in fixed windows. Implementations never fail: one that loses its backend falls back
/// to counting locally (never to no limit).
#[async_trait]
pub trait RateLimiter: Send + Sync + 'static {
    /// Counts one attempt for `key`; `Limited` once the count in the window exceeds `limit`.
    async fn hit(&self, key: &str, limit: u32, window_ms: i64, now_ms: i64) -> Decision;
    /// Whether `key` has already reached `limit` in its window, without counting.
    async fn check(&self, key: &str, limit: u32, window_ms: i64, now_ms: i64) -> Decision;
    /// Forgets `key`'s count.
    async fn reset(&self, key: &str);
}

/// Counts in this process.
#[derive(Default)]
pub struct MemoryLimiter {
    windows: Mutex<HashMap<String, (u32, i64)>>,
}

impl MemoryLimiter {
    pub fn new() -> Self {
        Self::default()
    }

    fn with_window<T>(
        &self,
        key: &str,
        window_ms: i64,
        now_ms: i64,
        f: impl FnOnce(&mut (u32, i64)) -> T,
    ) -> T {
        let mut windows = self.windows.lock().expect("limiter lock");
        if windows.len() > 100_000 {
            windows.retain(|_, (_, end)| *end > now_ms);
        }
        let w = windows
            .entry(key.to_owned())
            .or_insert((0, now_ms + window_ms));
        if w.1 <= now_ms {
            *w = (0, now_ms + window_ms);
        }
        f(w)
    }
}

fn retry_after(end_ms: i64, now_ms: i64) -> u64 {
    ((end_ms - now_ms).max(0) as u64).div_ceil(1000).max(1)
}

#[async_trait]
impl RateLimiter for MemoryLimiter {
    async fn hit(&self, key: &str, limit: u32, window_ms: i64, now_ms: i64) -> Decision {
        self.with_window(key, window_ms, now_ms, |(count, end)| {
            *count = count.saturating_add(1);
            if *count > limit {
                Decision::Limited {
                    retry_after_secs: retry_after(*end, now_ms),
                }
            } else {
                Decision::Allowed
            }
        })
    }

    async fn check(&self, key: &str, limit: u32, window_ms: i64, now_ms: i64) -> Decision {
        self.with_window(key, window_ms, now_ms, |(count, end)| {
            if *count >= limit {
                Decision::Limited {
                    retry_after_secs: retry_after(*end, now_ms),
                }
            } else {
                Decision::Allowed
            }
        })
    }

    async fn reset(&self, key: &str) {
        self.windows.lock().expect("limiter lock").remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn windows_count_limit_and_reset() {
        let l = MemoryLimiter::new();
        for _ in 0..3 {
            assert_eq!(l.hit("k", 3, 60_000, 0).await, Decision::Allowed);
        }
        assert_eq!(
            l.hit("k", 3, 60_000, 1_500).await,
            Decision::Limited {
                retry_after_secs: 59
            }
        );
        assert!(matches!(
            l.check("k", 3, 60_000, 2_000).await,
            Decision::Limited { .. }
        ));
        assert_eq!(
            l.hit("other", 3, 60_000, 2_000).await,
            Decision::Allowed,
            "keys are separate"
        );
        assert_eq!(
            l.hit("k", 3, 60_000, 60_000).await,
            Decision::Allowed,
            "a new window"
        );
        l.reset("k").await;
        assert_eq!(l.check("k", 1, 60_000, 60_001).await, Decision::Allowed);
    }
}
