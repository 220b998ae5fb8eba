//! Minting the token response for a session.
use tessera_token::{AccessClaims, Audience};

use super::{Engine, EngineConfig, Issued};
use crate::csrf;
use crate::error::Error;
use crate::model::{Session, User};
use crate::refresh_token::RefreshToken;
use crate::secrets::Redacted;

/// Access-token claims: `exp` is `iat + access_ttl`, but never past the session's end.
pub(super) fn claims(
    cfg: &EngineConfig,
    user: &User,
    session: &Session,
    now_ms: i64,
) -> AccessClaims {
    let iat = now_ms.div_euclid(1000);
    let exp = (iat + cfg.access_ttl_ms / 1000).min(session.expires_at.div_euclid(1000));
    AccessClaims {
        iss: cfg.issuer.clone(),
        aud: Audience::from_config(&cfg.audience),
        sub: user.id.to_string(),
        sid: session.id.to_string(),
        jti: uuid::Uuid::new_v4().to_string(),
        iat,
        exp,
        nbf: None,
        ns: session.namespace.clone(),
        roles: user.roles.clone(),
        // Filled from role definitions once roles carry permissions.
        perms: vec![],
    }
}

impl Engine {
    pub(super) fn issue(
        &self,
        user: User,
        session: &Session,
        refresh: &RefreshToken,
    ) -> Result<Issued, Error> {
        let now = self.clock.now_ms();
        let claims = self.claims_for(&user, session, now);
        if claims.exp <= claims.iat {
            // Less than a second of session left: nothing worth issuing.
            return Err(Error::SessionExpired);
        }
        let access = tessera_token::sign(&claims, &self.keys.get().signing);
        Ok(Issued {
            access_token: Redacted(access),
            expires_in: claims.exp - claims.iat,
            access_expires_at: claims.exp,
            refresh_token: Redacted(refresh.encode(&self.secrets)),
            refresh_expires_at: session.expires_at,
            session_id: session.id,
            csrf_token: Redacted(csrf::token(&self.secrets, session.id)),
            user,
        })
    }

    /// Idle timeout from `now`, capped by the absolute lifetime (0 disables either).
    pub(super) fn sliding_expiry(&self, now: i64, absolute: i64) -> i64 {
        if self.cfg.refresh_ttl_ms == 0 {
            absolute
        } else {
            (now + self.cfg.refresh_ttl_ms).min(absolute)
        }
    }

    pub(super) fn absolute_expiry(&self, created: i64) -> i64 {
        if self.cfg.session_max_lifetime_ms == 0 {
            i64::MAX / 2
        } else {
            created + self.cfg.session_max_lifetime_ms
        }
    }
}
