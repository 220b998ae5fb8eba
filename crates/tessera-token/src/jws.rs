//! Compact JWS signing and the strict verification layer.
use std::collections::HashMap;

use serde::Deserialize;

use crate::alg::Algorithm;
use crate::b64;
use crate::claims::AccessClaims;
use crate::error::VerifyError;
use crate::keys::{SigningKey, VerifyingKey};

/// The most clock skew verification ever tolerates, in seconds.
pub const MAX_LEEWAY_SECS: i64 = 5;
/// Tokens longer than this are refused before any parsing.
const MAX_TOKEN_BYTES: usize = 8 * 1024;
const TYP: &str = "at+jwt";

/// What a token must match besides its signature.
#[derive(Clone, Debug)]
pub struct VerifyOptions {
    pub issuer: String,
    /// When non-empty, `aud` is required and must name one of these; when empty, `aud` must be
    /// absent.
    pub audience: Vec<String>,
    /// Clock skew tolerance in seconds; clamped to [`MAX_LEEWAY_SECS`].
    pub leeway_secs: i64,
    /// When set, a token whose lifetime (`exp - iat`) is longer is refused: shortening the
    /// access-token lifetime can then never revive an old token (API.md §3).
    pub max_lifetime_secs: Option<i64>,
}

/// The header we sign with. Nothing else is accepted on the way in.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Header {
    alg: String,
    kid: String,
    typ: String,
}

/// Signs `claims` as a compact JWS with header `{"alg","kid","typ":"at+jwt"}`.
pub fn sign(claims: &AccessClaims, key: &SigningKey) -> String {
    let header = serde_json::json!({"alg": key.algorithm().as_str(), "kid": key.kid(), "typ": TYP});
    let mut token = b64::encode(header.to_string().as_bytes());
    token.push('.');
    token.push_str(&b64::encode(
        &serde_json::to_vec(claims).expect("claims serialize"),
    ));
    let signature = key.sign(token.as_bytes());
    token.push('.');
    token.push_str(&b64::encode(&signature));
    token
}

/// The keys a node accepts, all of the one configured algorithm, by `kid`.
#[derive(Clone, Debug)]
pub struct KeySet {
    algorithm: Algorithm,
    keys: HashMap<String, VerifyingKey>,
}

impl KeySet {
    /// Keeps only the keys of `algorithm`: a token is never verified with a key of another kind.
    pub fn new(algorithm: Algorithm, keys: impl IntoIterator<Item = VerifyingKey>) -> Self {
        let keys = keys
            .into_iter()
            .filter(|k| k.algorithm() == algorithm)
            .map(|k| (k.kid().to_owned(), k))
            .collect();
        KeySet { algorithm, keys }
    }

    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    pub fn contains(&self, kid: &str) -> bool {
        self.keys.contains_key(kid)
    }

    /// Verifies `token` fully at unix time `now` (seconds).
    pub fn verify(
        &self,
        token: &str,
        opts: &VerifyOptions,
        now: i64,
    ) -> Result<AccessClaims, VerifyError> {
        self.verify_inner(token, opts, now, true)
    }

    /// Verifies everything but `exp`. Only for ending a session (logout), where an expired but
    /// genuine token is still proof of who is asking.
    pub fn verify_ignoring_expiry(
        &self,
        token: &str,
        opts: &VerifyOptions,
        now: i64,
    ) -> Result<AccessClaims, VerifyError> {
        self.verify_inner(token, opts, now, false)
    }

    fn verify_inner(
        &self,
        token: &str,
        opts: &VerifyOptions,
        now: i64,
        check_expiry: bool,
    ) -> Result<AccessClaims, VerifyError> {
        if token.len() > MAX_TOKEN_BYTES {
            return Err(VerifyError::Malformed);
        }
        let mut parts = token.split('.');
        let (Some(h), Some(p), Some(s), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(VerifyError::Malformed);
        };
        if h.is_empty() || p.is_empty() || s.is_empty() {
            return Err(VerifyError::Malformed);
        }
        let header_bytes = b64::decode(h).ok_or(VerifyError::Encoding)?;
        let payload = b64::decode(p).ok_or(VerifyError::Encoding)?;
        let signature = b64::decode(s).ok_or(VerifyError::Encoding)?;
        let header: Header =
            serde_json::from_slice(&header_bytes).map_err(|_| VerifyError::Header)?;
        if !header.typ.eq_ignore_ascii_case(TYP)
            && !header.typ.eq_ignore_ascii_case("application/at+jwt")
        {
            return Err(VerifyError::Type);
        }
        if header.alg != self.algorithm.as_str() {
            return Err(VerifyError::Algorithm);
        }
        let key = self.keys.get(&header.kid).ok_or(VerifyError::UnknownKey)?;
        let signing_input = &token[..h.len() + 1 + p.len()];
        if !key.verify(signing_input.as_bytes(), &signature) {
            return Err(VerifyError::Signature);
        }
        let claims: AccessClaims =
            serde_json::from_slice(&payload).map_err(|_| VerifyError::Claims)?;
        check_claims(&claims, opts, now, check_expiry)?;
        Ok(claims)
    }
}

fn check_claims(
    c: &AccessClaims,
    opts: &VerifyOptions,
    now: i64,
    check_expiry: bool,
) -> Result<(), VerifyError> {
    let leeway = opts.leeway_secs.clamp(0, MAX_LEEWAY_SECS);
    if c.iss != opts.issuer {
        return Err(VerifyError::Issuer);
    }
    match (&c.aud, opts.audience.is_empty()) {
        (None, true) => {}
        (Some(aud), false) if aud.contains_any(&opts.audience) => {}
        _ => return Err(VerifyError::Audience),
    }
    if c.exp <= c.iat {
        return Err(VerifyError::Claims);
    }
    if opts
        .max_lifetime_secs
        .is_some_and(|max| c.exp.saturating_sub(c.iat) > max)
    {
        return Err(VerifyError::Lifetime);
    }
    if c.iat > now.saturating_add(leeway) {
        return Err(VerifyError::IssuedInFuture);
    }
    if c.nbf.is_some_and(|nbf| nbf > now.saturating_add(leeway)) {
        return Err(VerifyError::NotYetValid);
    }
    if check_expiry && now >= c.exp.saturating_add(leeway) {
        return Err(VerifyError::Expired);
    }
    Ok(())
}
