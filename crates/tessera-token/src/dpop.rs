//! DPoP proofs (RFC 9449): the strict check of one proof, shared by the server and
//! `tessera-axum`, and RFC 7638 thumbprints. The proof's own key (`jwk`, public members only) is
//! the one header where a key is accepted; nothing here reaches a network or a clock.
//!
//! Unlike our own tokens, a proof's ECDSA signature is accepted in either S form: browsers'
//! WebCrypto does not normalise to low-S, and a proof's uniqueness is its `jti`, not its bytes.
use serde::Deserialize;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use thiserror::Error;

use crate::b64;

/// The header type of a proof.
pub const DPOP_TYP: &str = "dpop+jwt";
/// Proofs longer than this are refused before any parsing.
const MAX_PROOF_BYTES: usize = 4 * 1024;
/// Clock skew tolerated on `iat`, either way.
pub const PROOF_LEEWAY_SECS: i64 = 5;

/// A proof's signature algorithm. `Ed25519` is RFC 9864's fully specified name for what the
/// polymorphic `EdDSA` means here.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ProofAlgorithm {
    ES256,
    EdDSA,
    Ed25519,
}

impl ProofAlgorithm {
    pub fn as_str(self) -> &'static str {
        match self {
            ProofAlgorithm::ES256 => "ES256",
            ProofAlgorithm::EdDSA => "EdDSA",
            ProofAlgorithm::Ed25519 => "Ed25519",
        }
    }

    /// Exact JOSE names only.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "ES256" => Some(ProofAlgorithm::ES256),
            "EdDSA" => Some(ProofAlgorithm::EdDSA),
            "Ed25519" => Some(ProofAlgorithm::Ed25519),
            _ => None,
        }
    }
}

/// Why a proof was refused: `invalid_dpop_proof` to the client. Replays and nonces need state,
/// so the caller refuses those itself.
#[derive(Debug, Error, Clone, Copy, PartialEq, Eq)]
pub enum DpopError {
    #[error("the proof is not a three-part JWS")]
    Malformed,
    #[error("the proof's header is not a DPoP header (typ, alg, public jwk)")]
    Header,
    #[error("the proof's algorithm is not allowed")]
    Algorithm,
    #[error("the proof's key is not a public P-256 or Ed25519 key")]
    Key,
    #[error("the proof's signature does not verify")]
    Signature,
    #[error("the proof's claims are malformed")]
    Claims,
    #[error("the proof names another method")]
    Method,
    #[error("the proof names another URL")]
    Url,
    #[error("the proof is too old or from the future")]
    Time,
    #[error("the proof's ath does not match the token")]
    AccessTokenHash,
}

/// What a proof must match.
#[derive(Clone, Debug)]
pub struct ProofCheck<'a> {
    /// The request's method, e.g. `POST`.
    pub method: &'a str,
    /// The request's URL as the client addressed it (query and fragment are ignored).
    pub url: &'a str,
    /// The access token presented with it, whose hash `ath` must be.
    pub access_token: Option<&'a str>,
    pub algorithms: &'a [ProofAlgorithm],
    /// Unix seconds.
    pub now: i64,
    /// How old `iat` may be, in seconds (plus [`PROOF_LEEWAY_SECS`]).
    pub max_age_secs: i64,
}

/// A proof that passed: its key's thumbprint and what replay and nonce checks need.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Proof {
    /// RFC 7638 SHA-256 thumbprint of the proof's key, base64url.
    pub jkt: String,
    pub jti: String,
    pub iat: i64,
    pub nonce: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Header {
    typ: String,
    alg: String,
    jwk: Map<String, Value>,
}

#[derive(Deserialize)]
struct Claims {
    jti: String,
    htm: String,
    htu: String,
    iat: i64,
    ath: Option<String>,
    nonce: Option<String>,
}

/// Members a public JWK may carry: anything else (`d`, `p`, `k`...) is refused, a private key
/// most of all.
const PUBLIC_MEMBERS: &[&str] = &[
    "kty", "crv", "x", "y", "alg", "use", "kid", "key_ops", "ext",
];

enum ProofKey {
    /// The uncompressed SEC1 point (validated on the curve), for ring's verifier.
    Es([u8; 65]),
    Ed(ed25519_dalek::VerifyingKey),
}

fn str_member<'a>(jwk: &'a Map<String, Value>, name: &str) -> Result<&'a str, DpopError> {
    jwk.get(name).and_then(Value::as_str).ok_or(DpopError::Key)
}

/// The proof key of a header `jwk`, and its RFC 7638 thumbprint.
fn proof_key(jwk: &Map<String, Value>) -> Result<(ProofKey, String), DpopError> {
    if jwk.keys().any(|k| !PUBLIC_MEMBERS.contains(&k.as_str())) {
        return Err(DpopError::Key);
    }
    let kty = str_member(jwk, "kty")?;
    let crv = str_member(jwk, "crv")?;
    let x = str_member(jwk, "x")?;
    match (kty, crv) {
        ("EC", "P-256") => {
            let y = str_member(jwk, "y")?;
            let (xb, yb) = (b64::decode(x), b64::decode(y));
            let (Some(xb), Some(yb)) = (xb, yb) else {
                return Err(DpopError::Key);
            };
            if xb.len() != 32 || yb.len() != 32 {
                return Err(DpopError::Key);
            }
            let point = p256::EncodedPoint::from_affine_coordinates(
                xb.as_slice().into(),
                yb.as_slice().into(),
                false,
            );
            p256::ecdsa::VerifyingKey::from_encoded_point(&point).map_err(|_| DpopError::Key)?;
            let mut sec1 = [0u8; 65];
            sec1.copy_from_slice(point.as_bytes());
            Ok((ProofKey::Es(sec1), thumbprint_ec(x, y)))
        }
        ("OKP", "Ed25519") => {
            let xb: [u8; 32] = b64::decode(x)
                .and_then(|b| b.try_into().ok())
                .ok_or(DpopError::Key)?;
            let key = ed25519_dalek::VerifyingKey::from_bytes(&xb).map_err(|_| DpopError::Key)?;
            Ok((ProofKey::Ed(key), thumbprint_okp(x)))
        }
        _ => Err(DpopError::Key),
    }
}

