//! Step-up (RFC 9470): `POST /auth/reauthenticate` proves the password again within a session,
//! and the session's `auth_time` moves to now.
use super::accounts::event;
use super::{Engine, Principal, RequestMeta};
use crate::error::Error;
use crate::model::{Session, event_kind};
use crate::secrets::Redacted;

/// A new access token of the same session, with a fresh `auth_time`.
#[derive(Debug)]
pub struct Reauthenticated {
    pub access_token: Redacted<String>,
    pub expires_in: i64,
    /// Unix seconds.
    pub access_expires_at: i64,
    /// Unix seconds.
    pub auth_time: i64,
}

impl Engine {
    /// Checks the password of the session's user (and, for a user with a second factor, a code:
    /// a password alone never yields a token for them), throttled and recorded like a login,
    /// then stamps the session's `auth_time` and issues a token that carries it (and `aal2`
    /// after a code).
    pub async fn reauthenticate(
        &self,
        principal: &Principal,
        password: String,
        code: Option<String>,
        meta: &RequestMeta,
    ) -> Result<Reauthenticated, Error> {
        self.limit_ip(meta).await?;
        let me = self
            .store
            .user_by_id(principal.user_id)
            .await?
            .ok_or(Error::SessionRevoked)?;
        let user = self.check_password(&me.email, password, meta).await?;
        if user.id != me.id {
            return Err(Error::InvalidCredentials);
        }
        let session = self
            .store
            .session(principal.session_id)
            .await?
            .filter(|s| s.user_id == user.id && s.revoked_at.is_none())
            .ok_or(Error::SessionRevoked)?;
        let now = self.clock.now_ms();
        if now >= session.expires_at {
            return Err(Error::SessionExpired);
        }
        let session = match self.second_step_of(&user, code, &session, meta).await? {
            Some(raised) => raised,
            None => session,
        };
        self.stamp_reauthentication(&user, session, meta).await
    }

    /// Step-up with one of the user's passkeys (user verification: aal2), from a ceremony of
    /// `POST /auth/passkeys/login/options`. Throttled and recorded like a login.
    pub async fn reauthenticate_with_passkey(
        &self,
        principal: &Principal,
        ceremony_id: uuid::Uuid,
        credential: serde_json::Value,
        meta: &RequestMeta,
    ) -> Result<Reauthenticated, Error> {
        self.limit_ip(meta).await?;
        let (user, session) = self
            .passkey_step_up(principal, ceremony_id, credential, meta)
            .await?;
        let now = self.clock.now_ms();
        if now >= session.expires_at {
            return Err(Error::SessionExpired);
        }
        self.stamp_reauthentication(&user, session, meta).await
    }

    /// Moves the session's `auth_time` to now and issues a token that carries it.
    async fn stamp_reauthentication(
        &self,
        user: &crate::model::User,
        session: Session,
        meta: &RequestMeta,
    ) -> Result<Reauthenticated, Error> {
        let now = self.clock.now_ms();
        let e = event(
            event_kind::SESSION_REAUTHENTICATED,
            now,
            meta,
            Some(user.id),
            Some(session.id),
        );
        if !self
            .store
            .reauthenticate_session(session.id, now, &e)
            .await?
        {
            return Err(Error::SessionRevoked);
        }
        let session = Session {
            auth_time: now,
            last_active_at: session.last_active_at.max(now),
            ..session
        };
        // Stamped `now`, which the store just wrote as `last_active_at`: a cutoff covers it.
        let (access, claims) = self.access_token(user, &session, now).await?;
        Ok(Reauthenticated {
            access_token: Redacted(access),
            expires_in: claims.exp - claims.iat,
            access_expires_at: claims.exp,
            auth_time: now.div_euclid(1000),
        })
    }
}
