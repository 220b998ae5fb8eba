use thiserror::Error;

use crate::store::StoreError;

/// Everything the engine can refuse. Each variant maps to one `code` of API.md §2; messages never
/// contain a secret.
#[derive(Debug, Error)]
pub enum Error {
    #[error("invalid email or password")]
    InvalidCredentials,
    #[error("password has expired")]
    PasswordExpired,
    #[error("invalid refresh token")]
    InvalidRefreshToken,
    #[error("refresh token reused; the session is revoked")]
    RefreshTokenReused,
    #[error("session revoked")]
    SessionRevoked,
    #[error("session expired")]
    SessionExpired,
    #[error("invalid token")]
    InvalidToken,
    #[error("token expired")]
    TokenExpired,
    #[error("CSRF token missing or invalid")]
    CsrfFailed,
    #[error("registration is closed")]
    RegistrationClosed,
    #[error("account banned")]
    AccountBanned,
    #[error("not found")]
    NotFound,
    #[error("email already registered")]
    EmailTaken,
    #[error("invalid email: {0}")]
    InvalidEmail(&'static str),
    #[error("weak password: {0}")]
    WeakPassword(String),
    #[error("invalid namespace")]
    InvalidNamespace,
    #[error("unknown role: {0}")]
    UnknownRole(String),
    /// A request the engine cannot act on as given (a malformed role name, say).
    #[error("invalid request: {0}")]
    InvalidRequest(&'static str),
    /// A reset or verification token that is unknown, used or expired.
    #[error("invalid email token")]
    InvalidEmailToken,
    #[error("email not verified")]
    EmailNotVerified,
    /// A route that sends mail, with no SMTP server configured.
    #[error("email not configured")]
    EmailNotConfigured,
    /// Step-up needed (RFC 9470): an `auth_time` within `max_age_secs`, or the `acr` named.
    #[error("insufficient user authentication")]
    InsufficientUserAuthentication {
        max_age_secs: Option<i64>,
        acr: Option<&'static str>,
    },
    /// The right password, and a second factor is needed: the challenge carries the mfa token.
    #[error("a second factor is required")]
    MfaRequired(Box<crate::mfa::MfaChallenge>),
    /// An mfa token that is unknown, used, expired, or spent by too many wrong codes.
    #[error("invalid mfa token")]
    InvalidMfaToken,
    /// A wrong, reused or expired TOTP code or recovery code.
    #[error("invalid mfa code")]
    InvalidMfaCode,
    /// A bound session's refresh without a proof by its key (API.md §10).
    #[error("invalid DPoP proof")]
    InvalidDpopProof,
    /// `dpop.required`, and a new session without a proof.
    #[error("a DPoP proof is required")]
    DpopRequired,
    /// A passkey route when no WebAuthn relying party can be had (the issuer's host is an IP
    /// address and `webauthn.rp_id` is empty).
    #[error("passkeys are not configured")]
    PasskeysNotConfigured,
    #[error("too many attempts")]
    RateLimited { retry_after_secs: u64 },
    /// The store cannot be reached or is busy; retryable.
    #[error("store unavailable")]
    Unavailable,
    #[error("internal error")]
    Internal,
}

impl From<StoreError> for Error {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict => Error::EmailTaken,
            StoreError::ClaimsTooLarge => {
                Error::InvalidRequest("claims are limited to 4096 bytes of JSON")
            }
            StoreError::Unavailable(reason) => {
                tracing::warn!(%reason, "store unavailable");
                Error::Unavailable
            }
            StoreError::Corrupt(reason) => {
                tracing::error!(%reason, "store data error");
                Error::Internal
            }
        }
    }
}
