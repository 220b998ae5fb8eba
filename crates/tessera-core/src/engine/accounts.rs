//! Register, log in, change a password.
use uuid::Uuid;

use super::validate::{check_namespace, normalize_email};
use super::{Engine, Issued, Principal, RequestMeta};
use crate::error::Error;
use crate::model::{Event, SessionSelector, User, event_kind, new_id};

/// The namespace a login lands in when none is given.
pub const DEFAULT_NAMESPACE: &str = "default";

/// Email, password and optional namespace, as a login or registration sends them.
#[derive(Clone)]
pub struct Credentials {
    pub email: String,
    pub password: String,
    pub namespace: Option<String>,
    /// How the tokens will travel (`body`, `cookie`): kept for the second step of a login.
    pub transport: String,
    /// The thumbprint of a verified DPoP proof's key: the new session is bound to it.
    pub dpop_jkt: Option<String>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("email", &self.email)
            .field("password", &"[redacted]")
            .field("namespace", &self.namespace)
            .finish()
    }
}

/// A password change: with a session (`principal`), or by email as the way out of
/// `password_expired`.
pub struct PasswordChange {
    pub email: Option<String>,
    pub current_password: String,
    pub new_password: String,
}

impl Engine {
    /// Creates an account and its first session.
    pub async fn register(&self, c: Credentials, meta: &RequestMeta) -> Result<Issued, Error> {
        if !self.cfg.public_registration {
            return Err(Error::RegistrationClosed);
        }
        self.limit_ip(meta).await?;
        self.check_dpop_binding(c.dpop_jkt.as_deref())?;
        let namespace = self.namespace(c.namespace)?;
        let email = normalize_email(&c.email)?;
        self.cfg.passwords.check_new(&c.password, &email)?;
        let now = self.clock.now_ms();
        let user = User {
            id: new_id(),
            email,
            password_hash: self.hasher.hash(c.password).await?,
            roles: vec![],
            banned: false,
            created_at: now,
            password_changed_at: now,
            claims: Default::default(),
            email_verified: false,
            mfa: Vec::new(),
        };
        let event = event(event_kind::USER_REGISTERED, now, meta, Some(user.id), None);
        let verification = self.first_verification(&user, meta);
        self.store
            .create_user(&user, &event, verification.as_ref())
            .await?;
        if verification.is_some() {
            self.mail_queued();
        }
        self.open_login_session(user, namespace, c.dpop_jkt, false, meta)
            .await
    }

    /// Checks the password and opens a new session (always a new id: no fixation).
    pub async fn login(&self, c: Credentials, meta: &RequestMeta) -> Result<Issued, Error> {
        let result = self.login_inner(c, meta).await;
        self.stats.login(&result);
        result
    }

    async fn login_inner(&self, c: Credentials, meta: &RequestMeta) -> Result<Issued, Error> {
        self.limit_ip(meta).await?;
        self.check_dpop_binding(c.dpop_jkt.as_deref())?;
        let namespace = self.namespace(c.namespace)?;
        let user = self.check_password(&c.email, c.password, meta).await?;
        // A password alone never opens a session for a user with a second factor.
        if let Some(challenge) = self.mfa_challenge(&user, &namespace, &c.transport).await? {
            return Err(Error::MfaRequired(Box::new(challenge)));
        }
        self.open_login_session(user, namespace, c.dpop_jkt, true, meta)
            .await
    }

    /// `dpop.required`: a new session needs a proof (API.md §10).
    pub(super) fn check_dpop_binding(&self, jkt: Option<&str>) -> Result<(), Error> {
        if self.cfg.dpop_required && jkt.is_none() {
            return Err(Error::DpopRequired);
        }
        Ok(())
    }

    /// The session of a login or registration: `login.succeeded`, no app claims; for a login
    /// from a device unseen for 90 days, a notice when `notify_new_device` is on.
    async fn open_login_session(
        &self,
        user: User,
        namespace: String,
        dpop_jkt: Option<String>,
        login: bool,
        meta: &RequestMeta,
    ) -> Result<Issued, Error> {
        let now = self.clock.now_ms();
        let notice = if login {
            self.new_device_notice(&user, meta, now).await?
        } else {
            None
        };
        let e = event(event_kind::LOGIN_SUCCEEDED, now, meta, Some(user.id), None);
        let opening = super::sessions::Opening {
            namespace,
            amr: vec![crate::mfa::amr::PWD.to_owned()],
            claims: Default::default(),
            factor_id: None,
            dpop_jkt,
        };
        self.open_session(user, opening, e, notice, meta).await
    }

