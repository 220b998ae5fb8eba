//! Counters of what the engine did, for metrics. Labels are fixed words, never user data.
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::Error;

/// Results a login is counted under.
pub const LOGIN_RESULTS: [&str; 6] = [
    "success",
    "failure",
    "rate_limited",
    "banned",
    "password_expired",
    "error",
];
/// Results a refresh is counted under.
pub const REFRESH_RESULTS: [&str; 7] = [
    "rotated",
    "grace_replay",
    "reused",
    "invalid",
    "revoked",
    "expired",
    "error",
];

/// See the module docs.
#[derive(Default)]
pub struct Stats {
    logins: [AtomicU64; 6],
    refreshes: [AtomicU64; 7],
    reuse_detected: AtomicU64,
    revocations: Mutex<BTreeMap<&'static str, u64>>,
}

impl Stats {
    pub(crate) fn login(&self, result: &Result<impl Sized, Error>) {
        let i = match result {
            Ok(_) => 0,
            Err(Error::InvalidCredentials) => 1,
            Err(Error::RateLimited { .. }) => 2,
            Err(Error::AccountBanned) => 3,
            Err(Error::PasswordExpired) => 4,
            Err(_) => 5,
        };
        self.logins[i].fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn refresh_ok(&self, grace: bool) {
        self.refreshes[usize::from(grace)].fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn refresh_err(&self, e: &Error) {
        let i = match e {
            Error::RefreshTokenReused => 2,
            Error::InvalidRefreshToken => 3,
            Error::SessionRevoked | Error::AccountBanned => 4,
            Error::SessionExpired => 5,
            _ => 6,
        };
        self.refreshes[i].fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn reuse(&self) {
        self.reuse_detected.fetch_add(1, Ordering::Relaxed);
    }

    /// `n` sessions revoked for `reason` (a fixed word chosen by the engine).
    pub(crate) fn revoked(&self, reason: &'static str, n: u64) {
        if n > 0 {
            *self
                .revocations
                .lock()
                .expect("stats lock")
                .entry(reason)
                .or_default() += n;
        }
    }

    pub fn logins(&self) -> Vec<(&'static str, u64)> {
        LOGIN_RESULTS
            .iter()
            .zip(&self.logins)
            .map(|(l, c)| (*l, c.load(Ordering::Relaxed)))
            .collect()
    }

    pub fn refreshes(&self) -> Vec<(&'static str, u64)> {
        REFRESH_RESULTS
            .iter()
            .zip(&self.refreshes)
            .map(|(l, c)| (*l, c.load(Ordering::Relaxed)))
            .collect()
    }

    pub fn reuse_detections(&self) -> u64 {
        self.reuse_detected.load(Ordering::Relaxed)
    }

    pub fn revocations(&self) -> Vec<(&'static str, u64)> {
        self.revocations
            .lock()
            .expect("stats lock")
            .iter()
            .map(|(k, v)| (*k, *v))
            .collect()
    }
}