fn digest_b64(s: &str) -> String {
    b64::encode(&Sha256::digest(s.as_bytes()))
}

/// RFC 7638 thumbprint of a P-256 key (members in lexicographic order, no whitespace).
pub fn thumbprint_ec(x: &str, y: &str) -> String {
    digest_b64(&format!(
        r#"{{"crv":"P-256","kty":"EC","x":"{x}","y":"{y}"}}"#
    ))
}

/// RFC 7638 thumbprint of an Ed25519 key (RFC 8037 §2).
pub fn thumbprint_okp(x: &str) -> String {
    digest_b64(&format!(r#"{{"crv":"Ed25519","kty":"OKP","x":"{x}"}}"#))
}

/// `ath`: the access token's SHA-256, base64url.
pub fn access_token_hash(token: &str) -> String {
    digest_b64(token)
}

/// The URL as `htu` compares it: scheme and host lowercased, the default port dropped, no query
/// or fragment, an empty path as `/`. `None` if it is no absolute http(s) URL.
pub fn normalize_htu(url: &str) -> Option<String> {
    let url = url.split(['?', '#']).next()?;
    let (scheme, rest) = url.split_once("://")?;
    let scheme = scheme.to_ascii_lowercase();
    if scheme != "http" && scheme != "https" {
        return None;
    }
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    if authority.is_empty() || authority.contains('@') {
        return None;
    }
    let authority = authority.to_ascii_lowercase();
    let default = if scheme == "https" { ":443" } else { ":80" };
    let authority = authority.strip_suffix(default).unwrap_or(&authority);
    Some(format!("{scheme}://{authority}{path}"))
}

/// Checks one proof (RFC 9449 §4.3) except replay and nonce freshness, which need state: the
/// caller checks [`Proof::jti`] once per window and [`Proof::nonce`] against its nonces.
pub fn verify_proof(proof: &str, check: &ProofCheck<'_>) -> Result<Proof, DpopError> {
    if proof.len() > MAX_PROOF_BYTES {
        return Err(DpopError::Malformed);
    }
    let mut parts = proof.split('.');
    let (Some(h), Some(p), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(DpopError::Malformed);
    };
    let header_bytes = b64::decode(h).ok_or(DpopError::Malformed)?;
    let payload = b64::decode(p).ok_or(DpopError::Malformed)?;
    let signature = b64::decode(s).ok_or(DpopError::Malformed)?;
    let header: Header = serde_json::from_slice(&header_bytes).map_err(|_| DpopError::Header)?;
    if !header.typ.eq_ignore_ascii_case(DPOP_TYP) {
        return Err(DpopError::Header);
    }
    let alg = ProofAlgorithm::parse(&header.alg)
        .filter(|a| check.algorithms.contains(a))
        .ok_or(DpopError::Algorithm)?;
    let (key, jkt) = proof_key(&header.jwk)?;
    let signing_input = &proof.as_bytes()[..h.len() + 1 + p.len()];
    let verified = match (&key, alg) {
        (ProofKey::Es(point), ProofAlgorithm::ES256) => {
            // ring's P-256 (r || s, as JWS has it) is an order of magnitude faster than p256's
            // and accepts either S form: unlike our tokens' verifier, no low-S check.
            let key = ring::signature::UnparsedPublicKey::new(
                &ring::signature::ECDSA_P256_SHA256_FIXED,
                &point[..],
            );
            key.verify(signing_input, &signature).is_ok()
        }
        (ProofKey::Ed(k), ProofAlgorithm::EdDSA | ProofAlgorithm::Ed25519) => {
            ed25519_dalek::Signature::from_slice(&signature)
                .is_ok_and(|sig| k.verify_strict(signing_input, &sig).is_ok())
        }
        _ => return Err(DpopError::Algorithm),
    };
    if !verified {
        return Err(DpopError::Signature);
    }
    let claims: Claims = serde_json::from_slice(&payload).map_err(|_| DpopError::Claims)?;
    if claims.jti.is_empty() || claims.jti.len() > 256 {
        return Err(DpopError::Claims);
    }
    if claims.htm != check.method {
        return Err(DpopError::Method);
    }
    let want = normalize_htu(check.url).ok_or(DpopError::Url)?;
    if normalize_htu(&claims.htu).as_deref() != Some(want.as_str()) {
        return Err(DpopError::Url);
    }
    let age = check.now - claims.iat;
    if age > check.max_age_secs + PROOF_LEEWAY_SECS || age < -PROOF_LEEWAY_SECS {
        return Err(DpopError::Time);
    }
    if let Some(token) = check.access_token {
        let expected = access_token_hash(token);
        let ok = claims
            .ath
            .as_deref()
            .is_some_and(|a| bool::from(a.as_bytes().ct_eq(expected.as_bytes())));
        if !ok {
            return Err(DpopError::AccessTokenHash);
        }
    }
    Ok(Proof {
        jkt,
        jti: claims.jti,
        iat: claims.iat,
        nonce: claims.nonce,
    })
}