    /// Changes a password. With a session, the user's other sessions are revoked; by email,
    /// all of them are.
    pub async fn change_password(
        &self,
        principal: Option<&Principal>,
        change: PasswordChange,
        meta: &RequestMeta,
    ) -> Result<(), Error> {
        // Throttled like login (API.md §5): the per-IP limit, and every failed check of the
        // current password counts toward the account's lock and is a `login.failed` event.
        self.limit_ip(meta).await?;
        let (user, keep) = match (principal, change.email) {
            (Some(p), _) => {
                let me = self
                    .store
                    .user_by_id(p.user_id)
                    .await?
                    .ok_or(Error::SessionRevoked)?;
                let user = self
                    .verify_credentials(&me.email, change.current_password, meta)
                    .await?;
                if user.id != me.id {
                    return Err(Error::InvalidCredentials);
                }
                (user, Some(p.session_id))
            }
            (None, Some(email)) => {
                let user = self
                    .verify_credentials(&email, change.current_password, meta)
                    .await?;
                (user, None)
            }
            (None, None) => return Err(Error::InvalidCredentials),
        };
        if user.banned {
            return Err(Error::AccountBanned);
        }
        self.cfg
            .passwords
            .check_new(&change.new_password, &user.email)?;
        let hash = self.hasher.hash(change.new_password).await?;
        let now = self.clock.now_ms();
        let changed = event(event_kind::PASSWORD_CHANGED, now, meta, Some(user.id), None);
        self.store
            .set_password_hash(user.id, &hash, Some(now), Some(&changed))
            .await?;
        let selector = SessionSelector::User {
            user_id: user.id,
            except: keep,
        };
        self.end_sessions(selector, user.id, "password_changed", meta)
            .await?;
        Ok(())
    }

    /// Email and password, checked in constant time whether or not the email exists; then ban
    /// and expiry, which are only revealed to someone who knows the password.
    pub(super) async fn check_password(
        &self,
        email: &str,
        password: String,
        meta: &RequestMeta,
    ) -> Result<User, Error> {
        let user = self.verify_credentials(email, password, meta).await?;
        if user.banned {
            return Err(Error::AccountBanned);
        }
        // Revealed only to someone who knows the password, like a ban.
        if self.cfg.mail.require_verified && !user.email_verified {
            return Err(Error::EmailNotVerified);
        }
        let max_age = self.cfg.password_max_age_ms;
        if max_age > 0 && self.clock.now_ms() - user.password_changed_at > max_age {
            return Err(Error::PasswordExpired);
        }
        Ok(user)
    }

    async fn verify_credentials(
        &self,
        email: &str,
        password: String,
        meta: &RequestMeta,
    ) -> Result<User, Error> {
        self.check_account(email).await?;
        // Too long to be anyone's password: refused without hashing it.
        let too_long = password.chars().count() > self.cfg.passwords.max_length;
        let user = match normalize_email(email) {
            Ok(email) => self.store.user_by_email(&email).await?,
            Err(_) => None,
        };
        let ok = !too_long
            && self
                .hasher
                .verify(
                    user.as_ref().map(|u| u.password_hash.clone()),
                    password.clone(),
                )
                .await?;
        match user {
            Some(user) if ok => {
                // For a user with a second factor, only the second step clears the failures:
                // else a right password between wrong codes would reset the lock for good.
                if !self.has_second_factor(user.id).await? {
                    self.record_success(email).await;
                }
                if self.hasher.needs_rehash(&user.password_hash) {
                    self.rehash(&user, password).await;
                }
                Ok(user)
            }
            user => {
                self.record_failure(email).await;
                let now = self.clock.now_ms();
                let failed = event(
                    event_kind::LOGIN_FAILED,
                    now,
                    meta,
                    user.map(|u| u.id),
                    None,
                );
                self.store.record_event(&failed).await?;
                Err(Error::InvalidCredentials)
            }
        }
    }

    /// Upgrades a hash made with older Argon2 parameters; failure only costs the upgrade.
    async fn rehash(&self, user: &User, password: String) {
        let Ok(hash) = self.hasher.hash(password).await else {
            return;
        };
        if let Err(e) = self
            .store
            .set_password_hash(user.id, &hash, None, None)
            .await
        {
            tracing::warn!(error = %e, "hash upgrade not saved");
        }
    }
}

impl Engine {
    /// The namespace a client asked for (or the default): well-formed, and one of
    /// `[sessions] namespaces` when that list is set.
    pub(super) fn namespace(&self, ns: Option<String>) -> Result<String, Error> {
        let ns = ns.unwrap_or_else(|| DEFAULT_NAMESPACE.to_owned());
        check_namespace(&ns)?;
        let allowed = &self.cfg.namespaces;
        if !allowed.is_empty() && !allowed.contains(&ns) {
            return Err(Error::InvalidNamespace);
        }
        Ok(ns)
    }
}

/// An event with the request's metadata.
pub(super) fn event(
    kind: &str,
    at: i64,
    meta: &RequestMeta,
    user_id: Option<Uuid>,
    session_id: Option<Uuid>,
) -> Event {
    Event {
        user_id,
        session_id,
        ip: meta.ip.clone(),
        user_agent: meta.user_agent.clone(),
        ..Event::new(kind, at)
    }
}
