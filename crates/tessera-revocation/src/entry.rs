//! The feed's entry: one revocation as `GET /auth/revocations` and its stream write it, precise
//! enough for a verifier in any language (docs/resource-servers.md, "Entries").
use serde::{Deserialize, Serialize};

use crate::{Rule, Target, kind};

/// One entry of the revocation feed (`GET /auth/revocations` and its stream). A verifier refuses
/// an access token when an entry in force matches it:
/// - `session`: the token's `sid` equals `session_id`;
/// - `user`: its `sub` equals `user_id`, and it was issued at or before `issued_up_to_ms`;
/// - `user_namespace`: the same, and its `ns` equals `namespace`;
/// - `namespace`: its `ns` equals `namespace`, issued at or before `issued_up_to_ms`;
/// - `all`: issued at or before `issued_up_to_ms`.
///
/// "Issued" is the token's issue instant in unix milliseconds: the 48-bit timestamp of its `jti`
/// (a UUIDv7: the first 12 hex digits), provided it falls in the second `iat` names; otherwise
/// `iat * 1000 + 999`. An entry may be forgotten after `until_ms`. An entry of a kind the
/// verifier does not know, or without a field its kind needs, is never skipped.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "schema", schemars(rename = "RevocationEntry"))]
pub struct Entry {
    /// The entry's cursor: resume after it with `?after=` or `Last-Event-ID`.
    pub id: String,
    /// `session`, `user`, `user_namespace`, `namespace` or `all`.
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Every kind but `session`: tokens issued at or before this instant (unix ms) are revoked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issued_up_to_ms: Option<i64>,
    /// Unix ms after which no unexpired token can match this entry.
    pub until_ms: i64,
}

/// An entry this version cannot apply: a kind it does not know, or a field its kind needs
/// missing. Never skip one: it may revoke the very token in front of you.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unreadable;

impl std::fmt::Display for Unreadable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a revocation entry this version cannot apply")
    }
}

impl std::error::Error for Unreadable {}

impl Entry {
    /// The entry for `rule`, at cursor `id`.
    pub fn new<Id: ToString>(id: impl ToString, rule: &Rule<Id>) -> Entry {
        let mut e = Entry {
            id: id.to_string(),
            kind: rule.target.kind().to_owned(),
            session_id: None,
            user_id: None,
            namespace: None,
            issued_up_to_ms: Some(rule.issued_up_to_ms),
            until_ms: rule.until_ms,
        };
        match &rule.target {
            Target::Session { session_id } => {
                e.session_id = Some(session_id.to_string());
                e.issued_up_to_ms = None;
            }
            Target::User { user_id } => e.user_id = Some(user_id.to_string()),
            Target::UserNamespace { user_id, namespace } => {
                e.user_id = Some(user_id.to_string());
                e.namespace = Some(namespace.clone());
            }
            Target::Namespace { namespace } => e.namespace = Some(namespace.clone()),
            Target::All => {}
        }
        e
    }

    /// The rule this entry states, or [`Unreadable`].
    pub fn rule(&self) -> Result<Rule<String>, Unreadable> {
        let need = |v: &Option<String>| v.clone().ok_or(Unreadable);
        let cutoff = || self.issued_up_to_ms.ok_or(Unreadable);
        let (target, issued_up_to_ms) = match self.kind.as_str() {
            kind::SESSION => (
                Target::Session {
                    session_id: need(&self.session_id)?,
                },
                i64::MAX,
            ),
            kind::USER => (
                Target::User {
                    user_id: need(&self.user_id)?,
                },
                cutoff()?,
            ),
            kind::USER_NAMESPACE => (
                Target::UserNamespace {
                    user_id: need(&self.user_id)?,
                    namespace: need(&self.namespace)?,
                },
                cutoff()?,
            ),
            kind::NAMESPACE => (
                Target::Namespace {
                    namespace: need(&self.namespace)?,
                },
                cutoff()?,
            ),
            kind::ALL => (Target::All, cutoff()?),
            _ => return Err(Unreadable),
        };
        Ok(Rule {
            target,
            issued_up_to_ms,
            until_ms: self.until_ms,
        })
    }
}
