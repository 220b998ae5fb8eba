//! The revocations in force at this resource server: `tessera-revocation`'s rules (the same code
//! Tessera's own nodes run, and the rules of the shared test vectors), over the token's strings.
use tessera_revocation::Revocations;
pub(crate) use tessera_revocation::{Entry, Unreadable};

use crate::identity::Identity;

#[derive(Default)]
pub(crate) struct Revoked(Revocations<String>);

impl Revoked {
    /// Applies one entry of the feed (idempotent), or says it cannot.
    pub fn apply(&mut self, e: &Entry) -> Result<(), Unreadable> {
        self.0.apply(&e.rule()?);
        Ok(())
    }

    /// Whether a token with these claims is refused by an entry in force.
    pub fn refuses(&self, c: &Identity) -> bool {
        self.0.refuses(&c.sid, &c.sub, &c.ns, c.issued_at_ms)
    }

    /// Forgets entries that can no longer refuse an unexpired token.
    pub fn prune(&mut self, now_ms: i64) {
        self.0.prune(now_ms);
    }

    /// How many entries are held.
    pub fn len(&self) -> usize {
        self.0.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_is_matched_by_its_own_claims_and_issue_instant() {
        let t = Identity::from(
            serde_json::from_value::<tessera_token::AccessClaims>(serde_json::json!({
                "iss": "i", "sub": "u1", "sid": "s1", "ns": "web", "iat": 1_800_000_000,
                "exp": 1_800_000_900, "roles": [], "perms": [],
                // 0x01a3_185c_51f4 = 1_800_000_000_500
                "jti": "01a3185c-51f4-7000-8000-000000000000"
            }))
            .unwrap(),
        );
        let entry = |cut: i64| -> Entry {
            serde_json::from_value(serde_json::json!({"id": "1", "kind": "user_namespace",
                "user_id": "u1", "namespace": "web", "issued_up_to_ms": cut, "until_ms": 1}))
            .unwrap()
        };
        let mut r = Revoked::default();
        r.apply(&entry(1_800_000_000_499)).unwrap();
        assert!(!r.refuses(&t), "issued a millisecond after the cutoff");
        r.apply(&entry(1_800_000_000_500)).unwrap();
        assert!(r.refuses(&t));
        let unknown: Entry =
            serde_json::from_value(serde_json::json!({"id": "2", "kind": "galaxy", "until_ms": 1}))
                .unwrap();
        assert!(r.apply(&unknown).is_err());
    }
}
