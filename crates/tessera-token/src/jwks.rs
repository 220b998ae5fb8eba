//! JSON Web Key Sets: the one Tessera publishes, and reading someone else's.
use serde::{Deserialize, Serialize};

use crate::alg::Algorithm;
use crate::error::KeyError;
use crate::jwk::{Jwk, PublicJwk};
use crate::keys::VerifyingKey;

/// A JSON Web Key Set: what `/.well-known/jwks.json` serves.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Jwks {
    pub keys: Vec<Jwk>,
}

#[derive(Deserialize)]
struct PublicJwks {
    keys: Vec<serde_json::Value>,
}

impl Jwks {
    /// Reads the signature keys of `algorithm` from a JWKS document (for a resource server that
    /// verifies tokens from Tessera's `/.well-known/jwks.json`).
    ///
    /// A key is taken only if it names a `kid`, says `alg` = `algorithm` (a key without `alg`
    /// is not guessed at), is not marked for another `use` than `sig`, and its material is
    /// valid for that algorithm (RSA: at least 2048 bits). Keys that fail any of this are
    /// skipped, so one odd key cannot hide the others; a document that is not a JWKS at all is
    /// an error. HS256 keys are never published and are never read from a JWKS.
    ///
    /// ```
    /// use tessera_token::{Algorithm, Jwks, SigningKey};
    /// let key = SigningKey::generate(Algorithm::EdDSA).unwrap();
    /// let doc = serde_json::to_vec(&Jwks { keys: vec![key.verifying_key().to_jwk().unwrap()] }).unwrap();
    /// let keys = Jwks::parse_verifying_keys(&doc, Algorithm::EdDSA).unwrap();
    /// assert_eq!(keys[0].kid(), key.kid());
    /// ```
    pub fn parse_verifying_keys(
        json: &[u8],
        algorithm: Algorithm,
    ) -> Result<Vec<VerifyingKey>, KeyError> {
        let doc: PublicJwks =
            serde_json::from_slice(json).map_err(|_| KeyError::Invalid("a JWKS document"))?;
        Ok(doc
            .keys
            .into_iter()
            .filter_map(|v| serde_json::from_value::<PublicJwk>(v).ok())
            .filter(|k| k.alg.as_deref() == Some(algorithm.as_str()))
            .filter(|k| k.use_.as_deref().is_none_or(|u| u == "sig"))
            .filter_map(|k| VerifyingKey::from_public_jwk(&k, algorithm).ok())
            .collect())
    }

    /// The algorithms named by the keys of a JWKS document, in order of first appearance (for
    /// a resource server that learns the deployment's algorithm from its first JWKS).
    pub fn algorithms(json: &[u8]) -> Result<Vec<Algorithm>, KeyError> {
        let doc: PublicJwks =
            serde_json::from_slice(json).map_err(|_| KeyError::Invalid("a JWKS document"))?;
        let mut out = Vec::new();
        for alg in doc
            .keys
            .iter()
            .filter_map(|k| k.get("alg")?.as_str()?.parse::<Algorithm>().ok())
        {
            if alg != Algorithm::HS256 && !out.contains(&alg) {
                out.push(alg);
            }
        }
        Ok(out)
    }
}
