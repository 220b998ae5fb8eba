//! The in-memory revocation set every verifier consults: a hash lookup, no I/O.
//!
//! It holds revoked session ids until their last access token has expired, and cutoffs ("every
//! token issued at or before T is dead") per user, per namespace and globally for mass
//! revocations. Records arrive from this node's own writes, from the store's revocation feed and
//! from broadcasts, so applying one must be idempotent. Only the feed moves the watermark
//! ([`RevocationSet::advance`]): a broadcast may arrive before records with lower sequence
//! numbers have committed.
use std::collections::HashMap;
use std::sync::RwLock;

use uuid::Uuid;

use crate::model::{Revocation, RevocationTarget};

#[derive(Default)]
struct State {
    /// Session id → unix ms after which the entry can be dropped.
    sessions: HashMap<Uuid, i64>,
    /// Cutoffs in unix milliseconds, compared with when a token was issued.
    users: HashMap<Uuid, i64>,
    user_namespaces: HashMap<(Uuid, String), i64>,
    namespaces: HashMap<String, i64>,
    all: i64,
    /// Highest feed sequence applied.
    watermark: i64,
}

/// The set, shared by every request on a node.
pub struct RevocationSet {
    /// How long a session entry must be kept: the access-token lifetime plus a margin for the
    /// leeway and for a token signed in the instant a revocation lands.
    retention_ms: i64,
    state: RwLock<State>,
}

impl RevocationSet {
    pub fn new(access_ttl_ms: i64) -> Self {
        RevocationSet {
            retention_ms: access_ttl_ms + 60_000,
            state: RwLock::new(State::default()),
        }
    }

    /// Applies one record (idempotent).
    pub fn apply(&self, r: &Revocation) {
        let mut s = self.state.write().expect("revocations lock");
        let cutoff = r.at;
        match &r.target {
            RevocationTarget::Session { session_id } => {
                let until = r.at + self.retention_ms;
                let e = s.sessions.entry(*session_id).or_insert(until);
                *e = (*e).max(until);
            }
            RevocationTarget::User { user_id } => {
                let e = s.users.entry(*user_id).or_insert(cutoff);
                *e = (*e).max(cutoff);
            }
            RevocationTarget::UserNamespace { user_id, namespace } => {
                let e = s
                    .user_namespaces
                    .entry((*user_id, namespace.clone()))
                    .or_insert(cutoff);
                *e = (*e).max(cutoff);
            }
            RevocationTarget::Namespace { namespace } => {
                let e = s.namespaces.entry(namespace.clone()).or_insert(cutoff);
                *e = (*e).max(cutoff);
            }
            RevocationTarget::All => s.all = s.all.max(cutoff),
        }
    }

    /// Records that every feed record up to `seq` has been applied.
    pub fn advance(&self, seq: i64) {
        let mut s = self.state.write().expect("revocations lock");
        s.watermark = s.watermark.max(seq);
    }

    /// Whether a token of session `sid`, user `sub`, namespace `ns`, issued at `issued_ms`
    /// (unix milliseconds), has been revoked.
    pub fn is_revoked(&self, sid: &Uuid, sub: &Uuid, ns: &str, issued_ms: i64) -> bool {
        let s = self.state.read().expect("revocations lock");
        s.sessions.contains_key(sid)
            || issued_ms <= s.all
            || s.users.get(sub).is_some_and(|&c| issued_ms <= c)
            || s.namespaces.get(ns).is_some_and(|&c| issued_ms <= c)
            || (!s.user_namespaces.is_empty()
                && s.user_namespaces
                    .get(&(*sub, ns.to_owned()))
                    .is_some_and(|&c| issued_ms <= c))
    }

    pub fn watermark(&self) -> i64 {
        self.state.read().expect("revocations lock").watermark
    }

    /// Drops session entries whose tokens have all expired.
    pub fn prune(&self, now_ms: i64) {
        let mut s = self.state.write().expect("revocations lock");
        s.sessions.retain(|_, until| *until > now_ms);
    }

    /// Number of session entries held (for metrics and tests).
    pub fn len(&self) -> usize {
        self.state.read().expect("revocations lock").sessions.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_users_namespaces_and_all_are_checked() {
        let r = RevocationSet::new(900_000);
        let (sid, sub, other) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
        let rec = |seq, target, at| Revocation { seq, target, at };
        assert!(!r.is_revoked(&sid, &sub, "ns", 100_000));
        r.apply(&rec(
            1,
            RevocationTarget::Session { session_id: sid },
            100_000,
        ));
        assert!(r.is_revoked(&sid, &sub, "ns", 100_000));
        assert!(!r.is_revoked(&other, &sub, "ns", 100_000));
        r.apply(&rec(2, RevocationTarget::User { user_id: sub }, 200_000));
        assert!(r.is_revoked(&other, &sub, "ns", 200_000));
        assert!(
            !r.is_revoked(&other, &sub, "ns", 200_001),
            "issued a millisecond after the cutoff"
        );
        let user_ns = RevocationTarget::UserNamespace {
            user_id: other,
            namespace: "a".into(),
        };
        r.apply(&rec(3, user_ns, 250_000));
        let fresh = Uuid::now_v7();
        assert!(r.is_revoked(&fresh, &other, "a", 249_000));
        assert!(
            !r.is_revoked(&fresh, &other, "b", 249_000),
            "the user's other namespaces live"
        );
        let ns = RevocationTarget::Namespace {
            namespace: "ns".into(),
        };
        r.apply(&rec(4, ns, 300_000));
        assert!(r.is_revoked(&other, &other, "ns", 250_000));
        assert!(!r.is_revoked(&other, &other, "ns2", 250_000));
        r.apply(&rec(5, RevocationTarget::All, 400_000));
        assert_eq!(r.watermark(), 0, "applying never moves the watermark");
        r.advance(5);
        assert!(r.is_revoked(&other, &other, "ns2", 400_000));
        assert!(!r.is_revoked(&other, &other, "ns2", 400_001));
        assert_eq!(r.watermark(), 5);
        r.prune(100_000 + 900_000 + 60_001);
        assert!(
            !r.is_revoked(&sid, &other, "x", 500_000),
            "pruned after its tokens expired"
        );
    }
}
