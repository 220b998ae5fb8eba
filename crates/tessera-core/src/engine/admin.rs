//! Administration: users, roles, bans, sessions of any user, bulk revocation, events.
use uuid::Uuid;

use super::accounts::event;
use super::revoke::Scope;
use super::validate::{check_namespace, normalize_email};
use super::{Engine, RequestMeta};
use crate::error::Error;
use crate::model::{BulkSelector, Event, Role, Session, SessionSelector, User, event_kind, new_id};

/// At most this many users or events in one listing.
pub const MAX_LISTING: i64 = 1000;

/// 1 to 64 characters of `[A-Za-z0-9_.:-]`.
fn check_role_name(name: &str) -> Result<(), Error> {
    let ok = (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b':' | b'-'));
    ok.then_some(()).ok_or(Error::InvalidRequest(
        "a role name is 1 to 64 characters of A-Z a-z 0-9 _ . : -",
    ))
}

fn check_permission(p: &str) -> Result<(), Error> {
    let ok = (1..=128).contains(&p.chars().count())
        && !p.chars().any(|c| c.is_whitespace() || c.is_control());
    ok.then_some(()).ok_or(Error::InvalidRequest(
        "a permission is 1 to 128 characters without spaces",
    ))
}

impl Engine {
    /// Creates a user (the password rules apply) with optional roles, which must exist.
    pub async fn admin_create_user(
        &self,
        email: &str,
        password: String,
        roles: Vec<String>,
        meta: &RequestMeta,
    ) -> Result<User, Error> {
        let email = normalize_email(email)?;
        self.check_roles_exist(&roles).await?;
        self.cfg.passwords.check_new(&password, &email)?;
        let now = self.clock.now_ms();
        let user = User {
            id: new_id(),
            email,
            password_hash: self.hasher.hash(password).await?,
            roles,
            banned: false,
            created_at: now,
            password_changed_at: now,
            claims: Default::default(),
            email_verified: false,
            mfa: Vec::new(),
        };
        let e = Event {
            detail: serde_json::json!({"by": "admin"}),
            ..event(event_kind::USER_REGISTERED, now, meta, Some(user.id), None)
        };
        self.store.create_user(&user, &e, None).await?;
        Ok(user)
    }

    /// The user with this email (trimmed, case-insensitive), or the newest `limit` users.
    pub async fn find_users(&self, email: Option<&str>, limit: i64) -> Result<Vec<User>, Error> {
        let users: Vec<User> = match email {
            Some(e) => match normalize_email(e) {
                Ok(e) => self.store.user_by_email(&e).await?.into_iter().collect(),
                Err(_) => vec![],
            },
            None => self.store.users(limit.clamp(1, MAX_LISTING)).await?,
        };
        let mut out = Vec::with_capacity(users.len());
        for u in users {
            out.push(self.with_mfa(u).await?);
        }
        Ok(out)
    }

    /// The user, with the kinds of its confirmed factors.
    pub async fn user(&self, id: Uuid) -> Result<User, Error> {
        let user = self.store.user_by_id(id).await?.ok_or(Error::NotFound)?;
        self.with_mfa(user).await
    }

    /// Deletes a user; its sessions end at once, on every node.
    pub async fn delete_user(&self, id: Uuid, meta: &RequestMeta) -> Result<(), Error> {
        let now = self.clock.now_ms();
        let e = event(event_kind::USER_DELETED, now, meta, Some(id), None);
        self.revoke(Scope::DeletedUser(id), "user_deleted", e)
            .await
            .map(|_| ())
    }

    /// Replaces a user's roles; each must be defined. New tokens (login and refresh) carry them.
    pub async fn set_roles(&self, id: Uuid, mut roles: Vec<String>) -> Result<User, Error> {
        roles.sort();
        roles.dedup();
        self.check_roles_exist(&roles).await?;
        if !self.store.set_user_roles(id, &roles).await? {
            return Err(Error::NotFound);
        }
        self.user(id).await
    }

    /// Bans a user and revokes every session at once. A banned user with the right password is
    /// told `account_banned`; with a wrong one, the usual `invalid_credentials`.
    pub async fn ban(
        &self,
        id: Uuid,
        reason: Option<String>,
        meta: &RequestMeta,
    ) -> Result<User, Error> {
        let now = self.clock.now_ms();
        let e = Event {
            detail: serde_json::json!({"reason": reason}),
            ..event(event_kind::USER_BANNED, now, meta, Some(id), None)
        };
        if !self.store.set_banned(id, true, &e).await? {
            return Err(Error::NotFound);
        }
        self.bulk_revoke(
            BulkSelector::User {
                user_id: id,
                namespace: None,
            },
            "ban",
            meta,
        )
        .await?;
        self.user(id).await
    }

