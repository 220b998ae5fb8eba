//! The revocations in force, as the feed describes them (docs/resource-servers.md, "Entries"):
//! revoked session ids, and "every token issued up to T" cutoffs per user, per user and
//! namespace, per namespace and for all. Applying an entry twice changes nothing; per key the
//! largest cutoff wins.
use std::collections::HashMap;

use serde::Deserialize;

use crate::auth::Identity;

/// One entry of `GET /auth/revocations` or of the stream.
#[derive(Debug, Deserialize)]
pub(crate) struct Entry {
    pub id: String,
    pub kind: String,
    pub session_id: Option<String>,
    pub user_id: Option<String>,
    pub namespace: Option<String>,
    pub issued_up_to_ms: Option<i64>,
    pub until_ms: i64,
}

/// A cutoff and the instant after which it can no longer refuse an unexpired token.
#[derive(Clone, Copy)]
struct Cutoff {
    issued_up_to_ms: i64,
    until_ms: i64,
}

impl Cutoff {
    fn raise(&mut self, other: Cutoff) {
        self.issued_up_to_ms = self.issued_up_to_ms.max(other.issued_up_to_ms);
        self.until_ms = self.until_ms.max(other.until_ms);
    }
    fn covers(&self, issued_ms: i64) -> bool {
        issued_ms <= self.issued_up_to_ms
    }
}

#[derive(Default)]
pub(crate) struct Revoked {
    sessions: HashMap<String, i64>,
    users: HashMap<String, Cutoff>,
    user_namespaces: HashMap<(String, String), Cutoff>,
    namespaces: HashMap<String, Cutoff>,
    all: Option<Cutoff>,
}

/// An entry this version cannot apply (an unknown kind, a missing field).
#[derive(Debug)]
pub(crate) struct Unreadable;

impl Revoked {
    /// Applies one entry (idempotent).
    pub fn apply(&mut self, e: &Entry) -> Result<(), Unreadable> {
        let cutoff = || {
            e.issued_up_to_ms.map(|issued_up_to_ms| Cutoff {
                issued_up_to_ms,
                until_ms: e.until_ms,
            })
        };
        fn raise<K: std::hash::Hash + Eq>(map: &mut HashMap<K, Cutoff>, k: K, c: Cutoff) {
            map.entry(k).and_modify(|old| old.raise(c)).or_insert(c);
        }
        match (e.kind.as_str(), &e.session_id, &e.user_id, &e.namespace) {
            ("session", Some(sid), _, _) => {
                let until = self.sessions.entry(sid.clone()).or_insert(e.until_ms);
                *until = (*until).max(e.until_ms);
            }
            ("user", _, Some(user), _) => {
                raise(&mut self.users, user.clone(), cutoff().ok_or(Unreadable)?)
            }
            ("user_namespace", _, Some(user), Some(ns)) => raise(
                &mut self.user_namespaces,
                (user.clone(), ns.clone()),
                cutoff().ok_or(Unreadable)?,
            ),
            ("namespace", _, _, Some(ns)) => raise(
                &mut self.namespaces,
                ns.clone(),
                cutoff().ok_or(Unreadable)?,
            ),
            ("all", _, _, _) => {
                let c = cutoff().ok_or(Unreadable)?;
                match &mut self.all {
                    Some(old) => old.raise(c),
                    None => self.all = Some(c),
                }
            }
            _ => return Err(Unreadable),
        }
        Ok(())
    }

    /// Whether a token with these claims is refused by an entry in force.
    pub fn refuses(&self, c: &Identity) -> bool {
        let issued = c.issued_at_ms;
        self.sessions.contains_key(&c.sid)
            || self.all.is_some_and(|a| a.covers(issued))
            || self.users.get(&c.sub).is_some_and(|u| u.covers(issued))
            || self.namespaces.get(&c.ns).is_some_and(|n| n.covers(issued))
            || (!self.user_namespaces.is_empty()
                && self
                    .user_namespaces
                    .get(&(c.sub.clone(), c.ns.clone()))
                    .is_some_and(|u| u.covers(issued)))
    }

    /// Forgets entries that can no longer refuse an unexpired token.
    pub fn prune(&mut self, now_ms: i64) {
        self.sessions.retain(|_, until| *until >= now_ms);
        self.users.retain(|_, c| c.until_ms >= now_ms);
        self.user_namespaces.retain(|_, c| c.until_ms >= now_ms);
        self.namespaces.retain(|_, c| c.until_ms >= now_ms);
        if self.all.is_some_and(|a| a.until_ms < now_ms) {
            self.all = None;
        }
    }

