//! DPoP state every node shares (API.md §10): a proof's `jti` is accepted once within its
//! window (counted in the rate limiter, which is Redis's where Redis is configured, so once on
//! every node), and nonces are stateless: an HMAC of the time window under a key every node
//! derives from the master key, so any node accepts any node's nonce. The proof itself is
//! checked by `tessera_token::dpop`, where the request is seen.
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::Engine;
use crate::ratelimit::Decision;

/// A nonce is handed out for this long, and accepted for one window more.
pub const NONCE_WINDOW_SECS: i64 = 60;

impl Engine {
    /// Records a proof's `jti` for key `jkt`; `false` if it was seen within `window_secs` (a
    /// replay), on this node or, with Redis, on any.
    pub async fn claim_dpop_jti(&self, jkt: &str, jti: &str, window_secs: i64) -> bool {
        // Hashed: a client's jti may be long; the key the limiter keeps is not.
        let digest = Sha256::digest(format!("{jkt}.{jti}").as_bytes());
        let key = format!("dpop-jti:{}", hex(&digest[..16]));
        let now = self.clock.now_ms();
        matches!(
            self.limiter.hit(&key, 1, window_secs * 1000, now).await,
            Decision::Allowed
        )
    }

    fn nonce_of(&self, window: i64) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.secrets.dpop_nonce).expect("any key");
        mac.update(&window.to_be_bytes());
        let tag = mac.finalize().into_bytes();
        use base64::Engine as _;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&tag[..18])
    }

    fn nonce_window(&self) -> i64 {
        self.clock.now_ms().div_euclid(1000 * NONCE_WINDOW_SECS)
    }

    /// The nonce to hand out now (`DPoP-Nonce`).
    pub fn dpop_nonce(&self) -> String {
        self.nonce_of(self.nonce_window())
    }

    /// Whether `nonce` is this window's or the last one's, compared in constant time.
    pub fn dpop_nonce_is_fresh(&self, nonce: &str) -> bool {
        let w = self.nonce_window();
        let mut ok = subtle::Choice::from(0);
        for candidate in [self.nonce_of(w), self.nonce_of(w - 1)] {
            ok |= candidate.as_bytes().ct_eq(nonce.as_bytes());
        }
        bool::from(ok)
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
