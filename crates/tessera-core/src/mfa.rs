//! Second factors (API.md §9) as stored: one row type for every kind of factor, with the kind's
//! own data sealed; recovery codes (hashes only); and the state of a login between its password
//! and its second step. A new kind of factor (passkeys) is one more [`factor_kind`] and its
//! sealed data, nothing else here.
use uuid::Uuid;

/// The kinds of factor.
pub mod factor_kind {
    /// A TOTP authenticator app (RFC 6238).
    pub const TOTP: &str = "totp";
    /// A WebAuthn passkey.
    pub const PASSKEY: &str = "passkey";
}

/// A user's second factor.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Factor {
    pub id: Uuid,
    pub user_id: Uuid,
    /// [`factor_kind`].
    pub kind: String,
    pub name: String,
    /// The kind's secret data (a TOTP secret, a passkey credential), sealed with the master key.
    pub sealed: Vec<u8>,
    /// Pending until the user proves it works; a pending factor changes nothing.
    pub confirmed: bool,
    pub created_at: i64,
    /// A pending factor not confirmed by then is gone (`None` once confirmed).
    pub expires_at: Option<i64>,
    pub last_used_at: Option<i64>,
    /// The last TOTP time step accepted (-1: none): each step is accepted once, on every node.
    pub last_step: i64,
}

/// The first step of a login that needs a second one: who, where the session will live and how
/// its tokens travel, kept by the hash of the token the client holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MfaToken {
    /// SHA-256 of the token.
    pub hash: Vec<u8>,
    pub user_id: Uuid,
    pub created_at: i64,
    pub expires_at: i64,
    /// Wrong codes so far.
    pub attempts: i64,
    pub namespace: String,
    /// `body` or `cookie`.
    pub transport: String,
}