    /// How many entries are held.
    pub fn len(&self) -> usize {
        self.sessions.len()
            + self.users.len()
            + self.user_namespaces.len()
            + self.namespaces.len()
            + usize::from(self.all.is_some())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(json: serde_json::Value) -> Entry {
        serde_json::from_value(json).unwrap()
    }

    /// A token of session s1, user u1, namespace web, issued at 1_800_000_000_500 ms.
    fn token() -> Identity {
        Identity::from(
            serde_json::from_value::<tessera_token::AccessClaims>(serde_json::json!({
                "iss": "i", "sub": "u1", "sid": "s1", "ns": "web", "iat": 1_800_000_000,
                "exp": 1_800_000_900, "roles": [], "perms": [],
                // 0x01a3_185c_51f4 = 1_800_000_000_500
                "jti": "01a3185c-51f4-7000-8000-000000000000"
            }))
            .unwrap(),
        )
    }

    #[test]
    fn each_kind_matches_exactly_what_the_docs_say() {
        let t = token();
        assert_eq!(t.issued_at_ms, 1_800_000_000_500);
        let until = 1_900_000_000_000i64;
        let cases = [
            (
                serde_json::json!({"kind": "session", "session_id": "s1"}),
                true,
            ),
            (
                serde_json::json!({"kind": "session", "session_id": "s2"}),
                false,
            ),
            (
                serde_json::json!({"kind": "user", "user_id": "u1", "issued_up_to_ms": 1_800_000_000_500i64}),
                true,
            ),
            (
                serde_json::json!({"kind": "user", "user_id": "u1", "issued_up_to_ms": 1_800_000_000_499i64}),
                false,
            ),
            (
                serde_json::json!({"kind": "user", "user_id": "u2", "issued_up_to_ms": 1_900_000_000_000i64}),
                false,
            ),
            (
                serde_json::json!({"kind": "user_namespace", "user_id": "u1", "namespace": "web", "issued_up_to_ms": 1_800_000_000_600i64}),
                true,
            ),
            (
                serde_json::json!({"kind": "user_namespace", "user_id": "u1", "namespace": "app", "issued_up_to_ms": 1_800_000_000_600i64}),
                false,
            ),
            (
                serde_json::json!({"kind": "namespace", "namespace": "web", "issued_up_to_ms": 1_800_000_000_500i64}),
                true,
            ),
            (
                serde_json::json!({"kind": "namespace", "namespace": "web", "issued_up_to_ms": 1_800_000_000_000i64}),
                false,
            ),
            (
                serde_json::json!({"kind": "all", "issued_up_to_ms": 1_800_000_001_000i64}),
                true,
            ),
            (
                serde_json::json!({"kind": "all", "issued_up_to_ms": 1_799_999_999_999i64}),
                false,
            ),
        ];
        for (mut json, refused) in cases {
            json["id"] = "1".into();
            json["until_ms"] = until.into();
            let mut r = Revoked::default();
            r.apply(&entry(json.clone())).unwrap();
            assert_eq!(r.refuses(&t), refused, "{json}");
        }
    }

    #[test]
    fn cutoffs_only_rise_and_entries_are_pruned_after_until() {
        let mut r = Revoked::default();
        let e = |cut: i64, until: i64| {
            entry(
                serde_json::json!({"id": "1", "kind": "user", "user_id": "u1",
                "issued_up_to_ms": cut, "until_ms": until}),
            )
        };
        r.apply(&e(1_800_000_000_600, 10)).unwrap();
        r.apply(&e(1_000, 20)).unwrap();
        assert!(r.refuses(&token()), "the lower cutoff did not lower it");
        r.prune(15);
        assert_eq!(r.len(), 1, "until rose to 20 with the second entry");
        r.prune(21);
        assert_eq!(r.len(), 0);
        assert!(!r.refuses(&token()));
    }

    #[test]
    fn entries_this_version_cannot_read_are_refused() {
        let mut r = Revoked::default();
        for json in [
            serde_json::json!({"id": "1", "kind": "galaxy", "until_ms": 1}),
            serde_json::json!({"id": "1", "kind": "session", "until_ms": 1}),
            serde_json::json!({"id": "1", "kind": "user", "user_id": "u", "until_ms": 1}),
        ] {
            assert!(r.apply(&entry(json)).is_err());
        }
    }
}
