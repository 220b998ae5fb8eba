//! Tessera's revocation rules, written once for every verifier: Tessera's own nodes
//! (`tessera-core`) and the resource servers (`tessera-axum`; the Node and Python libraries run
//! the same rules from the shared test vectors in `vectors/revocation.json`).
//!
//! - [`Target`]: what a revocation names: one session, or every token of a user, of a user in a
//!   namespace, of a namespace, or of everyone, issued up to an instant.
//! - [`Entry`]: how the revocation feed writes one (`GET /auth/revocations`), and how a
//!   resource server reads it back ([`Entry::rule`]), refusing what it cannot read.
//! - [`Revocations`]: the set in force: [`Revocations::refuses`] is a few hash lookups, applying
//!   is idempotent and order-free (cutoffs only rise), and [`Revocations::prune`] forgets only
//!   what can no longer refuse an unexpired token.
//!
//! A token's "issue instant" is [`tessera_token`'s `issued_at_ms`]: the UUIDv7 timestamp of its
//! `jti` when it falls in the second `iat` names, else `iat * 1000 + 999`.
//!
//! [`tessera_token`'s `issued_at_ms`]: https://docs.rs/tessera-token
use std::collections::HashMap;
use std::hash::Hash;

use serde::{Deserialize, Serialize};

mod entry;

pub use entry::{Entry, Unreadable};

/// The spelling of each kind, on the wire and in storage alike.
pub mod kind {
    pub const SESSION: &str = "session";
    pub const USER: &str = "user";
    pub const USER_NAMESPACE: &str = "user_namespace";
    pub const NAMESPACE: &str = "namespace";
    pub const ALL: &str = "all";
}

/// What a revocation kills. `Id` is how the verifier holds ids: `Uuid` in Tessera, the token's
/// strings in a resource server.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Target<Id> {
    /// One session: every token of it, whenever issued.
    Session { session_id: Id },
    /// Every token of the user issued at or before the cutoff.
    User { user_id: Id },
    /// The same, for the user's sessions in one namespace.
    UserNamespace { user_id: Id, namespace: String },
    /// Every token of the namespace issued at or before the cutoff.
    Namespace { namespace: String },
    /// Every token issued at or before the cutoff.
    All,
}

impl<Id> Target<Id> {
    /// The kind's name ([`kind`]).
    pub fn kind(&self) -> &'static str {
        match self {
            Target::Session { .. } => kind::SESSION,
            Target::User { .. } => kind::USER,
            Target::UserNamespace { .. } => kind::USER_NAMESPACE,
            Target::Namespace { .. } => kind::NAMESPACE,
            Target::All => kind::ALL,
        }
    }
}

/// One revocation as a verifier applies it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rule<Id> {
    pub target: Target<Id>,
    /// Tokens issued at or before this instant (unix ms) are refused; ignored for a session,
    /// all of whose tokens are.
    pub issued_up_to_ms: i64,
    /// Unix ms after which no unexpired token can match: the rule may be forgotten then.
    pub until_ms: i64,
}

/// How long after its instant a revocation can still refuse an unexpired token: the access
/// tokens' lifetime, plus a margin for clock leeway and a token signed in the instant the
/// revocation lands.
pub fn until_ms(at_ms: i64, access_ttl_ms: i64) -> i64 {
    at_ms + access_ttl_ms + RETENTION_MARGIN_MS
}

/// See [`until_ms`].
pub const RETENTION_MARGIN_MS: i64 = 60_000;

/// A cutoff and when it stops mattering.
#[derive(Clone, Copy, Debug)]
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

fn raise<K: Hash + Eq>(map: &mut HashMap<K, Cutoff>, k: K, c: Cutoff) {
    map.entry(k).and_modify(|old| old.raise(c)).or_insert(c);
}

/// The revocations in force. Not synchronised: wrap it in the lock the verifier wants.
#[derive(Clone, Debug)]
pub struct Revocations<Id> {
    /// Session id → when the entry may be forgotten.
    sessions: HashMap<Id, i64>,
    users: HashMap<Id, Cutoff>,
    user_namespaces: HashMap<(Id, String), Cutoff>,
    namespaces: HashMap<String, Cutoff>,
    all: Option<Cutoff>,
}

impl<Id> Default for Revocations<Id> {
    fn default() -> Self {
        Revocations {
            sessions: HashMap::new(),
            users: HashMap::new(),
            user_namespaces: HashMap::new(),
            namespaces: HashMap::new(),
            all: None,
        }
    }
}

impl<Id: Hash + Eq + Clone> Revocations<Id> {
    /// Applies one rule. Idempotent and order-free: a cutoff and a `until_ms` only ever rise.
    pub fn apply(&mut self, rule: &Rule<Id>) {
        let c = Cutoff {
            issued_up_to_ms: rule.issued_up_to_ms,
            until_ms: rule.until_ms,
        };
        match &rule.target {
            Target::Session { session_id } => {
                let until = self
                    .sessions
                    .entry(session_id.clone())
                    .or_insert(rule.until_ms);
                *until = (*until).max(rule.until_ms);
            }
            Target::User { user_id } => raise(&mut self.users, user_id.clone(), c),
            Target::UserNamespace { user_id, namespace } => raise(
                &mut self.user_namespaces,
                (user_id.clone(), namespace.clone()),
                c,
            ),
            Target::Namespace { namespace } => raise(&mut self.namespaces, namespace.clone(), c),
            Target::All => match &mut self.all {
                Some(old) => old.raise(c),
                None => self.all = Some(c),
            },
        }
    }

    /// Whether a token of session `sid`, user `sub`, namespace `ns`, issued at `issued_ms`
    /// (unix ms), is refused.
    pub fn refuses(&self, sid: &Id, sub: &Id, ns: &str, issued_ms: i64) -> bool {
        self.sessions.contains_key(sid)
            || self.all.is_some_and(|a| a.covers(issued_ms))
            || self.users.get(sub).is_some_and(|c| c.covers(issued_ms))
            || self.namespaces.get(ns).is_some_and(|c| c.covers(issued_ms))
            || (!self.user_namespaces.is_empty()
                && self
                    .user_namespaces
                    .get(&(sub.clone(), ns.to_owned()))
                    .is_some_and(|c| c.covers(issued_ms)))
    }

    /// Forgets every rule whose `until_ms` has passed: none of them can refuse an unexpired
    /// token any more.
    pub fn prune(&mut self, now_ms: i64) {
        self.sessions.retain(|_, until| *until >= now_ms);
        self.users.retain(|_, c| c.until_ms >= now_ms);
        self.user_namespaces.retain(|_, c| c.until_ms >= now_ms);
        self.namespaces.retain(|_, c| c.until_ms >= now_ms);
        if self.all.is_some_and(|a| a.until_ms < now_ms) {
            self.all = None;
        }
    }

    /// How many rules are held (a session, a cutoff per key, the global cutoff).
    pub fn len(&self) -> usize {
        self.sessions.len()
            + self.users.len()
            + self.user_namespaces.len()
            + self.namespaces.len()
            + usize::from(self.all.is_some())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// How many revoked sessions are held.
    pub fn sessions(&self) -> usize {
        self.sessions.len()
    }
}

#[cfg(test)]
mod properties;
#[cfg(test)]
mod vectors;
