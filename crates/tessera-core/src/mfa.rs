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

/// A user's second factor. `Debug` leaves out the sealed data.
#[derive(Clone, PartialEq, Eq)]
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

impl std::fmt::Debug for Factor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Factor")
            .field("id", &self.id)
            .field("user_id", &self.user_id)
            .field("kind", &self.kind)
            .field("name", &self.name)
            .field("sealed", &"[redacted]")
            .field("confirmed", &self.confirmed)
            .field("created_at", &self.created_at)
            .field("expires_at", &self.expires_at)
            .field("last_used_at", &self.last_used_at)
            .field("last_step", &self.last_step)
            .finish()
    }
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

/// The server's half of a WebAuthn ceremony (API.md §9.3): single use, kept until `expires_at`.
/// `data` is the engine's own (the library's state and what the ceremony is for), as JSON.
#[derive(Clone, PartialEq, Eq)]
pub struct Ceremony {
    pub id: Uuid,
    /// `register`, `login` or `reauthenticate`.
    pub kind: String,
    /// Whose ceremony it is, when that is known at its start.
    pub user_id: Option<Uuid>,
    pub data: String,
    pub expires_at: i64,
}

impl std::fmt::Debug for Ceremony {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ceremony")
            .field("id", &self.id)
            .field("kind", &self.kind)
            .field("user_id", &self.user_id)
            .field("data", &"[redacted]")
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// What the first step of a login hands back when a second is needed.
#[derive(Debug)]
pub struct MfaChallenge {
    pub mfa_token: crate::secrets::Redacted<String>,
    /// `{id, kind, name}` of each confirmed factor.
    pub factors: Vec<Factor>,
}

/// Authentication method references (RFC 8176) a session can prove.
pub mod amr {
    pub const PWD: &str = "pwd";
    pub const OTP: &str = "otp";
    /// A device-bound passkey.
    pub const HWK: &str = "hwk";
    /// A synced passkey.
    pub const SWK: &str = "swk";
    /// User verification on the authenticator.
    pub const USER: &str = "user";
    /// Two factors were proven.
    pub const MFA: &str = "mfa";
}

/// The methods of RFC 8176's registry: what an app may say it proved (`POST /admin/sessions`).
pub const RFC_8176: [&str; 21] = [
    "face", "fpt", "geo", "hwk", "iris", "kba", "mca", "mfa", "otp", "pin", "pop", "pwd", "rba",
    "retina", "sc", "sms", "swk", "tel", "user", "vbm", "wia",
];

/// Assurance levels (`acr`).
pub mod acr {
    pub const AAL1: &str = "aal1";
    pub const AAL2: &str = "aal2";
}

/// The assurance a session's methods give: `aal2` for two different factors (`mfa`), or a
/// passkey with user verification on its own; else `aal1`. Always computed from what the
/// session stored, never taken from a presented token.
pub fn acr_for(methods: &[String]) -> &'static str {
    let has = |m: &str| methods.iter().any(|x| x == m);
    if has(amr::MFA) || ((has(amr::HWK) || has(amr::SWK)) && has(amr::USER)) {
        acr::AAL2
    } else {
        acr::AAL1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_factors_or_a_verified_passkey_make_aal2() {
        let m = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(acr_for(&m(&[])), acr::AAL1);
        assert_eq!(acr_for(&m(&["pwd"])), acr::AAL1);
        assert_eq!(
            acr_for(&m(&["pwd", "otp"])),
            acr::AAL1,
            "mfa says two were proven"
        );
        assert_eq!(acr_for(&m(&["pwd", "otp", "mfa"])), acr::AAL2);
        assert_eq!(acr_for(&m(&["hwk"])), acr::AAL1, "no user verification");
        assert_eq!(acr_for(&m(&["hwk", "user"])), acr::AAL2);
        assert_eq!(acr_for(&m(&["swk", "user"])), acr::AAL2);
    }
}
