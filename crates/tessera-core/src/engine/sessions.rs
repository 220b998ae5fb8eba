//! Sessions: open, refresh (rotation, grace, reuse detection), logout, list and revoke.
use subtle::ConstantTimeEq;
use uuid::Uuid;

use super::accounts::event;
use super::revoke::Scope;
use super::{Engine, Issued, Principal, RequestMeta};
use crate::error::Error;
use crate::model::{Rotation, Session, SessionSelector, User, event_kind};
use crate::refresh_token::RefreshToken;

/// A lost race re-reads the session and tries again this many times before answering 503.
const ROTATION_ATTEMPTS: usize = 4;

/// Where a new session lives and what it proved.
pub(super) struct Opening {
    pub namespace: String,
    /// The methods proved (RFC 8176); the session's `acr` follows from them.
    pub amr: Vec<String>,
    /// The app's claims for this session.
    pub claims: crate::model::Claims,
    /// The second factor proved, if any.
    pub factor_id: Option<uuid::Uuid>,
    /// The DPoP key the session is bound to, for life.
    pub dpop_jkt: Option<String>,
}

impl Engine {
    /// Opens a session for an authenticated user and issues its first tokens. `event` records
    /// the opening (its time is the session's start and its `auth_time`); with
    /// `[sessions] max_per_user`, the user's least recently active sessions beyond the limit are
    /// revoked in the same write, and that revocation is in force before the tokens are returned.
    pub(super) async fn open_session(
        &self,
        user: User,
        opening: Opening,
        event: crate::model::Event,
        notice: Option<crate::model::OutboxMail>,
        meta: &RequestMeta,
    ) -> Result<Issued, Error> {
        let Opening {
            namespace,
            amr,
            claims,
            factor_id,
            dpop_jkt,
        } = opening;
        let now = event.at;
        let id = crate::model::new_id();
        let refresh = RefreshToken::first(id);
        let absolute = self.absolute_expiry(now);
        let session = Session {
            id,
            user_id: user.id,
            namespace,
            created_at: now,
            last_active_at: now,
            expires_at: self.sliding_expiry(now, absolute),
            absolute_expires_at: absolute,
            ip: meta.ip.clone(),
            user_agent: meta.user_agent.clone(),
            refresh_count: 0,
            generation: refresh.generation,
            secret_hash: refresh.secret_hash(),
            prev_secret_hash: None,
            rotated_at: None,
            revoked_at: None,
            revoke_reason: None,
            claims,
            auth_time: now,
            acr: crate::mfa::acr_for(&amr).to_owned(),
            amr,
            factor_id,
            dpop_jkt,
        };
        let e = crate::model::Event {
            session_id: Some(id),
            ..event
        };
        let limit = (self.cfg.max_sessions_per_user > 0).then(|| crate::model::SessionLimit {
            max: self.cfg.max_sessions_per_user,
            event: super::accounts::event(
                event_kind::SESSION_LIMIT_EVICTED,
                now,
                meta,
                Some(user.id),
                None,
            ),
        });
        let evicted = self
            .store
            .create_session(&session, &e, limit.as_ref(), notice.as_ref())
            .await?;
        if notice.is_some() {
            self.mail_queued();
        }
        if evicted.sessions > 0 {
            self.revoked("limit", evicted);
        }
        self.issue(user, &session, &refresh, now).await
    }

    /// Exchanges a refresh token for a new one (API.md §4.3).
    ///
    /// - current generation: rotate with one conditional write; the loser of a race re-reads
    ///   and lands in the grace branch;
    /// - the generation just rotated out, within the grace: the same successor again, derived
    ///   from the presented secret, byte for byte;
    /// - any older generation, or after the grace: reuse, and the session is revoked;
    /// - anything whose MAC fails: `invalid_refresh_token`, and nothing changes.
    pub async fn refresh(&self, token: &str, meta: &RequestMeta) -> Result<Issued, Error> {
        self.refresh_with_proof(token, None, meta).await
    }

    /// A refresh with the thumbprint of a verified DPoP proof's key, if the request had one: a
    /// bound session refreshes only with its own key, and a refusal spends nothing.
    pub async fn refresh_with_proof(
        &self,
        token: &str,
        dpop_jkt: Option<&str>,
        meta: &RequestMeta,
    ) -> Result<Issued, Error> {
        let result = self.refresh_inner(token, dpop_jkt, meta).await;
        if let Err(e) = &result {
            self.stats.refresh_err(e);
        }
        result
    }

