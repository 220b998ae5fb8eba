//! Signing and verifying keys. Keys are parsed once, when loaded, so the hot verify path only runs
//! the signature maths.
use std::fmt;

use ed25519_dalek::Verifier as _;
use hmac::{Hmac, Mac};
use p256::ecdsa::signature::Signer as _;
use rand::rngs::OsRng;
use rsa::pkcs1::{DecodeRsaPrivateKey, EncodeRsaPrivateKey};
use rsa::signature::SignatureEncoding;
use rsa::traits::PublicKeyParts;
use sha2::{Digest, Sha256};

use crate::alg::Algorithm;
use crate::b64;
use crate::error::KeyError;
use crate::jwk::{Jwk, PublicJwk};

const RSA_BITS: usize = 2048;
const HS256_MIN_SECRET: usize = 32;

/// A private signing key with its `kid`. `Debug` never prints key material.
pub struct SigningKey {
    kid: String,
    inner: Signing,
}

enum Signing {
    /// Named `EdDSA` or, fully specified (RFC 9864), `Ed25519`: the same signatures.
    Ed(ed25519_dalek::SigningKey, Algorithm),
    Es(p256::ecdsa::SigningKey),
    Rs(
        Box<rsa::pkcs1v15::SigningKey<Sha256>>,
        Box<rsa::RsaPrivateKey>,
    ),
    Hs(Vec<u8>),
}

/// A public (or, for HS256, shared) key that verifies signatures.
#[derive(Clone)]
pub struct VerifyingKey {
    kid: String,
    inner: Verifying,
}

#[derive(Clone)]
enum Verifying {
    Ed(ed25519_dalek::VerifyingKey, Algorithm),
    Es(p256::ecdsa::VerifyingKey),
    Rs(
        Box<rsa::pkcs1v15::VerifyingKey<Sha256>>,
        Box<rsa::RsaPublicKey>,
    ),
    Hs(Vec<u8>),
}

impl SigningKey {
    /// Generates a fresh key for an asymmetric algorithm. HS256 keys come from the config instead.
    pub fn generate(alg: Algorithm) -> Result<Self, KeyError> {
        let inner = match alg {
            Algorithm::EdDSA | Algorithm::Ed25519 => {
                Signing::Ed(ed25519_dalek::SigningKey::generate(&mut OsRng), alg)
            }
            Algorithm::ES256 => Signing::Es(p256::ecdsa::SigningKey::random(&mut OsRng)),
            Algorithm::RS256 => {
                let key = rsa::RsaPrivateKey::new(&mut OsRng, RSA_BITS)
                    .map_err(|_| KeyError::Invalid("RS256"))?;
                rsa_signing(key)
            }
            Algorithm::HS256 => return Err(KeyError::NotGenerable),
        };
        Ok(Self::with_derived_kid(inner))
    }

    /// The HS256 key for a configured shared secret (at least 32 bytes).
    pub fn from_hs256_secret(secret: &[u8]) -> Result<Self, KeyError> {
        if secret.len() < HS256_MIN_SECRET {
            return Err(KeyError::ShortSecret);
        }
        Ok(Self::with_derived_kid(Signing::Hs(secret.to_vec())))
    }

    /// Rebuilds a key from [`SigningKey::export_private`] output.
    pub fn import(alg: Algorithm, private: &[u8]) -> Result<Self, KeyError> {
        let invalid = KeyError::Invalid(alg.as_str());
        let inner = match alg {
            Algorithm::EdDSA | Algorithm::Ed25519 => {
                let seed: [u8; 32] = private.try_into().map_err(|_| invalid)?;
                Signing::Ed(ed25519_dalek::SigningKey::from_bytes(&seed), alg)
            }
            Algorithm::ES256 => {
                Signing::Es(p256::ecdsa::SigningKey::from_slice(private).map_err(|_| invalid)?)
            }
            Algorithm::RS256 => {
                rsa_signing(rsa::RsaPrivateKey::from_pkcs1_der(private).map_err(|_| invalid)?)
            }
            Algorithm::HS256 => return Self::from_hs256_secret(private),
        };
        Ok(Self::with_derived_kid(inner))
    }

