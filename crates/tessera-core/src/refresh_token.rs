//! The refresh token format: `rt_` + base64url(session id ‖ generation ‖ secret ‖ MAC).
//!
//! The MAC (HMAC-SHA-256 under a server key) lets a forged or altered token be refused before any
//! lookup, so guessing can never revoke a session. A child secret is derived from its parent
//! (HMAC under another server key), so a replay of the parent within the grace re-derives the very
//! same child, byte for byte, without the child ever being stored.
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::secrets::DerivedKeys;

const PREFIX: &str = "rt_";
const BODY_LEN: usize = 16 + 8 + 32 + 32;

/// A parsed refresh token whose MAC verified.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct RefreshToken {
    pub session_id: Uuid,
    pub generation: i64,
    pub secret: [u8; 32],
}

impl std::fmt::Debug for RefreshToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RefreshToken")
            .field("session_id", &self.session_id)
            .field("generation", &self.generation)
            .finish_non_exhaustive()
    }
}

impl RefreshToken {
    /// The first token of a new session: a fresh 256-bit secret.
    pub fn first(session_id: Uuid) -> Self {
        let mut secret = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut secret);
        RefreshToken {
            session_id,
            generation: 1,
            secret,
        }
    }

    /// The deterministic successor of this token.
    pub fn child(&self, keys: &DerivedKeys) -> Self {
        let generation = self.generation + 1;
        let mut mac = hmac(&keys.refresh_derive);
        mac.update(self.session_id.as_bytes());
        mac.update(&generation.to_be_bytes());
        mac.update(&self.secret);
        RefreshToken {
            session_id: self.session_id,
            generation,
            secret: mac.finalize().into_bytes().into(),
        }
    }

    /// SHA-256 of the secret: all the store ever keeps.
    pub fn secret_hash(&self) -> Vec<u8> {
        Sha256::digest(self.secret).to_vec()
    }

    pub fn encode(&self, keys: &DerivedKeys) -> String {
        let mut body = Vec::with_capacity(BODY_LEN);
        body.extend_from_slice(self.session_id.as_bytes());
        body.extend_from_slice(&self.generation.to_be_bytes());
        body.extend_from_slice(&self.secret);
        let tag = self.tag(keys);
        body.extend_from_slice(&tag);
        format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(body))
    }

    /// Parses and checks the MAC (in constant time). `None` for anything we did not issue.
    pub fn decode(token: &str, keys: &DerivedKeys) -> Option<Self> {
        let body = URL_SAFE_NO_PAD.decode(token.strip_prefix(PREFIX)?).ok()?;
        if body.len() != BODY_LEN {
            return None;
        }
        let session_id = Uuid::from_slice(&body[..16]).ok()?;
        let generation = i64::from_be_bytes(body[16..24].try_into().ok()?);
        let secret: [u8; 32] = body[24..56].try_into().ok()?;
        let parsed = RefreshToken {
            session_id,
            generation,
            secret,
        };
        let mut mac = hmac(&keys.refresh_mac);
        parsed.feed(&mut mac);
        mac.verify_slice(&body[56..]).ok()?;
        (generation >= 1).then_some(parsed)
    }

    fn tag(&self, keys: &DerivedKeys) -> [u8; 32] {
        let mut mac = hmac(&keys.refresh_mac);
        self.feed(&mut mac);
        mac.finalize().into_bytes().into()
    }

    fn feed(&self, mac: &mut Hmac<Sha256>) {
        mac.update(b"tessera refresh v1");
        mac.update(self.session_id.as_bytes());
        mac.update(&self.generation.to_be_bytes());
        mac.update(&self.secret);
    }
}

fn hmac(key: &[u8; 32]) -> Hmac<Sha256> {
    <Hmac<Sha256> as Mac>::new_from_slice(key).expect("any key length")
}

/// Decodes `token` and encodes it again: `Some` of the re-encoding when it is a refresh token
/// of these keys. For the fuzz target (a token must have exactly one accepted spelling); the
/// token type itself stays private to the crate.
#[doc(hidden)]
pub fn reencode(token: &str, keys: &DerivedKeys) -> Option<String> {
    RefreshToken::decode(token, keys).map(|t| t.encode(keys))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secrets::MasterKey;

    #[test]
    fn tokens_round_trip_and_children_are_deterministic() {
        let keys = MasterKey::generate().derive();
        let t = RefreshToken::first(Uuid::now_v7());
        let s = t.encode(&keys);
        assert!(s.starts_with("rt_") && s.len() >= 3 + 43);
        assert_eq!(RefreshToken::decode(&s, &keys), Some(t.clone()));
        assert_eq!(t.child(&keys), t.child(&keys));
        assert_eq!(t.child(&keys).generation, 2);
        assert_ne!(t.child(&keys).secret, t.secret);
    }

    #[test]
    fn forged_altered_or_foreign_tokens_do_not_decode() {
        let keys = MasterKey::generate().derive();
        let other = MasterKey::generate().derive();
        let s = RefreshToken::first(Uuid::now_v7()).encode(&keys);
        assert_eq!(RefreshToken::decode(&s, &other), None);
        let mut bytes = s.clone().into_bytes();
        bytes[10] = if bytes[10] == b'A' { b'B' } else { b'A' };
        assert_eq!(
            RefreshToken::decode(&String::from_utf8(bytes).unwrap(), &keys),
            None
        );
        assert_eq!(RefreshToken::decode(&s[3..], &keys), None);
        assert_eq!(RefreshToken::decode(&format!("{s}A"), &keys), None);
        assert_eq!(RefreshToken::decode("rt_", &keys), None);
        assert_eq!(
            RefreshToken::decode("eyJhbGciOiJFZERTQSJ9.e30.sig", &keys),
            None
        );
    }
}
