use serde::{Deserialize, Serialize};

/// The claims of a Tessera access token (API.md §3).
///
/// Deserialization is typed: a claim of the wrong JSON type (a string `exp`, a float `iat`, an
/// object `roles`) fails, and that failure is reported as a malformed token.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessClaims {
    pub iss: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aud: Option<Audience>,
    pub sub: String,
    pub sid: String,
    pub jti: String,
    pub iat: i64,
    pub exp: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<i64>,
    pub ns: String,
    pub roles: Vec<String>,
    pub perms: Vec<String>,
    /// When the user last proved a credential in this session (API.md §8), in unix seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_time: Option<i64>,
    /// The app's own claims (API.md §8), a JSON object, when set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ext: Option<serde_json::Map<String, serde_json::Value>>,
    /// The session's assurance level (`aal1`, `aal2`; API.md §9). Tokens of a Tessera before
    /// second factors have none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acr: Option<String>,
    /// The methods the session proved (RFC 8176: `pwd`, `otp`, `hwk`, `swk`, `user`, `mfa`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amr: Option<Vec<String>>,
    /// The key the token is bound to (RFC 9449 §6): only with a proof by that key is it any good.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cnf: Option<Confirmation>,
}

/// `cnf` (RFC 7800) as DPoP uses it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Confirmation {
    /// The RFC 7638 SHA-256 thumbprint of the DPoP key, base64url.
    pub jkt: String,
}

impl AccessClaims {
    /// When the token was issued, in unix milliseconds: the timestamp of its `jti` when that is a
    /// version-7 UUID within the second named by `iat`; otherwise the end of that second
    /// (`iat * 1000 + 999`), so a revocation cutoff within the second still applies (fail
    /// closed). Revocation cutoffs are compared with this (docs/resource-servers.md).
    pub fn issued_at_ms(&self) -> i64 {
        uuid_v7_ms(&self.jti)
            .filter(|ms| ms.div_euclid(1000) == self.iat)
            .unwrap_or(self.iat.saturating_mul(1000).saturating_add(999))
    }
}

/// The 48-bit unix-millisecond timestamp of a hyphenated version-7 UUID.
fn uuid_v7_ms(jti: &str) -> Option<i64> {
    let b = jti.as_bytes();
    let hyphens = [8, 13, 18, 23];
    if b.len() != 36 || hyphens.iter().any(|&i| b[i] != b'-') {
        return None;
    }
    // The 32 hex digits around the hyphens; no allocation (this runs on every verification).
    let mut digits = b.iter().filter(|&&c| c != b'-');
    if digits.clone().count() != 32 || !digits.clone().all(u8::is_ascii_hexdigit) {
        return None;
    }
    let mut ms: i64 = 0;
    for d in digits.by_ref().take(12) {
        ms = ms * 16 + i64::from((*d as char).to_digit(16)?);
    }
    // The 13th digit is the version.
    (digits.next() == Some(&b'7')).then_some(ms)
}

/// `aud` is a single string or an array of strings (RFC 7519 §4.1.3).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Audience {
    One(String),
    Many(Vec<String>),
}

impl Audience {
    /// Builds the claim for the configured audiences: absent when none.
    pub fn from_config(audience: &[String]) -> Option<Audience> {
        match audience {
            [] => None,
            [one] => Some(Audience::One(one.clone())),
            many => Some(Audience::Many(many.to_vec())),
        }
    }

    pub(crate) fn contains_any(&self, wanted: &[String]) -> bool {
        match self {
            Audience::One(a) => wanted.iter().any(|w| w == a),
            Audience::Many(all) => all.iter().any(|a| wanted.iter().any(|w| w == a)),
        }
    }
}