    /// For a user who lost their devices: every second factor and recovery code removed, and
    /// every session revoked (they were opened with the lost factors). An `mfa.reset` event.
    pub async fn reset_mfa(&self, id: Uuid, meta: &RequestMeta) -> Result<User, Error> {
        self.user(id).await?;
        let now = self.clock.now_ms();
        let e = event(event_kind::MFA_RESET, now, meta, Some(id), None);
        self.store.remove_all_factors(id, &e).await?;
        self.bulk_revoke(
            BulkSelector::User {
                user_id: id,
                namespace: None,
            },
            "mfa_reset",
            meta,
        )
        .await?;
        self.user(id).await
    }

    pub async fn unban(&self, id: Uuid, meta: &RequestMeta) -> Result<User, Error> {
        let now = self.clock.now_ms();
        let e = event(event_kind::USER_UNBANNED, now, meta, Some(id), None);
        if !self.store.set_banned(id, false, &e).await? {
            return Err(Error::NotFound);
        }
        self.user(id).await
    }

    /// A user's live sessions, most recently active first.
    pub async fn user_sessions(&self, id: Uuid) -> Result<Vec<Session>, Error> {
        self.user(id).await?;
        Ok(self.store.live_sessions(id, self.clock.now_ms()).await?)
    }

    /// Revokes any live session by id.
    pub async fn admin_revoke_session(&self, id: Uuid, meta: &RequestMeta) -> Result<(), Error> {
        let now = self.clock.now_ms();
        let Some(s) = self.store.session(id).await?.filter(|s| s.is_live(now)) else {
            return Err(Error::NotFound);
        };
        self.end_sessions(SessionSelector::One(id), s.user_id, "admin", meta)
            .await
            .map(|_| ())
    }

    /// Revokes every session a selector names, as one cutoff every node applies. Returns how
    /// many sessions were live.
    pub async fn bulk_revoke(
        &self,
        selector: BulkSelector,
        reason: &'static str,
        meta: &RequestMeta,
    ) -> Result<u64, Error> {
        match &selector {
            BulkSelector::Namespace(ns)
            | BulkSelector::User {
                namespace: Some(ns),
                ..
            } => check_namespace(ns)?,
            _ => {}
        }
        if let BulkSelector::User { user_id, .. } = &selector {
            self.user(*user_id).await?;
        }
        let now = self.clock.now_ms();
        let user_id = match &selector {
            BulkSelector::User { user_id, .. } => Some(*user_id),
            _ => None,
        };
        let e = event(event_kind::SESSIONS_REVOKED, now, meta, user_id, None);
        self.revoke(Scope::Bulk(selector), reason, e).await
    }

    pub async fn roles(&self) -> Result<Vec<Role>, Error> {
        Ok(self.store.roles().await?)
    }

    /// Creates or replaces a role.
    pub async fn put_role(&self, name: &str, mut permissions: Vec<String>) -> Result<Role, Error> {
        check_role_name(name)?;
        permissions.iter().try_for_each(|p| check_permission(p))?;
        permissions.sort();
        permissions.dedup();
        let role = Role {
            name: name.to_owned(),
            permissions,
        };
        self.store.put_role(&role).await?;
        Ok(role)
    }

    /// Deletes a role and removes it from every user.
    pub async fn delete_role(&self, name: &str) -> Result<(), Error> {
        if self.store.delete_role(name).await? {
            Ok(())
        } else {
            Err(Error::NotFound)
        }
    }

    /// Events, newest first.
    pub async fn events(
        &self,
        user_id: Option<Uuid>,
        kind: Option<&str>,
        limit: i64,
    ) -> Result<Vec<Event>, Error> {
        Ok(self
            .store
            .events(user_id, kind, limit.clamp(1, MAX_LISTING))
            .await?)
    }

    async fn check_roles_exist(&self, roles: &[String]) -> Result<(), Error> {
        if roles.is_empty() {
            return Ok(());
        }
        let defined = self.store.roles().await?;
        match roles
            .iter()
            .find(|r| !defined.iter().any(|d| &d.name == *r))
        {
            Some(missing) => Err(Error::UnknownRole(missing.clone())),
            None => Ok(()),
        }
    }
}