    /// The private key bytes, for encrypted storage only (seed, scalar, PKCS#1 DER or secret).
    pub fn export_private(&self) -> Vec<u8> {
        match &self.inner {
            Signing::Ed(k, _) => k.to_bytes().to_vec(),
            Signing::Es(k) => k.to_bytes().to_vec(),
            Signing::Rs(_, k) => k
                .to_pkcs1_der()
                .map(|d| d.as_bytes().to_vec())
                .unwrap_or_default(),
            Signing::Hs(s) => s.clone(),
        }
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    pub fn algorithm(&self) -> Algorithm {
        match self.inner {
            Signing::Ed(_, alg) => alg,
            Signing::Es(_) => Algorithm::ES256,
            Signing::Rs(..) => Algorithm::RS256,
            Signing::Hs(_) => Algorithm::HS256,
        }
    }

    /// The matching verifying key.
    pub fn verifying_key(&self) -> VerifyingKey {
        let inner = match &self.inner {
            Signing::Ed(k, alg) => Verifying::Ed(k.verifying_key(), *alg),
            Signing::Es(k) => Verifying::Es(*k.verifying_key()),
            Signing::Rs(_, k) => {
                let public = k.to_public_key();
                Verifying::Rs(
                    Box::new(rsa::pkcs1v15::VerifyingKey::new(public.clone())),
                    Box::new(public),
                )
            }
            Signing::Hs(s) => Verifying::Hs(s.clone()),
        };
        VerifyingKey {
            kid: self.kid.clone(),
            inner,
        }
    }

    pub(crate) fn sign(&self, message: &[u8]) -> Vec<u8> {
        match &self.inner {
            Signing::Ed(k, _) => k.sign(message).to_bytes().to_vec(),
            Signing::Es(k) => {
                let sig: p256::ecdsa::Signature = k.sign(message);
                // Low-S only (the verifier refuses high-S), so each token has one encoding.
                sig.normalize_s().unwrap_or(sig).to_bytes().to_vec()
            }
            Signing::Rs(k, _) => k.sign(message).to_vec(),
            Signing::Hs(s) => hmac_sha256(s, message),
        }
    }

    fn with_derived_kid(inner: Signing) -> Self {
        let mut key = SigningKey {
            kid: String::new(),
            inner,
        };
        key.kid = key.verifying_key().thumbprint();
        key
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .field("alg", &self.algorithm())
            .field("private", &"[redacted]")
            .finish()
    }
}

impl VerifyingKey {
    pub fn kid(&self) -> &str {
        &self.kid
    }

    pub fn algorithm(&self) -> Algorithm {
        match self.inner {
            Verifying::Ed(_, alg) => alg,
            Verifying::Es(_) => Algorithm::ES256,
            Verifying::Rs(..) => Algorithm::RS256,
            Verifying::Hs(_) => Algorithm::HS256,
        }
    }

    /// Reads a published public key. `kid` is kept as published (it is what tokens name).
    pub(crate) fn from_public_jwk(jwk: &PublicJwk, alg: Algorithm) -> Result<Self, KeyError> {
        let bytes = |v: &Option<String>| v.as_deref().and_then(b64::decode);
        let kid = jwk
            .kid
            .clone()
            .filter(|k| !k.is_empty())
            .ok_or(KeyError::Invalid("a JWK without kid"))?;
        let (kty, crv) = (jwk.kty.as_deref(), jwk.crv.as_deref());
        let inner = match (alg, kty, crv) {
            (Algorithm::EdDSA | Algorithm::Ed25519, Some("OKP"), Some("Ed25519")) => {
                let x: [u8; 32] = bytes(&jwk.x)
                    .and_then(|x| x.try_into().ok())
                    .ok_or(KeyError::Invalid("Ed25519"))?;
                Verifying::Ed(
                    ed25519_dalek::VerifyingKey::from_bytes(&x)
                        .map_err(|_| KeyError::Invalid("Ed25519"))?,
                    alg,
                )
            }
            (Algorithm::ES256, Some("EC"), Some("P-256")) => {
                let (x, y) = (bytes(&jwk.x), bytes(&jwk.y));
                let (Some(x), Some(y)) = (x, y) else {
                    return Err(KeyError::Invalid("ES256"));
                };
                if x.len() != 32 || y.len() != 32 {
                    return Err(KeyError::Invalid("ES256"));
                }
                let point = p256::EncodedPoint::from_affine_coordinates(
                    x.as_slice().into(),
                    y.as_slice().into(),
                    false,
                );
                Verifying::Es(
                    p256::ecdsa::VerifyingKey::from_encoded_point(&point)
                        .map_err(|_| KeyError::Invalid("ES256"))?,
                )
            }
            (Algorithm::RS256, Some("RSA"), _) => {
                let (Some(n), Some(e)) = (bytes(&jwk.n), bytes(&jwk.e)) else {
                    return Err(KeyError::Invalid("RS256"));
                };
                let public = rsa::RsaPublicKey::new(
                    rsa::BigUint::from_bytes_be(&n),
                    rsa::BigUint::from_bytes_be(&e),
                )
                .map_err(|_| KeyError::Invalid("RS256"))?;
                if public.n().bits() < RSA_BITS {
                    return Err(KeyError::Invalid("RS256"));
                }
                Verifying::Rs(
                    Box::new(rsa::pkcs1v15::VerifyingKey::new(public.clone())),
                    Box::new(public),
                )
            }
            _ => return Err(KeyError::Invalid("this algorithm")),
        };
        Ok(VerifyingKey { kid, inner })
    }

