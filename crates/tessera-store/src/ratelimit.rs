//! Rate-limit counters in Redis, shared by every node. If Redis cannot be reached, counting falls
//! back to this node's memory (never to no limit), logged once.
use std::time::Duration;

use async_trait::async_trait;
use redis::aio::MultiplexedConnection;
use tessera_core::ratelimit::{Decision, MemoryLimiter, RateLimiter};
use tokio::sync::Mutex;

use crate::bus::Health;

const TIMEOUT: Duration = Duration::from_millis(500);

/// See the module docs.
pub struct RedisLimiter {
    client: redis::Client,
    /// `tessera:<issuer>:rl:`: deployments sharing a Redis keep separate counters.
    prefix: String,
    conn: Mutex<Option<MultiplexedConnection>>,
    local: MemoryLimiter,
    health: Health,
}

impl RedisLimiter {
    pub fn new(url: &str, scope: &str) -> Result<Self, String> {
        let client = redis::Client::open(url).map_err(|e| format!("invalid redis_url: {e}"))?;
        Ok(RedisLimiter {
            client,
            prefix: format!("tessera:{scope}:rl:"),
            conn: Mutex::new(None),
            local: MemoryLimiter::new(),
            health: Health::new("Redis (rate limits; counting per node meanwhile)"),
        })
    }

    async fn conn(&self) -> Result<MultiplexedConnection, String> {
        let mut slot = self.conn.lock().await;
        if let Some(c) = slot.as_ref() {
            return Ok(c.clone());
        }
        let c = tokio::time::timeout(TIMEOUT, self.client.get_multiplexed_async_connection())
            .await
            .map_err(|_| "connect timed out".to_string())?
            .map_err(|e| e.to_string())?;
        *slot = Some(c.clone());
        Ok(c)
    }

    /// Runs `pipe`, returning (count, milliseconds left in the window).
    async fn run(&self, pipe: &redis::Pipeline) -> Result<(i64, i64), String> {
        let mut conn = self.conn().await?;
        let result: Result<Result<(i64, i64), _>, _> =
            tokio::time::timeout(TIMEOUT, pipe.query_async(&mut conn)).await;
        match result {
            Ok(Ok(v)) => {
                self.health.up();
                Ok(v)
            }
            Ok(Err(e)) => self.fail(e.to_string()).await,
            Err(_) => self.fail("timed out".into()).await,
        }
    }

    async fn fail<T>(&self, why: String) -> Result<T, String> {
        *self.conn.lock().await = None;
        self.health.down(&why);
        Err(why)
    }
}

fn decide(count: i64, limit: i64, pttl: i64) -> Decision {
    if count > limit {
        Decision::Limited {
            retry_after_secs: (pttl.max(1) as u64).div_ceil(1000).max(1),
        }
    } else {
        Decision::Allowed
    }
}

#[async_trait]
impl RateLimiter for RedisLimiter {
    async fn hit(&self, key: &str, limit: u32, window_ms: i64, now_ms: i64) -> Decision {
        let k = format!("{}{key}", self.prefix);
        let mut pipe = redis::pipe();
        // INCR and set the window's expiry only when the key is new (NX), atomically.
        pipe.atomic()
            .incr(&k, 1)
            .cmd("PEXPIRE")
            .arg(&k)
            .arg(window_ms)
            .arg("NX")
            .ignore()
            .pttl(&k);
        match self.run(&pipe).await {
            Ok((count, pttl)) => decide(count, limit as i64, pttl),
            Err(_) => self.local.hit(key, limit, window_ms, now_ms).await,
        }
    }

    async fn check(&self, key: &str, limit: u32, window_ms: i64, now_ms: i64) -> Decision {
        let k = format!("{}{key}", self.prefix);
        let mut pipe = redis::pipe();
        pipe.cmd("GET").arg(&k).pttl(&k);
        let mut conn = match self.conn().await {
            Ok(c) => c,
            Err(e) => {
                self.health.down(&e);
                return self.local.check(key, limit, window_ms, now_ms).await;
            }
        };
        let got: Result<Result<(Option<i64>, i64), _>, _> =
            tokio::time::timeout(TIMEOUT, pipe.query_async(&mut conn)).await;
        match got {
            Ok(Ok((count, pttl))) => {
                self.health.up();
                // `check` refuses at the limit (the next attempt would exceed it).
                decide(count.unwrap_or(0) + 1, limit as i64, pttl)
            }
            Ok(Err(e)) => {
                let _ = self.fail::<()>(e.to_string()).await;
                self.local.check(key, limit, window_ms, now_ms).await
            }
            Err(_) => {
                let _ = self.fail::<()>("timed out".into()).await;
                self.local.check(key, limit, window_ms, now_ms).await
            }
        }
    }

    async fn reset(&self, key: &str) {
        self.local.reset(key).await;
        if let Ok(mut conn) = self.conn().await {
            let k = format!("{}{key}", self.prefix);
            let _: Result<Result<i64, _>, _> =
                tokio::time::timeout(TIMEOUT, redis::cmd("DEL").arg(&k).query_async(&mut conn))
                    .await;
        }
    }
}
