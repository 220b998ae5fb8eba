//! The records the engine keeps. Times are unix milliseconds; ids are UUIDv7.
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// A new time-ordered id.
pub fn new_id() -> Uuid {
    Uuid::now_v7()
}

/// An app's own claims: a JSON object, carried in access tokens as `ext` (API.md §8).
pub type Claims = serde_json::Map<String, serde_json::Value>;

/// An account. `email` is stored trimmed and lower-cased. `Debug` omits the password hash.
#[derive(Clone, PartialEq, Eq)]
pub struct User {
    pub id: Uuid,
    pub email: String,
    /// PHC string (Argon2id). Never leaves the engine.
    pub password_hash: String,
    pub roles: Vec<String>,
    pub banned: bool,
    pub created_at: i64,
    pub password_changed_at: i64,
    /// The app's claims for this user (`PUT /admin/users/{id}/claims`).
    pub claims: Claims,
    /// The user proved they receive mail at `email` (a verification or a reset).
    pub email_verified: bool,
    /// The kinds of the user's confirmed second factors (`totp`, `passkey`). Not a column:
    /// the engine fills it from the factors whenever it hands a user out.
    pub mfa: Vec<String>,
}

impl std::fmt::Debug for User {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("User")
            .field("id", &self.id)
            .field("email", &self.email)
            .field("roles", &self.roles)
            .field("banned", &self.banned)
            .finish_non_exhaustive()
    }
}

/// Event types (API.md §5).
pub mod event_kind {
    pub const USER_REGISTERED: &str = "user.registered";
    pub const LOGIN_SUCCEEDED: &str = "login.succeeded";
    pub const LOGIN_FAILED: &str = "login.failed";
    pub const SESSION_REFRESHED: &str = "session.refreshed";
    pub const SESSION_REVOKED: &str = "session.revoked";
    pub const SESSION_REUSE_DETECTED: &str = "session.reuse_detected";
    pub const PASSWORD_CHANGED: &str = "password.changed";
    pub const KEY_ROTATED: &str = "key.rotated";
    pub const USER_BANNED: &str = "user.banned";
    pub const USER_UNBANNED: &str = "user.unbanned";
    pub const USER_DELETED: &str = "user.deleted";
    pub const SESSIONS_REVOKED: &str = "sessions.revoked";
    pub const SESSION_CREATED: &str = "session.created";
    pub const SESSION_LIMIT_EVICTED: &str = "session.limit_evicted";
    pub const SESSION_REAUTHENTICATED: &str = "session.reauthenticated";
    pub const PASSWORD_RESET_REQUESTED: &str = "password.reset_requested";
    pub const PASSWORD_RESET: &str = "password.reset";
    pub const EMAIL_VERIFICATION_SENT: &str = "email.verification_sent";
    pub const EMAIL_VERIFIED: &str = "email.verified";
    /// A factor confirmed (enrolled).
    pub const MFA_ENROLLED: &str = "mfa.enrolled";
    pub const MFA_REMOVED: &str = "mfa.removed";
    pub const MFA_FAILED: &str = "mfa.failed";
    pub const MFA_RECOVERY_CODE_USED: &str = "mfa.recovery_code_used";
    /// A new set of recovery codes (the types of API.md are "at least" these; this one is ours).
    pub const MFA_RECOVERY_CODES_REPLACED: &str = "mfa.recovery_codes_replaced";
    /// An admin removed every factor of a user who lost the device.
    pub const MFA_RESET: &str = "mfa.reset";
    /// A passkey assertion whose signature counter did not advance: perhaps a cloned
    /// authenticator. The assertion was refused.
    pub const PASSKEY_CLONE_SUSPECTED: &str = "passkey.clone_suspected";
}

