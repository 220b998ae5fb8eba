//! Tessera access tokens: strict JWS compact tokens (RFC 7515 / RFC 9068), signing keys and JWKS.
//!
//! This crate does no I/O and never reads the clock: callers pass `now` in, so verification is
//! deterministic and testable. Verification is deliberately stricter than general JWT libraries:
//! the header is parsed here and anything unexpected (`crit`, `jwk`, `jku`, `x5u`, `x5c`, unknown
//! parameters, a foreign `alg`, an unknown `kid`, non-canonical base64url) is refused before any
//! signature check.

mod alg;
mod b64;
mod bearer;
mod claims;
pub mod dpop;
mod error;
mod jwk;
mod jwks;
mod jws;
mod keys;
mod verified;

pub use alg::Algorithm;
pub use bearer::{Credential, bearer_credential};
pub use claims::{AccessClaims, Audience, Confirmation};
pub use error::{KeyError, VerifyError};
pub use jwk::Jwk;
pub use jwks::Jwks;
pub use jws::{KeySet, MAX_LEEWAY_SECS, VerifyOptions, sign};
pub use keys::{SigningKey, VerifyingKey};
pub use verified::VerifiedCache;

#[cfg(test)]
mod dpop_tests;
#[cfg(test)]
mod tests;
