//! The in-memory revocation set every verifier consults: a hash lookup, no I/O.
//!
//! It holds revoked session ids until their last access token has expired, and cutoffs ("every
//! token issued at or before T is dead") per user, per namespace and globally for mass
//! revocations. Records arrive from this node's own writes, from the store's revocation feed and
//! from broadcasts, so applying one must be idempotent. Only the feed moves the watermark
//! ([`RevocationSet::advance`]): a broadcast may arrive before records with lower sequence
//! numbers have committed.
use std::sync::RwLock;

use tessera_revocation::{Revocations, Rule, until_ms};
use uuid::Uuid;

use crate::model::Revocation;

struct State {
    /// The rules in force (`tessera-revocation`, the same code every resource server runs).
    rules: Revocations<Uuid>,
    /// Highest feed sequence applied.
    watermark: i64,
}

/// The set, shared by every request on a node.
pub struct RevocationSet {
    /// The access tokens' lifetime: a record matters until its last token can have expired.
    access_ttl_ms: i64,
    state: RwLock<State>,
}

impl RevocationSet {
    pub fn new(access_ttl_ms: i64) -> Self {
        RevocationSet {
            access_ttl_ms,
            state: RwLock::new(State {
                rules: Revocations::default(),
                watermark: 0,
            }),
        }
    }

    /// Applies one record (idempotent).
    pub fn apply(&self, r: &Revocation) {
        let rule = Rule {
            target: r.target.clone(),
            issued_up_to_ms: r.at,
            until_ms: until_ms(r.at, self.access_ttl_ms),
        };
        self.state
            .write()
            .expect("revocations lock")
            .rules
            .apply(&rule);
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
        s.rules.refuses(sid, sub, ns, issued_ms)
    }

    pub fn watermark(&self) -> i64 {
        self.state.read().expect("revocations lock").watermark
    }

    /// Forgets the records whose tokens have all expired.
    pub fn prune(&self, now_ms: i64) {
        self.state
            .write()
            .expect("revocations lock")
            .rules
            .prune(now_ms);
    }

    /// Number of revoked sessions held (for metrics and tests).
    pub fn len(&self) -> usize {
        self.state
            .read()
            .expect("revocations lock")
            .rules
            .sessions()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::RevocationTarget;

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