/// One login on one device, with the rotation state of its refresh token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Session {
    pub id: Uuid,
    pub user_id: Uuid,
    pub namespace: String,
    pub created_at: i64,
    pub last_active_at: i64,
    /// Idle timeout, capped by `absolute_expires_at`.
    pub expires_at: i64,
    pub absolute_expires_at: i64,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub refresh_count: i64,
    /// Generation of the current refresh token.
    pub generation: i64,
    /// SHA-256 of the current refresh secret.
    pub secret_hash: Vec<u8>,
    /// SHA-256 of the previous generation's secret, kept for the reuse grace.
    pub prev_secret_hash: Option<Vec<u8>>,
    /// When the previous generation was rotated out.
    pub rotated_at: Option<i64>,
    pub revoked_at: Option<i64>,
    pub revoke_reason: Option<String>,
    /// The app's claims for this session (`POST /admin/sessions`); they win over the user's.
    pub claims: Claims,
    /// When the user last proved a credential in this session (login, reauthentication, or an
    /// app starting it): the tokens' `auth_time`, in milliseconds.
    pub auth_time: i64,
    /// The assurance the session proved (`aal1`, `aal2`: [`crate::mfa::acr_for`] of `amr`).
    pub acr: String,
    /// The methods it proved (RFC 8176: [`crate::mfa::amr`]).
    pub amr: Vec<String>,
    /// The second factor it proved, if any: removing that factor ends the session.
    pub factor_id: Option<Uuid>,
    /// The RFC 7638 thumbprint of the DPoP key the session is bound to, for life (API.md §10).
    pub dpop_jkt: Option<String>,
}

impl Session {
    pub fn is_live(&self, now_ms: i64) -> bool {
        self.revoked_at.is_none() && now_ms < self.expires_at
    }
}

/// The write a successful rotation makes, conditional on the generation it started from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rotation {
    pub generation: i64,
    pub secret_hash: Vec<u8>,
    pub prev_secret_hash: Vec<u8>,
    pub rotated_at: i64,
    pub expires_at: i64,
    pub refresh_count: i64,
}

/// A security event, written in the same transaction as the change it records.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    pub id: Uuid,
    #[serde(rename = "type")]
    pub kind: String,
    pub at: i64,
    pub user_id: Option<Uuid>,
    pub session_id: Option<Uuid>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub detail: serde_json::Value,
}

/// Which sessions a revocation ends.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SessionSelector {
    One(Uuid),
    /// Every live session of a user, optionally sparing one (the caller's own).
    User {
        user_id: Uuid,
        except: Option<Uuid>,
    },
    /// Every live session of a user whose second factor was `factor_id` (it is being removed).
    Factor {
        user_id: Uuid,
        factor_id: Uuid,
    },
}

/// What a revocation record kills, as broadcast to every verifier: the shared rules'
/// [`tessera_revocation::Target`], with ids as UUIDs.
pub type RevocationTarget = tessera_revocation::Target<Uuid>;

/// Which sessions a bulk revocation ends. Verifiers learn of it as one cutoff, not one id per
/// session, so even a revocation of millions of sessions costs every node one map entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BulkSelector {
    Namespace(String),
    User {
        user_id: Uuid,
        namespace: Option<String>,
    },
    All,
}

impl BulkSelector {
    /// The cutoff every verifier applies for this selector.
    pub fn target(&self) -> RevocationTarget {
        match self {
            BulkSelector::Namespace(namespace) => RevocationTarget::Namespace {
                namespace: namespace.clone(),
            },
            BulkSelector::User {
                user_id,
                namespace: None,
            } => RevocationTarget::User { user_id: *user_id },
            BulkSelector::User {
                user_id,
                namespace: Some(ns),
            } => RevocationTarget::UserNamespace {
                user_id: *user_id,
                namespace: ns.clone(),
            },
            BulkSelector::All => RevocationTarget::All,
        }
    }
}

/// `[sessions] max_per_user` as a session is opened: the user's live sessions beyond the `max`
/// most recently active (the new one included) are revoked, each recorded with `event` (a
/// `session.limit_evicted` template).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionLimit {
    pub max: u32,
    pub event: Event,
}

