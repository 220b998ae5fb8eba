use thiserror::Error;

/// Why an access token was refused. Only [`VerifyError::Expired`] is something a client can fix
/// by refreshing; every other variant means the token is not one of ours as presented.
#[derive(Debug, Error, Clone, Copy, PartialEq, Eq)]
pub enum VerifyError {
    #[error("token is not a three-part JWS compact serialization")]
    Malformed,
    #[error("token part is not canonical base64url")]
    Encoding,
    #[error("token header is invalid or carries a forbidden parameter")]
    Header,
    #[error("token type is not at+jwt")]
    Type,
    #[error("token algorithm is not the configured one")]
    Algorithm,
    #[error("token key id is unknown")]
    UnknownKey,
    #[error("token signature does not verify")]
    Signature,
    #[error("token claims are malformed")]
    Claims,
    #[error("token issuer does not match")]
    Issuer,
    #[error("token audience does not match")]
    Audience,
    #[error("token is not valid yet")]
    NotYetValid,
    #[error("token is issued in the future")]
    IssuedInFuture,
    #[error("token has expired")]
    Expired,
    #[error("token lifetime is longer than the configured access-token lifetime")]
    Lifetime,
}

/// A signing key could not be made, exported or imported.
#[derive(Debug, Error)]
pub enum KeyError {
    #[error("key material is invalid for {0}")]
    Invalid(&'static str),
    #[error("HS256 needs a secret of at least 32 bytes")]
    ShortSecret,
    #[error("HS256 keys come from the configuration and cannot be generated")]
    NotGenerable,
}
