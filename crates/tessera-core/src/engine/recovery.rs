//! Account recovery and email verification (API.md §7): tokens of 256 bits whose hash alone is
//! stored, sent in a link's fragment, used only by a POST; a reset ends every session.
use uuid::Uuid;

use super::accounts::event;
use super::outbox::{new_email_token, token_hash};
use super::revoke::Scope;
use super::validate::normalize_email;
use super::{Engine, Principal, RequestMeta};
use crate::error::Error;
use crate::mail::kind;
use crate::model::{BulkSelector, EmailToken, Event, TokenMail, User, email_kind, event_kind};

/// How far back a device counts as known (API.md §7).
const KNOWN_DEVICE_MS: i64 = 90 * 86_400_000;

/// One mail of a kind per account per minute.
const MAIL_INTERVAL_MS: i64 = 60_000;

/// A token made for an app that sends its own mail.
#[derive(Debug)]
pub struct IssuedEmailToken {
    pub token: crate::secrets::Redacted<String>,
    /// Unix milliseconds.
    pub expires_at: i64,
}

impl Engine {
    fn require_mail(&self) -> Result<(), Error> {
        if self.cfg.mail.enabled {
            Ok(())
        } else {
            Err(Error::EmailNotConfigured)
        }
    }

    /// What `POST /auth/password/forgot` checks before answering 202: mail is configured and
    /// this address is within its limit. The rest ([`Engine::send_reset`]) happens after the
    /// answer, so known and unknown emails cost the caller the same.
    pub async fn forgot_password_check(&self, meta: &RequestMeta) -> Result<(), Error> {
        self.require_mail()?;
        self.limit_ip(meta).await
    }

    /// Queues a reset mail, unless the email has no account, the account is banned, or it had
    /// one in the last minute. Nothing here is told to the caller.
    pub async fn send_reset(&self, email: &str, meta: &RequestMeta) -> Result<(), Error> {
        let Ok(email) = normalize_email(email) else {
            return Ok(());
        };
        let Some(user) = self.store.user_by_email(&email).await? else {
            return Ok(());
        };
        if user.banned {
            return Ok(());
        }
        let e = event(
            event_kind::PASSWORD_RESET_REQUESTED,
            self.clock.now_ms(),
            meta,
            Some(user.id),
            None,
        );
        self.mail_token(&user, email_kind::RESET, e).await?;
        Ok(())
    }

    /// Makes a token of `token_kind` for `user` and queues its mail, throttled; `false` when
    /// throttled.
    async fn mail_token(&self, user: &User, token_kind: &str, e: Event) -> Result<bool, Error> {
        let v = self.token_mail(user, token_kind, e);
        let since = self.clock.now_ms() - MAIL_INTERVAL_MS + 1;
        let queued = self
            .store
            .issue_email_token(&v.token, Some(&v.mail), &v.event, Some(since))
            .await?;
        if queued {
            self.mail_queued();
        }
        Ok(queued)
    }

    /// A new token of `token_kind` for `user`, the mail with its link, and `e`, ready to store.
    fn token_mail(&self, user: &User, token_kind: &str, e: Event) -> TokenMail {
        let (token, stored) = self.new_token(user.id, token_kind);
        // The mail kinds of tokens are the token kinds (`mail::kind::{RESET, VERIFY}`).
        let mail_kind = token_kind;
        let ttl = stored.expires_at - stored.created_at;
        let field = format!("{token_kind}_token");
        let link = format!("{}#{field}={token}", self.cfg.mail.link_base);
        let message = self
            .cfg
            .mail
            .templates
            .render(mail_kind, &user.email, &link, ttl);
        TokenMail {
            mail: self.seal_mail(mail_kind, Some(user.id), &message),
            token: stored,
            event: e,
        }
    }

    fn new_token(&self, user_id: Uuid, token_kind: &str) -> (String, EmailToken) {
        let token = new_email_token();
        let now = self.clock.now_ms();
        let ttl = if token_kind == email_kind::RESET {
            self.cfg.mail.reset_ttl_ms
        } else {
            self.cfg.mail.verify_ttl_ms
        };
        let stored = EmailToken {
            hash: token_hash(&token),
            user_id,
            kind: token_kind.to_owned(),
            created_at: now,
            expires_at: now + ttl,
        };
        (token, stored)
    }