    async fn refresh_inner(
        &self,
        token: &str,
        dpop_jkt: Option<&str>,
        meta: &RequestMeta,
    ) -> Result<Issued, Error> {
        let presented =
            RefreshToken::decode(token, &self.secrets).ok_or(Error::InvalidRefreshToken)?;
        for _ in 0..ROTATION_ATTEMPTS {
            // The user comes with the session (one read where the store can): it is checked
            // only once the write has won, as before. A ban sets the flag, then revokes the
            // user's sessions and every token issued until then: one landing after this read
            // either makes the rotation lose (the next attempt sees the session revoked) or
            // revokes the token this refresh issues.
            let (session, user) = self
                .store
                .session_with_user(presented.session_id)
                .await?
                .ok_or(Error::InvalidRefreshToken)?;
            let now = self.clock.now_ms();
            if session.revoked_at.is_some() {
                return Err(Error::SessionRevoked);
            }
            if now >= session.expires_at {
                return Err(Error::SessionExpired);
            }
            if session.dpop_jkt.is_some() && session.dpop_jkt.as_deref() != dpop_jkt {
                return Err(Error::InvalidDpopProof);
            }
            let hash = presented.secret_hash();
            if presented.generation == session.generation {
                if !bool::from(hash.ct_eq(&session.secret_hash)) {
                    return Err(Error::InvalidRefreshToken);
                }
                if let Some(issued) = self.rotate(&session, user, &presented, now, meta).await? {
                    return Ok(issued);
                }
            } else if presented.generation == session.generation - 1 {
                let matches = session
                    .prev_secret_hash
                    .as_ref()
                    .is_some_and(|prev| bool::from(hash.ct_eq(prev)));
                if !matches {
                    return Err(Error::InvalidRefreshToken);
                }
                let rotated_at = session.rotated_at.unwrap_or(i64::MIN / 2);
                let in_grace =
                    self.cfg.reuse_grace_ms > 0 && now - rotated_at <= self.cfg.reuse_grace_ms;
                if !in_grace {
                    return Err(self.reuse_detected(&session, now, meta).await);
                }
                if let Some(issued) = self
                    .replay_in_grace(&session, user, &presented, now)
                    .await?
                {
                    return Ok(issued);
                }
            } else if presented.generation < session.generation {
                return Err(self.reuse_detected(&session, now, meta).await);
            } else {
                // A later generation than the store knows can only be forged.
                return Err(Error::InvalidRefreshToken);
            }
        }
        Err(Error::Unavailable)
    }

    /// `None` when another request rotated (or revoked) first.
    async fn rotate(
        &self,
        session: &Session,
        user: Option<User>,
        presented: &RefreshToken,
        now: i64,
        meta: &RequestMeta,
    ) -> Result<Option<Issued>, Error> {
        let child = presented.child(&self.secrets);
        let rotation = Rotation {
            generation: child.generation,
            secret_hash: child.secret_hash(),
            prev_secret_hash: session.secret_hash.clone(),
            rotated_at: now,
            expires_at: self.sliding_expiry(now, session.absolute_expires_at),
            refresh_count: session.refresh_count + 1,
        };
        let e = self.cfg.refresh_events.then(|| {
            event(
                event_kind::SESSION_REFRESHED,
                now,
                meta,
                Some(session.user_id),
                Some(session.id),
            )
        });
        if !self
            .store
            .rotate_session(session.id, session.generation, &rotation, e.as_ref())
            .await?
        {
            return Ok(None);
        }
        let user = live(user)?;
        let rotated = Session {
            generation: rotation.generation,
            secret_hash: rotation.secret_hash,
            prev_secret_hash: Some(rotation.prev_secret_hash),
            rotated_at: Some(now),
            last_active_at: session.last_active_at.max(now),
            expires_at: rotation.expires_at,
            refresh_count: rotation.refresh_count,
            ..session.clone()
        };
        let issued = self.issue(user, &rotated, &child, now).await?;
        self.stats.refresh_ok(false);
        Ok(Some(issued))
    }

    /// The successor of a just-rotated token, again. `None` if the session moved on meanwhile.
    async fn replay_in_grace(
        &self,
        session: &Session,
        user: Option<User>,
        presented: &RefreshToken,
        now: i64,
    ) -> Result<Option<Issued>, Error> {
        let child = presented.child(&self.secrets);
        if !bool::from(child.secret_hash().ct_eq(&session.secret_hash)) {
            return Err(Error::InvalidRefreshToken);
        }
        if !self
            .store
            .touch_session(session.id, session.generation, now)
            .await?
        {
            return Ok(None);
        }
        let user = live(user)?;
        let issued = self.issue(user, session, &child, now).await?;
        self.stats.refresh_ok(true);
        Ok(Some(issued))
    }

    /// Revokes the session of a replayed token and returns the error to answer with. Forgeries
    /// never reach here: only a token whose MAC verified can.
    async fn reuse_detected(&self, session: &Session, now: i64, meta: &RequestMeta) -> Error {
        tracing::warn!(session_id = %session.id, "refresh token reuse detected; revoking the session");
        let e = event(
            event_kind::SESSION_REUSE_DETECTED,
            now,
            meta,
            Some(session.user_id),
            None,
        );
        let scope = Scope::Sessions(SessionSelector::One(session.id));
        match self.revoke(scope, "reuse", e).await {
            Ok(_) => {
                self.stats.reuse();
                Error::RefreshTokenReused
            }
            Err(e) => e,
        }
    }

