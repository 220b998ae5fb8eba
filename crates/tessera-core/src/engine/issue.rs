//! Minting the token response for a session.
use tessera_token::{AccessClaims, Audience};

use super::{Engine, EngineConfig, Issued};
use crate::csrf;
use crate::error::Error;
use crate::model::{Session, User};
use crate::refresh_token::RefreshToken;
use crate::secrets::Redacted;

/// Access-token claims: `exp` is `iat + access_ttl`, but never past the session's end. `now_ms`
/// is the issue stamp: the time the session's store write recorded (see `store.rs`).
pub(super) fn claims(
    cfg: &EngineConfig,
    user: &User,
    session: &Session,
    now_ms: i64,
    perms: Vec<String>,
) -> AccessClaims {
    let iat = now_ms.div_euclid(1000);
    // A UUIDv7 carrying the issue time to the millisecond, so revocation cutoffs are exact.
    let ts = uuid::Timestamp::from_unix(
        uuid::NoContext,
        iat as u64,
        (now_ms.rem_euclid(1000) * 1_000_000) as u32,
    );
    let exp = (iat + cfg.access_ttl_ms / 1000).min(session.expires_at.div_euclid(1000));
    AccessClaims {
        iss: cfg.issuer.clone(),
        aud: Audience::from_config(&cfg.audience),
        sub: user.id.to_string(),
        sid: session.id.to_string(),
        jti: uuid::Uuid::new_v7(ts).to_string(),
        iat,
        exp,
        nbf: None,
        ns: session.namespace.clone(),
        roles: user.roles.clone(),
        perms,
        auth_time: Some(session.auth_time.div_euclid(1000)),
        ext: crate::claims::ext(&user.claims, &session.claims),
        // What the session proved, as stored: never copied from a presented token.
        acr: Some(session.acr.clone()),
        amr: Some(session.amr.clone()),
        cnf: session
            .dpop_jkt
            .clone()
            .map(|jkt| tessera_token::Confirmation { jkt }),
    }
}

impl Engine {
    /// The token response for a session whose store write recorded `stamp` (its `created_at`,
    /// `rotated_at` or touch time): the access token is stamped with exactly that, never a later
    /// clock reading, so a cutoff that covers the write covers the token (docs/architecture.md).
    pub(super) async fn issue(
        &self,
        user: User,
        session: &Session,
        refresh: &RefreshToken,
        stamp: i64,
    ) -> Result<Issued, Error> {
        let (access, claims) = self.access_token(&user, session, stamp).await?;
        Ok(Issued {
            access_token: Redacted(access),
            expires_in: claims.exp - claims.iat,
            access_expires_at: claims.exp,
            refresh_token: Redacted(refresh.encode(&self.secrets)),
            refresh_expires_at: session.expires_at,
            session_id: session.id,
            csrf_token: Redacted(csrf::token(&self.secrets, session.id)),
            user,
            dpop_bound: session.dpop_jkt.is_some(),
        })
    }

    /// A signed access token of the session, stamped `stamp` (see [`Engine::issue`]).
    pub(super) async fn access_token(
        &self,
        user: &User,
        session: &Session,
        stamp: i64,
    ) -> Result<(String, AccessClaims), Error> {
        let perms = self.permissions_of(user).await?;
        let claims = claims(&self.cfg, user, session, stamp, perms);
        if claims.exp <= claims.iat {
            // Less than a second of session left: nothing worth issuing.
            return Err(Error::SessionExpired);
        }
        Ok((
            tessera_token::sign(&claims, &self.keys.get().signing),
            claims,
        ))
    }

    /// The union of the permissions of the user's roles, sorted.
    async fn permissions_of(&self, user: &User) -> Result<Vec<String>, Error> {
        if user.roles.is_empty() {
            return Ok(vec![]);
        }
        let mut perms: Vec<String> = self
            .store
            .roles()
            .await?
            .into_iter()
            .filter(|r| user.roles.contains(&r.name))
            .flat_map(|r| r.permissions)
            .collect();
        perms.sort();
        perms.dedup();
        Ok(perms)
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
