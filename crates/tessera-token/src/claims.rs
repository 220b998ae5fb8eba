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