    /// Ends the session of an access token (expired or not). Idempotent.
    pub async fn logout(&self, principal: &Principal, meta: &RequestMeta) -> Result<(), Error> {
        self.end_sessions(
            SessionSelector::One(principal.session_id),
            principal.user_id,
            "logout",
            meta,
        )
        .await
        .map(|_| ())
    }

    /// Ends the session of a refresh token. The token must be genuine (MAC), but any of the
    /// session's generations will do: each proves the holder had the session. Idempotent.
    pub async fn logout_refresh(&self, token: &str, meta: &RequestMeta) -> Result<Uuid, Error> {
        let presented =
            RefreshToken::decode(token, &self.secrets).ok_or(Error::InvalidRefreshToken)?;
        let session = self.store.session(presented.session_id).await?;
        if let Some(s) = session {
            self.end_sessions(SessionSelector::One(s.id), s.user_id, "logout", meta)
                .await?;
        }
        Ok(presented.session_id)
    }

    /// RFC 7009 revocation: a genuine refresh token (any generation) or a genuine access token
    /// (expired or not) ends its session. Anything else, forged or garbage, changes nothing and
    /// is not an error either: the caller answers 200 whatever happened. `hint` only decides
    /// which kind is tried first.
    pub async fn revoke_token(
        &self,
        token: &str,
        hint: Option<&str>,
        meta: &RequestMeta,
    ) -> Result<(), Error> {
        let refresh_first = hint == Some("refresh_token") || token.starts_with("rt_");
        for as_refresh in [refresh_first, !refresh_first] {
            let done = if as_refresh {
                self.logout_refresh(token, meta).await.map(|_| ())
            } else {
                match self.verify_for_logout(token) {
                    Ok(p) => self.logout(&p, meta).await,
                    Err(e) => Err(e),
                }
            };
            match done {
                Ok(()) => return Ok(()),
                Err(Error::InvalidRefreshToken | Error::InvalidToken) => continue,
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// The session id a genuine refresh token names, for CSRF checks before acting on it.
    pub fn refresh_token_session(&self, token: &str) -> Result<Uuid, Error> {
        RefreshToken::decode(token, &self.secrets)
            .map(|t| t.session_id)
            .ok_or(Error::InvalidRefreshToken)
    }

    /// The user and session behind an access token.
    pub async fn me(&self, principal: &Principal) -> Result<(User, Session), Error> {
        let user = self
            .store
            .user_by_id(principal.user_id)
            .await?
            .ok_or(Error::SessionRevoked)?;
        let session = self
            .store
            .session(principal.session_id)
            .await?
            .ok_or(Error::SessionRevoked)?;
        if session.user_id != user.id || session.revoked_at.is_some() {
            return Err(Error::SessionRevoked);
        }
        Ok((self.with_mfa(user).await?, session))
    }

    /// The user's live sessions, most recently active first.
    pub async fn sessions(&self, principal: &Principal) -> Result<Vec<Session>, Error> {
        Ok(self
            .store
            .live_sessions(principal.user_id, self.clock.now_ms())
            .await?)
    }

    /// Revokes one of the caller's own live sessions; `NotFound` for anything else.
    pub async fn revoke_own_session(
        &self,
        principal: &Principal,
        id: Uuid,
        meta: &RequestMeta,
    ) -> Result<(), Error> {
        let now = self.clock.now_ms();
        match self.store.session(id).await? {
            Some(s) if s.user_id == principal.user_id && s.is_live(now) => {
                self.end_sessions(SessionSelector::One(id), principal.user_id, "user", meta)
                    .await?;
                Ok(())
            }
            _ => Err(Error::NotFound),
        }
    }

    /// Revokes all the caller's sessions, or all but the current one. Returns how many.
    pub async fn revoke_own_sessions(
        &self,
        principal: &Principal,
        keep_current: bool,
        meta: &RequestMeta,
    ) -> Result<usize, Error> {
        let selector = SessionSelector::User {
            user_id: principal.user_id,
            except: keep_current.then_some(principal.session_id),
        };
        let n = self
            .end_sessions(selector, principal.user_id, "user", meta)
            .await?;
        Ok(n as usize)
    }
}

/// A session's user, if it may still have tokens: gone is a revoked session, banned is banned.
fn live(user: Option<User>) -> Result<User, Error> {
    let user = user.ok_or(Error::SessionRevoked)?;
    if user.banned {
        return Err(Error::AccountBanned);
    }
    Ok(user)
}
