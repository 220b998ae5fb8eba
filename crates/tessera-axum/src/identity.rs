//! Who a verified token speaks for: [`Identity`], and [`Auth`], the handle handlers take.
use std::ops::Deref;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use tessera_token::AccessClaims;

use crate::error::AuthError;

/// The identity behind a verified, unrevoked access token (API.md §3).
#[derive(Clone, Debug, Serialize)]
#[non_exhaustive]
pub struct Identity {
    /// The user id (`sub`).
    pub sub: String,
    /// The session id (`sid`): one login on one device.
    pub sid: String,
    /// The session's namespace (`ns`).
    pub ns: String,
    /// The user's role names.
    pub roles: Vec<String>,
    /// The union of those roles' permissions.
    pub perms: Vec<String>,
    /// When the user last proved a credential in this session, unix seconds: the login, the
    /// last `POST /auth/reauthenticate`, or the start of an app-issued session (a refresh does
    /// not move it). Tokens of a Tessera older than API.md v1.1 have no `auth_time`; they give
    /// `iat` here, which a refresh moves.
    pub auth_time: i64,
    /// The app's own claims (`ext`, API.md §8); empty when none.
    pub ext: serde_json::Map<String, serde_json::Value>,
    /// Expiry, unix seconds.
    pub exp: i64,
    /// Issued at, unix seconds.
    pub iat: i64,
    /// The token's unique id.
    pub jti: String,
    /// When the token was issued, unix milliseconds: what revocation cutoffs compare with.
    pub issued_at_ms: i64,
    /// The session's assurance level (`aal1`, `aal2`); `None` for tokens of a Tessera from
    /// before second factors.
    pub acr: Option<String>,
    /// The methods the session proved (RFC 8176: `pwd`, `otp`, `hwk`, `swk`, `user`, `mfa`).
    pub amr: Vec<String>,
    /// The thumbprint of the DPoP key the token is bound to (`cnf.jkt`), if any.
    pub jkt: Option<String>,
}

impl From<AccessClaims> for Identity {
    fn from(c: AccessClaims) -> Self {
        Identity {
            issued_at_ms: c.issued_at_ms(),
            auth_time: c.auth_time.unwrap_or(c.iat),
            ext: c.ext.unwrap_or_default(),
            sub: c.sub,
            sid: c.sid,
            ns: c.ns,
            roles: c.roles,
            perms: c.perms,
            exp: c.exp,
            iat: c.iat,
            jti: c.jti,
            acr: c.acr,
            amr: c.amr.unwrap_or_default(),
            jkt: c.cnf.map(|c| c.jkt),
        }
    }
}

/// The extractor for a route that needs a valid token: a handler that takes `Auth` answers
/// 401 (missing, invalid, expired or revoked token) or 503 (see
/// [`Builder::stale_after`](crate::Builder::stale_after)) before it runs. `Option<Auth>` is
/// the extractor for optional authentication: `None` without an `Authorization: Bearer`
/// header, but a token that is present and bad is still refused (a client should learn that
/// its token is dead rather than be silently served as anonymous).
///
/// Cheap to clone; derefs to [`Identity`].
///
/// ```no_run
/// use axum::{Json, Router, routing::get};
/// use tessera_axum::{Auth, Tessera};
///
/// async fn me(auth: Auth) -> Json<serde_json::Value> {
///     Json(serde_json::json!({"user": auth.sub, "roles": auth.roles}))
/// }
///
/// async fn greeting(auth: Option<Auth>) -> String {
///     match auth {
///         Some(a) => format!("hello {}", a.sub),
///         None => "hello stranger".into(),
///     }
/// }
///
/// # async fn run(tessera: Tessera) {
/// let app: Router = Router::new()
///     .route("/me", get(me))
///     .route("/", get(greeting))
///     .layer(tessera.layer());
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct Auth(pub(crate) Arc<Identity>);

impl Deref for Auth {
    type Target = Identity;
    fn deref(&self) -> &Identity {
        &self.0
    }
}

impl Auth {
    /// Whether the user has the role `role`.
    pub fn has_role(&self, role: &str) -> bool {
        self.roles.iter().any(|r| r == role)
    }

    /// Whether the user has the permission `perm`.
    pub fn has_permission(&self, perm: &str) -> bool {
        self.perms.iter().any(|p| p == perm)
    }

    /// `Ok` if the user has `role`, else 403 `insufficient_scope`.
    ///
    /// ```no_run
    /// # use tessera_axum::{Auth, AuthError};
    /// async fn handler(auth: Auth) -> Result<&'static str, AuthError> {
    ///     auth.require_role("editor")?;
    ///     Ok("edited")
    /// }
    /// ```
    pub fn require_role(&self, role: &str) -> Result<(), AuthError> {
        if self.has_role(role) {
            Ok(())
        } else {
            Err(AuthError::InsufficientScope {
                needed: format!("role {role}"),
            })
        }
    }

    /// `Ok` if the user has `perm`, else 403 `insufficient_scope`.
    pub fn require_permission(&self, perm: &str) -> Result<(), AuthError> {
        if self.has_permission(perm) {
            Ok(())
        } else {
            Err(AuthError::InsufficientScope {
                needed: format!("permission {perm}"),
            })
        }
    }

    /// `Ok` if the session's assurance (`acr`) is at least `level` (`aal1` < `aal2`), else 401
    /// `insufficient_user_authentication` with `acr_values` in `WWW-Authenticate` (RFC 9470).
    /// A token without `acr` (from a Tessera before second factors) counts as `aal1`.
    pub fn require_acr(&self, level: &str) -> Result<(), AuthError> {
        let rank = |a: &str| match a {
            "aal2" => 2,
            "aal1" => 1,
            _ => 0,
        };
        let have = rank(self.acr.as_deref().unwrap_or("aal1"));
        // An unknown level asked for is never met (fail closed).
        if rank(level) > 0 && have >= rank(level) {
            Ok(())
        } else {
            Err(AuthError::InsufficientAssurance { acr: level.into() })
        }
    }

    /// `Ok` if the user proved a credential within `max_age` (by `auth_time`), else 401
    /// `insufficient_user_authentication` with `max_age` in `WWW-Authenticate` (RFC 9470).
    pub fn require_recent_authentication(&self, max_age: Duration) -> Result<(), AuthError> {
        let now = crate::clock::unix_secs();
        let max = max_age.as_secs();
        if now.saturating_sub(self.auth_time) <= max as i64 {
            Ok(())
        } else {
            Err(AuthError::InsufficientUserAuthentication { max_age: max })
        }
    }
}