    /// The public JWK; `None` for HS256, whose key is a shared secret and is never published.
    pub fn to_jwk(&self) -> Option<Jwk> {
        let mut jwk = Jwk {
            kty: "",
            kid: self.kid.clone(),
            alg: self.algorithm().as_str(),
            use_: "sig",
            crv: None,
            x: None,
            y: None,
            n: None,
            e: None,
        };
        match &self.inner {
            Verifying::Ed(k, _) => {
                jwk.kty = "OKP";
                jwk.crv = Some("Ed25519");
                jwk.x = Some(b64::encode(k.as_bytes()));
            }
            Verifying::Es(k) => {
                let point = k.to_encoded_point(false);
                jwk.kty = "EC";
                jwk.crv = Some("P-256");
                jwk.x = Some(b64::encode(point.x()?));
                jwk.y = Some(b64::encode(point.y()?));
            }
            Verifying::Rs(_, k) => {
                jwk.kty = "RSA";
                jwk.n = Some(b64::encode(&k.n().to_bytes_be()));
                jwk.e = Some(b64::encode(&k.e().to_bytes_be()));
            }
            Verifying::Hs(_) => return None,
        }
        Some(jwk)
    }

    /// Checks `signature` over `message`. HMAC is compared in constant time; Ed25519 uses the
    /// strict check that refuses malleable signatures and weak keys; ECDSA accepts low-S only.
    pub(crate) fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        match &self.inner {
            Verifying::Ed(k, _) => ed25519_dalek::Signature::from_slice(signature)
                .is_ok_and(|sig| k.verify_strict(message, &sig).is_ok()),
            // A high-S signature is the valid twin of a low-S one: refused, so that a token has
            // exactly one accepted form (API.md §3).
            Verifying::Es(k) => p256::ecdsa::Signature::from_slice(signature)
                .is_ok_and(|sig| sig.normalize_s().is_none() && k.verify(message, &sig).is_ok()),
            Verifying::Rs(k, _) => rsa::pkcs1v15::Signature::try_from(signature)
                .is_ok_and(|sig| k.verify(message, &sig).is_ok()),
            Verifying::Hs(s) => {
                let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(s).expect("any key length");
                mac.update(message);
                mac.verify_slice(signature).is_ok()
            }
        }
    }

    /// A short, stable key id: a hash of the algorithm and the public key (or, for HS256, of the
    /// secret under a label, so the kid reveals nothing about it).
    fn thumbprint(&self) -> String {
        let mut h = Sha256::new();
        h.update(self.algorithm().as_str().as_bytes());
        match &self.inner {
            Verifying::Ed(k, _) => h.update(k.as_bytes()),
            Verifying::Es(k) => h.update(k.to_encoded_point(true).as_bytes()),
            Verifying::Rs(_, k) => {
                h.update(k.n().to_bytes_be());
                h.update(k.e().to_bytes_be());
            }
            Verifying::Hs(s) => {
                h.update(b"tessera hs256 kid");
                h.update(s);
            }
        }
        b64::encode(&h.finalize()[..12])
    }
}

impl fmt::Debug for VerifyingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerifyingKey")
            .field("kid", &self.kid)
            .field("alg", &self.algorithm())
            .finish_non_exhaustive()
    }
}

fn rsa_signing(key: rsa::RsaPrivateKey) -> Signing {
    Signing::Rs(
        Box::new(rsa::pkcs1v15::SigningKey::<Sha256>::new(key.clone())),
        Box::new(key),
    )
}

fn hmac_sha256(key: &[u8], message: &[u8]) -> Vec<u8> {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("any key length");
    mac.update(message);
    mac.finalize().into_bytes().to_vec()
}
