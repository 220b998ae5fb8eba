//! Applying the rate-limit policy: per client IP on login and register, and failed logins per
//! account. Unknown emails are counted exactly like known ones, so a lockout says nothing about
//! which accounts exist; counter keys hold a hash of the email, never the email.
use sha2::{Digest, Sha256};

use super::{Engine, RequestMeta};
use crate::error::Error;
use crate::ratelimit::Decision;

const MINUTE_MS: i64 = 60_000;

fn limited(d: Decision) -> Result<(), Error> {
    match d {
        Decision::Allowed => Ok(()),
        Decision::Limited { retry_after_secs } => Err(Error::RateLimited { retry_after_secs }),
    }
}

/// The account counter's key: a hash of the trimmed, lower-cased email as typed.
fn account_key(email: &str) -> String {
    let digest = Sha256::digest(email.trim().to_lowercase().as_bytes());
    let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
    format!("fail:{hex}")
}

impl Engine {
    /// Counts a login or register attempt from this client IP.
    pub(super) async fn limit_ip(&self, meta: &RequestMeta) -> Result<(), Error> {
        let limit = self.cfg.rate_limit.per_ip_per_minute;
        let Some(ip) = meta.ip.as_deref().filter(|_| limit > 0) else {
            return Ok(());
        };
        let d = self
            .limiter
            .hit(&format!("ip:{ip}"), limit, MINUTE_MS, self.clock.now_ms())
            .await;
        limited(d)
    }

    /// Refuses before any hashing when the account has too many recent failures.
    pub(super) async fn check_account(&self, email: &str) -> Result<(), Error> {
        let p = &self.cfg.rate_limit;
        if p.failed_logins_per_account == 0 {
            return Ok(());
        }
        let d = self
            .limiter
            .check(
                &account_key(email),
                p.failed_logins_per_account,
                p.failed_login_window_ms,
                self.clock.now_ms(),
            )
            .await;
        limited(d)
    }

    pub(super) async fn record_failure(&self, email: &str) {
        let p = &self.cfg.rate_limit;
        if p.failed_logins_per_account > 0 {
            self.limiter
                .hit(
                    &account_key(email),
                    p.failed_logins_per_account,
                    p.failed_login_window_ms,
                    self.clock.now_ms(),
                )
                .await;
        }
    }

    pub(super) async fn record_success(&self, email: &str) {
        if self.cfg.rate_limit.failed_logins_per_account > 0 {
            self.limiter.reset(&account_key(email)).await;
        }
    }
}
