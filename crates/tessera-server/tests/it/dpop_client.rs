//! A DPoP client's half for the tests: an ES256 key and the proofs it signs (RFC 9449 §4.2).
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use p256::ecdsa::signature::Signer;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

pub struct DpopKey {
    key: p256::ecdsa::SigningKey,
}

impl DpopKey {
    pub fn new() -> Self {
        DpopKey {
            key: p256::ecdsa::SigningKey::random(&mut rand::rngs::OsRng),
        }
    }

    pub fn jwk(&self) -> Value {
        let p = self.key.verifying_key().to_encoded_point(false);
        json!({"kty": "EC", "crv": "P-256", "x": B64.encode(p.x().unwrap()), "y": B64.encode(p.y().unwrap())})
    }

    /// The RFC 7638 thumbprint.
    pub fn jkt(&self) -> String {
        let j = self.jwk();
        let canonical = format!(
            r#"{{"crv":"P-256","kty":"EC","x":"{}","y":"{}"}}"#,
            j["x"].as_str().unwrap(),
            j["y"].as_str().unwrap()
        );
        B64.encode(Sha256::digest(canonical.as_bytes()))
    }

    /// A fresh proof for `method` `url`, with `ath` for `token` and `nonce` if given.
    pub fn proof(
        &self,
        method: &str,
        url: &str,
        token: Option<&str>,
        nonce: Option<&str>,
    ) -> String {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let mut claims = json!({
            "jti": uuid::Uuid::new_v4().to_string(),
            "htm": method,
            "htu": url,
            "iat": now,
        });
        if let Some(t) = token {
            claims["ath"] = B64.encode(Sha256::digest(t.as_bytes())).into();
        }
        if let Some(n) = nonce {
            claims["nonce"] = n.into();
        }
        let header = json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": self.jwk()});
        let input = format!(
            "{}.{}",
            B64.encode(header.to_string()),
            B64.encode(claims.to_string())
        );
        let sig: p256::ecdsa::Signature = self.key.sign(input.as_bytes());
        format!("{input}.{}", B64.encode(sig.to_bytes()))
    }
}

/// The claims of a JWT, unverified (the server's own tests verify).
pub fn claims_of(token: &str) -> Value {
    serde_json::from_slice(&B64.decode(token.split('.').nth(1).unwrap()).unwrap()).unwrap()
}
