//! One error type for every HTTP answer that is not a success: problem+json (RFC 9457) with the
//! stable `code` of API.md §2. Every engine error and every request rejection maps here, in one
//! place; no message ever contains a secret.
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use tessera_core::Error;

/// See the module docs.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub title: &'static str,
    pub detail: Option<String>,
    pub retry_after: Option<u64>,
    /// A `WWW-Authenticate` value of its own (else the bearer challenge of every 401).
    pub challenge: Option<String>,
    /// More members of the problem body (RFC 9457 extensions), e.g. `mfa_token`.
    pub extra: Option<Box<serde_json::Map<String, serde_json::Value>>>,
}

/// The `code` of an error response, kept as a response extension so middleware (the
/// `WWW-Authenticate` challenge) can read it without parsing the body.
#[derive(Clone, Copy, Debug)]
pub struct ErrorCode(pub &'static str);

/// The problem+json body (RFC 9457) every error carries.
#[derive(Serialize, schemars::JsonSchema)]
pub struct Problem<'a> {
    #[serde(rename = "type")]
    kind: String,
    status: u16,
    code: &'a str,
    title: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    detail: Option<&'a str>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, title: &'static str) -> Self {
        ApiError {
            status,
            code,
            title,
            detail: None,
            retry_after: None,
            challenge: None,
            extra: None,
        }
    }

    pub fn detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }

    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "Invalid request",
        )
        .detail(detail)
    }
    pub fn missing_token() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "missing_token",
            "An access token is required",
        )
    }
    /// No admin key where one is needed.
    pub fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "A valid admin API key is required",
        )
    }
    /// Neither an admin key nor a resource-server key where either will do.
    pub fn unauthorized_reader() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "A valid admin or resource-server API key is required",
        )
    }
    /// The request (its body included) did not arrive and get answered within
    /// `http.request_timeout`.
    pub fn request_timeout() -> Self {
        Self::new(
            StatusCode::REQUEST_TIMEOUT,
            "request_timeout",
            "The request took too long",
        )
    }
    pub fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", "Not found")
    }
    pub fn method_not_allowed() -> Self {
        Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            "Method not allowed",
        )
    }
    pub fn payload_too_large() -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            "Request body is too large",
        )
    }
    pub fn unsupported_media_type() -> Self {
        Self::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "Request body must be JSON",
        )
        .detail("send Content-Type: application/json")
    }
    /// For routes that take a form (as OAuth clients send it) as well as JSON.
    pub fn unsupported_media_type_form_or_json() -> Self {
        Self::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "Request body must be a form or JSON",
        )
        .detail("send Content-Type: application/x-www-form-urlencoded or application/json")
    }
    pub fn unavailable() -> Self {
        ApiError {
            retry_after: Some(1),
            ..Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "Service temporarily unavailable",
            )
        }
    }
    pub fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            "Internal server error",
        )
    }
}

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        use StatusCode as S;
        match e {
            Error::InvalidCredentials => Self::new(
                S::UNAUTHORIZED,
                "invalid_credentials",
                "Invalid email or password",
            ),
            Error::PasswordExpired => {
                Self::new(S::UNAUTHORIZED, "password_expired", "Password has expired")
                    .detail("change it with POST /auth/password")
            }
            Error::InvalidRefreshToken => Self::new(
                S::UNAUTHORIZED,
                "invalid_refresh_token",
                "Invalid refresh token",
            ),
            Error::RefreshTokenReused => Self::new(
                S::UNAUTHORIZED,
                "refresh_token_reused",
                "Refresh token reused",
            )
            .detail("the session has been revoked; sign in again"),
            Error::SessionRevoked => {
                Self::new(S::UNAUTHORIZED, "session_revoked", "Session revoked")
            }
            Error::SessionExpired => {
                Self::new(S::UNAUTHORIZED, "session_expired", "Session expired")
            }
            Error::InvalidToken => {
                Self::new(S::UNAUTHORIZED, "invalid_token", "Invalid access token")
            }
            Error::TokenExpired => {
                Self::new(S::UNAUTHORIZED, "token_expired", "Access token expired")
                    .detail("refresh the session for a new access token")
            }
            Error::CsrfFailed => Self::new(S::FORBIDDEN, "csrf_failed", "CSRF check failed")
                .detail("send the session's csrf token in X-CSRF-Token"),
            Error::AccountBanned => Self::new(S::FORBIDDEN, "account_banned", "Account banned"),
            Error::RegistrationClosed => Self::new(
                S::FORBIDDEN,
                "registration_closed",
                "Registration is closed",
            ),
            Error::NotFound => Self::not_found(),
            Error::EmailTaken => Self::new(S::CONFLICT, "email_taken", "Email already registered"),
            Error::InvalidEmail(why) => {
                Self::new(S::UNPROCESSABLE_ENTITY, "invalid_email", "Invalid email").detail(why)
            }
            Error::WeakPassword(why) => Self::new(
                S::UNPROCESSABLE_ENTITY,
                "weak_password",
                "Password is too weak",
            )
            .detail(why),
            Error::InvalidNamespace => Self::new(
                S::UNPROCESSABLE_ENTITY,
                "invalid_namespace",
                "Invalid namespace",
            )
            .detail("1 to 64 characters of A-Z a-z 0-9 _ . -"),
            Error::UnknownRole(_) => {
                Self::new(S::UNPROCESSABLE_ENTITY, "unknown_role", "Unknown role")
                    .detail("define the role with PUT /admin/roles/{name} first")
            }
            Error::InvalidRequest(why) => Self::bad_request(why),
            Error::InvalidEmailToken => Self::new(
                S::BAD_REQUEST,
                "invalid_email_token",
                "Invalid or expired link",
            )
            .detail("the link is unknown, used or expired: ask for a new one"),
            Error::EmailNotVerified => {
                Self::new(S::FORBIDDEN, "email_not_verified", "Email not verified")
                    .detail("confirm your email with the link we sent, or ask for a new one")
            }
            Error::EmailNotConfigured => Self::new(
                S::NOT_IMPLEMENTED,
                "email_not_configured",
                "Email is not configured",
            )
            .detail("this server sends no mail (email.smtp_url is empty)"),
            Error::RateLimited { retry_after_secs } => ApiError {
                retry_after: Some(retry_after_secs),
                ..Self::new(S::TOO_MANY_REQUESTS, "rate_limited", "Too many attempts")
                    .detail("wait for the time in Retry-After, then try again")
            },
            Error::InsufficientUserAuthentication { max_age_secs, acr } => {
                // RFC 9470: the challenge says what would do.
                let mut challenge = String::from(
                    "Bearer realm=\"tessera\", error=\"insufficient_user_authentication\"",
                );
                if let Some(secs) = max_age_secs {
                    challenge.push_str(&format!(", max_age={secs}"));
                }
                if let Some(acr) = acr {
                    challenge.push_str(&format!(", acr_values=\"{acr}\""));
                }
                ApiError {
                    challenge: Some(challenge),
                    ..Self::new(
                        S::UNAUTHORIZED,
                        "insufficient_user_authentication",
                        "A more recent or stronger authentication is required",
                    )
                }
            }
            Error::MfaRequired(challenge) => {
                let factors: Vec<serde_json::Value> = challenge
                    .factors
                    .iter()
                    .map(|f| serde_json::json!({"id": f.id, "type": f.kind, "name": f.name}))
                    .collect();
                let mut extra = serde_json::Map::new();
                extra.insert(
                    "mfa_token".into(),
                    challenge.mfa_token.expose().clone().into(),
                );
                extra.insert("factors".into(), factors.into());
                ApiError {
                    extra: Some(Box::new(extra)),
                    ..Self::new(
                        S::UNAUTHORIZED,
                        "mfa_required",
                        "A second factor is required",
                    )
                    .detail("send a code with the mfa_token to POST /auth/mfa/verify")
                }
            }
            Error::InvalidMfaToken => Self::new(
                S::UNAUTHORIZED,
                "invalid_mfa_token",
                "Invalid or expired sign-in attempt",
            )
            .detail("sign in again with your password"),
            Error::InvalidMfaCode => Self::new(S::UNAUTHORIZED, "invalid_mfa_code", "Invalid code"),
            // The token-issuing routes' answer (RFC 9449 §5); resource routes build their own.
            Error::InvalidDpopProof => {
                Self::new(S::BAD_REQUEST, "invalid_dpop_proof", "Invalid DPoP proof")
                    .detail("this session is bound to a DPoP key: send a proof by that key")
            }
            Error::DpopRequired => {
                Self::new(S::BAD_REQUEST, "dpop_required", "DPoP proof required")
                    .detail("this server binds every session to a key: send a DPoP proof")
            }
            Error::PasskeysNotConfigured => Self::new(
                S::NOT_IMPLEMENTED,
                "passkeys_not_configured",
                "Passkeys are not configured",
            )
            .detail("set webauthn.rp_id to this server's host name (an IP address cannot be one)"),
            Error::Unavailable => Self::unavailable(),
            Error::Internal => Self::internal(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = Problem {
            kind: format!("urn:tessera:problem:{}", self.code),
            status: self.status.as_u16(),
            code: self.code,
            title: self.title,
            detail: self.detail.as_deref(),
        };
        let text = match &self.extra {
            None => serde_json::to_string(&body).unwrap_or_default(),
            Some(extra) => {
                let mut v = serde_json::to_value(&body).unwrap_or_default();
                if let Some(obj) = v.as_object_mut() {
                    obj.extend(extra.iter().map(|(k, v)| (k.clone(), v.clone())));
                }
                v.to_string()
            }
        };
        let mut res = (self.status, text).into_response();
        let h = res.headers_mut();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if let Some(secs) = self.retry_after {
            h.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if let Some(v) = self
            .challenge
            .as_deref()
            .and_then(|c| HeaderValue::from_str(c).ok())
        {
            h.insert(header::WWW_AUTHENTICATE, v);
        }
        res.extensions_mut().insert(ErrorCode(self.code));
        res
    }
}

/// Handlers return this.
pub type ApiResult<T> = Result<T, ApiError>;