/// A role and the permissions it grants.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Role {
    pub name: String,
    pub permissions: Vec<String>,
}

/// What a revoking write did: how many sessions it ended, and the feed records it wrote (which
/// every verifier applies, exactly as written).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Revoked {
    pub sessions: u64,
    pub records: Vec<Revocation>,
}

/// A durable revocation record; `seq` orders the feed every node polls.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Revocation {
    pub seq: i64,
    pub target: RevocationTarget,
    pub at: i64,
}

/// The lifecycle of a signing key: published before it signs, published after it stops.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyState {
    Next,
    Current,
    Retiring,
}

impl KeyState {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyState::Next => "next",
            KeyState::Current => "current",
            KeyState::Retiring => "retiring",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "next" => Some(KeyState::Next),
            "current" => Some(KeyState::Current),
            "retiring" => Some(KeyState::Retiring),
            _ => None,
        }
    }
}

/// A stored signing key. `private_sealed` is the private key encrypted with the master key.
#[derive(Clone, PartialEq, Eq)]
pub struct KeyRecord {
    pub kid: String,
    pub alg: String,
    pub state: KeyState,
    pub created_at: i64,
    /// When it started signing (moved to `current`).
    pub activated_at: Option<i64>,
    /// When it stopped signing (moved to `retiring`).
    pub retired_at: Option<i64>,
    pub private_sealed: Vec<u8>,
}

impl std::fmt::Debug for KeyRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyRecord")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .field("state", &self.state)
            .field("created_at", &self.created_at)
            .field("activated_at", &self.activated_at)
            .field("retired_at", &self.retired_at)
            .finish_non_exhaustive()
    }
}

impl Event {
    /// The event of one session that a revocation ended: `template`'s kind, time and request
    /// metadata, with an id of its own, the session, its user (unless the template names one)
    /// and the reason.
    pub fn for_revoked_session(
        template: &Event,
        session_id: Uuid,
        user_id: Uuid,
        reason: &str,
    ) -> Event {
        Event {
            id: new_id(),
            session_id: Some(session_id),
            user_id: template.user_id.or(Some(user_id)),
            detail: serde_json::json!({"reason": reason}),
            ..template.clone()
        }
    }

    /// A new event of `kind` at `at`; callers fill in the rest.
    pub fn new(kind: &str, at: i64) -> Self {
        Event {
            id: new_id(),
            kind: kind.to_owned(),
            at,
            user_id: None,
            session_id: None,
            ip: None,
            user_agent: None,
            detail: serde_json::Value::Null,
        }
    }
}

/// What an email token is for.
pub mod email_kind {
    pub const RESET: &str = "reset";
    pub const VERIFY: &str = "verify";
}

/// A reset or verification token, as stored: its SHA-256 only.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EmailToken {
    pub hash: Vec<u8>,
    pub user_id: Uuid,
    /// [`email_kind`].
    pub kind: String,
    pub created_at: i64,
    pub expires_at: i64,
}

/// A mail in the outbox. `sealed` is the message, encrypted with the master key (it may carry a
/// token); `kind` and `user_id` stay readable for throttling and metrics.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutboxMail {
    pub id: Uuid,
    pub user_id: Option<Uuid>,
    pub kind: String,
    pub sealed: Vec<u8>,
    pub created_at: i64,
}

/// A token with the mail that carries its link and the event that records it: written together
/// or not at all.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenMail {
    pub token: EmailToken,
    pub mail: OutboxMail,
    pub event: Event,
}

/// A mail a worker claimed; `attempts` counts this one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClaimedMail {
    pub id: Uuid,
    pub kind: String,
    pub sealed: Vec<u8>,
    pub attempts: i64,
}

/// The outbox at a glance, for metrics.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MailCounts {
    pub queued: u64,
    pub sent: u64,
    pub failed: u64,
}