    /// `POST /auth/password/reset`: a new password for the token's user. Every reset token of
    /// the user dies, the email counts as verified, every session ends at once, and a notice is
    /// mailed.
    pub async fn reset_password(
        &self,
        token: &str,
        new_password: String,
        meta: &RequestMeta,
    ) -> Result<(), Error> {
        self.limit_ip(meta).await?;
        let hash = token_hash(token);
        let user_id = self
            .store
            .email_token_user(&hash, email_kind::RESET, self.clock.now_ms())
            .await?
            .ok_or(Error::InvalidEmailToken)?;
        let user = self
            .user(user_id)
            .await
            .map_err(|_| Error::InvalidEmailToken)?;
        self.cfg.passwords.check_new(&new_password, &user.email)?;
        let password_hash = self.hasher.hash(new_password).await?;
        let notice = self
            .cfg
            .mail
            .templates
            .render(kind::PASSWORD_CHANGED, &user.email, "", 0);
        let mail = self.seal_mail(kind::PASSWORD_CHANGED, Some(user.id), &notice);
        let now = self.clock.now_ms();
        let e = event(event_kind::PASSWORD_RESET, now, meta, Some(user.id), None);
        self.store
            .reset_password(&hash, now, &password_hash, &mail, &e)
            .await?
            .ok_or(Error::InvalidEmailToken)?;
        self.mail_queued();
        let all = BulkSelector::User {
            user_id: user.id,
            namespace: None,
        };
        let revoked = event(event_kind::SESSIONS_REVOKED, now, meta, Some(user.id), None);
        self.revoke(Scope::Bulk(all), "password_reset", revoked)
            .await?;
        Ok(())
    }

    /// `POST /auth/email/verify/send`: another verification mail (at most one a minute); none
    /// if the email is verified already.
    pub async fn send_verification(&self, p: &Principal, meta: &RequestMeta) -> Result<(), Error> {
        self.require_mail()?;
        let user = self
            .user(p.user_id)
            .await
            .map_err(|_| Error::SessionRevoked)?;
        if user.email_verified {
            return Ok(());
        }
        let e = event(
            event_kind::EMAIL_VERIFICATION_SENT,
            self.clock.now_ms(),
            meta,
            Some(user.id),
            None,
        );
        if !self.mail_token(&user, email_kind::VERIFY, e).await? {
            return Err(Error::RateLimited {
                retry_after_secs: 60,
            });
        }
        Ok(())
    }

    /// A registration's first verification mail, when mail is configured: stored with the
    /// user, in one transaction.
    pub(super) fn first_verification(&self, user: &User, meta: &RequestMeta) -> Option<TokenMail> {
        self.cfg.mail.enabled.then(|| {
            let e = event(
                event_kind::EMAIL_VERIFICATION_SENT,
                self.clock.now_ms(),
                meta,
                Some(user.id),
                None,
            );
            self.token_mail(user, email_kind::VERIFY, e)
        })
    }

    /// The new-device notice of a login, if `notify_new_device` is on and no session of the
    /// user had this user agent in the last 90 days. It names the device and the IP, no token.
    pub(super) async fn new_device_notice(
        &self,
        user: &User,
        meta: &RequestMeta,
        now: i64,
    ) -> Result<Option<crate::model::OutboxMail>, Error> {
        let mail = &self.cfg.mail;
        if !(mail.enabled && mail.notify_new_device) {
            return Ok(None);
        }
        let ua = meta.user_agent.as_deref();
        if self
            .store
            .seen_device(user.id, ua, now - KNOWN_DEVICE_MS)
            .await?
        {
            return Ok(None);
        }
        let message = mail.templates.render_with(
            kind::NEW_DEVICE,
            &user.email,
            "",
            0,
            ua.unwrap_or("an unknown device"),
            meta.ip.as_deref().unwrap_or("an unknown address"),
        );
        Ok(Some(self.seal_mail(
            kind::NEW_DEVICE,
            Some(user.id),
            &message,
        )))
    }

    /// `POST /auth/email/verify`: the token's user has verified their email.
    pub async fn verify_email(&self, token: &str, meta: &RequestMeta) -> Result<(), Error> {
        self.limit_ip(meta).await?;
        let now = self.clock.now_ms();
        let e = event(event_kind::EMAIL_VERIFIED, now, meta, None, None);
        self.store
            .verify_email(&token_hash(token), now, &e)
            .await?
            .map(|_| ())
            .ok_or(Error::InvalidEmailToken)
    }

    /// `POST /admin/users/{id}/reset-token` or `verify-token`: a token for an app that sends its
    /// own mail; no mail is queued.
    pub async fn admin_email_token(
        &self,
        user_id: Uuid,
        token_kind: &str,
        meta: &RequestMeta,
    ) -> Result<IssuedEmailToken, Error> {
        let user = self.user(user_id).await?;
        let (token, stored) = self.new_token(user.id, token_kind);
        let kind_event = if token_kind == email_kind::RESET {
            event_kind::PASSWORD_RESET_REQUESTED
        } else {
            event_kind::EMAIL_VERIFICATION_SENT
        };
        let e = Event {
            detail: serde_json::json!({"by": "admin"}),
            ..event(kind_event, stored.created_at, meta, Some(user.id), None)
        };
        self.store
            .issue_email_token(&stored, None, &e, None)
            .await?;
        Ok(IssuedEmailToken {
            token: crate::secrets::Redacted(token),
            expires_at: stored.expires_at,
        })
    }
}
