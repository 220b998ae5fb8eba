//! The store traits on SQLite, through rusqlite. The statements are `crate::sql`'s, shared with
//! PostgreSQL; this file only binds them and reads rows back. Reads run on the caller's thread,
//! writes as one job each on the writer thread (see the module docs of `sqlite`).
use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, Row, params};
use tessera_core::claims::claims_fit;
use tessera_core::model::{
    Claims, Event, KeyRecord, KeyState, Revocation, RevocationTarget, Revoked, Role, Session,
    TokenMail, User, email_kind,
};
use tessera_core::store::*;
use uuid::Uuid;

use super::SqliteStore;
use super::mail::insert_token_mail;
use crate::codec::{
    claims_from_json, claims_to_json, opt_uuid, revocation_columns, revocation_target,
    roles_from_json, roles_to_json, uuid,
};
use crate::sql::{self as S, cutoff};

/// A value that does not decode, as a rusqlite error (mapped back to `StoreError::Corrupt`).
pub(super) fn corrupt(e: StoreError) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(
        0,
        rusqlite::types::Type::Text,
        Box::new(std::io::Error::other(e.to_string())),
    )
}

pub(super) fn user_from(row: &Row<'_>) -> rusqlite::Result<User> {
    Ok(User {
        id: uuid(&row.get::<_, String>("id")?).map_err(corrupt)?,
        email: row.get("email")?,
        password_hash: row.get("password_hash")?,
        roles: roles_from_json(&row.get::<_, String>("roles")?).map_err(corrupt)?,
        banned: row.get("banned")?,
        created_at: row.get("created_at")?,
        password_changed_at: row.get("password_changed_at")?,
        claims: claims_from_json(&row.get::<_, String>("claims")?).map_err(corrupt)?,
        email_verified: row.get("email_verified")?,
        mfa: Vec::new(),
    })
}

pub(super) fn event_from(row: &Row<'_>) -> rusqlite::Result<Event> {
    Ok(Event {
        id: uuid(&row.get::<_, String>("id")?).map_err(corrupt)?,
        kind: row.get("type")?,
        at: row.get("at")?,
        user_id: opt_uuid(row.get("user_id")?).map_err(corrupt)?,
        session_id: opt_uuid(row.get("session_id")?).map_err(corrupt)?,
        ip: row.get("ip")?,
        user_agent: row.get("user_agent")?,
        detail: serde_json::from_str(&row.get::<_, String>("detail")?)
            .map_err(|_| corrupt(StoreError::Corrupt("bad event detail".into())))?,
    })
}

/// Whether `session` claims fit over the user's current ones (none: no such user, and the
/// insert that follows fails on its foreign key).
pub(super) fn session_claims_fit(
    c: &Connection,
    user: Uuid,
    session: &Claims,
) -> rusqlite::Result<bool> {
    if session.is_empty() {
        // The user's claims alone were checked when they were set.
        return Ok(true);
    }
    let user: Option<String> = c
        .prepare_cached(S::USER_CLAIMS.sqlite)?
        .query_row([user.to_string()], |r| r.get(0))
        .optional()?;
    Ok(match user {
        Some(u) => claims_fit(&claims_from_json(&u).map_err(corrupt)?, session),
        None => true,
    })
}

/// The "update, event" step of a change: runs `stmt`, and if it changed exactly one row, writes
/// `event` in the same transaction. Whether it changed one. The caller commits.
pub(super) fn update_with_event(
    c: &Connection,
    stmt: &str,
    params: impl rusqlite::Params,
    event: Option<&Event>,
) -> rusqlite::Result<bool> {
    let one = c.prepare_cached(stmt)?.execute(params)? == 1;
    if let (true, Some(e)) = (one, event) {
        insert_event(c, e)?;
    }
    Ok(one)
}

pub(super) fn insert_event(c: &Connection, e: &Event) -> rusqlite::Result<()> {
    c.prepare_cached(S::INSERT_EVENT.sqlite)?.execute(params![
        e.id.to_string(),
        e.kind,
        e.at,
        e.user_id.map(|u| u.to_string()),
        e.session_id.map(|u| u.to_string()),
        e.ip,
        e.user_agent,
        e.detail.to_string(),
    ])?;
    Ok(())
}

/// Adds a record to the revocation feed; every node polls it.
pub(super) fn insert_revocation(
    c: &Connection,
    target: &RevocationTarget,
    at: i64,
) -> rusqlite::Result<Revocation> {
    let (kind, column) = revocation_columns(target);
    let seq = c
        .prepare_cached(S::INSERT_REVOCATION.sqlite)?
        .query_row(params![kind, column, at], |r| r.get(0))?;
    Ok(Revocation {
        seq,
        target: target.clone(),
        at,
    })
}

fn insert_key(c: &Connection, k: &KeyRecord) -> rusqlite::Result<()> {
    c.prepare_cached(S::INSERT_KEY.sqlite)?.execute(params![
        k.kid,
        k.alg,
        k.state.as_str(),
        k.created_at,
        k.activated_at,
        k.retired_at,
        k.private_sealed
    ])?;
    Ok(())
}

#[async_trait]
impl UserStore for SqliteStore {
    async fn create_user(
        &self,
        u: &User,
        event: &Event,
        verification: Option<&TokenMail>,
    ) -> StoreResult<()> {
        let (u, event, verification) = (u.clone(), event.clone(), verification.cloned());
        self.write(move |t| {
            t.prepare_cached(S::INSERT_USER.sqlite)?.execute(params![
                u.id.to_string(),
                u.email,
                u.password_hash,
                roles_to_json(&u.roles),
                u.banned,
                u.created_at,
                u.password_changed_at,
                claims_to_json(&u.claims),
                u.email_verified
            ])?;
            insert_event(&t, &event)?;
            if let Some(v) = &verification {
                insert_token_mail(&t, v)?;
            }
            t.commit()
        })
        .await
    }

    async fn user_by_email(&self, email: &str) -> StoreResult<Option<User>> {
        self.read(|c| {
            c.prepare_cached(S::USER_BY_EMAIL.sqlite)?
                .query_row([email], user_from)
                .optional()
        })
    }

    async fn user_by_id(&self, id: Uuid) -> StoreResult<Option<User>> {
        self.read(|c| {
            c.prepare_cached(S::USER_BY_ID.sqlite)?
                .query_row([id.to_string()], user_from)
                .optional()
        })
    }

    async fn set_password_hash(
        &self,
        id: Uuid,
        hash: &str,
        changed_at: Option<i64>,
        event: Option<&Event>,
    ) -> StoreResult<bool> {
        let (hash, event) = (hash.to_owned(), event.cloned());
        self.write(move |t| {
            let done = update_with_event(
                &t,
                S::SET_PASSWORD_HASH.sqlite,
                params![hash, changed_at, id.to_string()],
                event.as_ref(),
            )?;
            if let (true, Some(at)) = (done, changed_at) {
                // A reset link mailed before the change must not undo it.
                t.prepare_cached(S::USE_USER_EMAIL_TOKENS.sqlite)?
                    .execute(params![at, id.to_string(), email_kind::RESET])?;
            }
            t.commit()?;
            Ok(done)
        })
        .await
    }

    async fn users(&self, limit: i64) -> StoreResult<Vec<User>> {
        self.read(|c| {
            c.prepare_cached(S::USERS.sqlite)?
                .query_map([limit], user_from)?
                .collect()
        })
    }

    async fn delete_user(&self, id: Uuid, at: i64, event: &Event) -> StoreResult<Option<Revoked>> {
        let event = event.clone();
        self.write(move |t| {
            // The sessions first: deleting the user would cascade to them unseen.
            let sessions: Vec<(i64, Option<i64>)> = t
                .prepare_cached(S::DELETE_USER_SESSIONS.sqlite)?
                .query_map([id.to_string()], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<rusqlite::Result<_>>()?;
            if t.execute(S::DELETE_USER.sqlite, [id.to_string()])? != 1 {
                return Ok(None);
            }
            let live = sessions
                .iter()
                .filter(|(_, revoked)| revoked.is_none())
                .count() as u64;
            let at = cutoff(at, sessions.iter().map(|(stamp, _)| *stamp));
            let record = insert_revocation(&t, &RevocationTarget::User { user_id: id }, at)?;
            insert_event(&t, &event)?;
            t.commit()?;
            Ok(Some(Revoked {
                sessions: live,
                records: vec![record],
            }))
        })
        .await
    }

    async fn set_user_roles(&self, id: Uuid, roles: &[String]) -> StoreResult<bool> {
        let roles = roles_to_json(roles);
        self.write(move |t| {
            let done = t
                .prepare_cached(S::SET_USER_ROLES.sqlite)?
                .execute(params![roles, id.to_string()])?;
            t.commit()?;
            Ok(done == 1)
        })
        .await
    }

    async fn set_banned(&self, id: Uuid, banned: bool, event: &Event) -> StoreResult<bool> {
        let event = event.clone();
        self.write(move |t| {
            let done = update_with_event(
                &t,
                S::SET_BANNED.sqlite,
                params![banned, id.to_string()],
                Some(&event),
            )?;
            if done && banned {
                // A banned user's reset link must not reopen the account.
                t.prepare_cached(S::USE_USER_EMAIL_TOKENS.sqlite)?
                    .execute(params![event.at, id.to_string(), email_kind::RESET])?;
            }
            t.commit()?;
            Ok(done)
        })
        .await
    }

    async fn set_user_claims(&self, id: Uuid, claims: &Claims, now: i64) -> StoreResult<bool> {
        let claims = claims.clone();
        self.write(move |t| {
            let sessions: Vec<String> = t
                .prepare_cached(S::LIVE_SESSION_CLAIMS.sqlite)?
                .query_map(params![id.to_string(), now], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?;
            for s in sessions {
                if !claims_fit(&claims, &claims_from_json(&s).map_err(corrupt)?) {
                    return Ok(Err(StoreError::ClaimsTooLarge));
                }
            }
            let done = t
                .prepare_cached(S::SET_USER_CLAIMS.sqlite)?
                .execute(params![claims_to_json(&claims), id.to_string()])?;
            t.commit()?;
            Ok(Ok(done == 1))
        })
        .await?
    }
}

#[async_trait]
impl RoleStore for SqliteStore {
    async fn roles(&self) -> StoreResult<Vec<Role>> {
        self.read(|c| {
            c.prepare_cached(S::ROLES.sqlite)?
                .query_map([], |row| {
                    Ok(Role {
                        name: row.get("name")?,
                        permissions: roles_from_json(&row.get::<_, String>("permissions")?)
                            .map_err(corrupt)?,
                    })
                })?
                .collect()
        })
    }

    async fn put_role(&self, role: &Role) -> StoreResult<()> {
        let (name, perms) = (role.name.clone(), roles_to_json(&role.permissions));
        self.write(move |t| {
            t.execute(S::PUT_ROLE.sqlite, params![name, perms])?;
            t.commit()
        })
        .await
    }

    async fn delete_role(&self, name: &str) -> StoreResult<bool> {
        let name = name.to_owned();
        self.write(move |t| {
            if t.execute(S::DELETE_ROLE.sqlite, [&name])? != 1 {
                return Ok(false);
            }
            // Roles are a JSON array per user; rewrite the users that carry this one.
            let quoted = serde_json::to_string(&name).expect("a string serializes");
            let holders: Vec<(String, String)> = t
                .prepare(S::ROLE_HOLDERS.sqlite)?
                .query_map([quoted], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<rusqlite::Result<_>>()?;
            for (id, roles) in holders {
                let mut roles = roles_from_json(&roles).map_err(corrupt)?;
                roles.retain(|r| *r != name);
                t.prepare_cached(S::SET_USER_ROLES.sqlite)?
                    .execute(params![roles_to_json(&roles), id])?;
            }
            t.commit()?;
            Ok(true)
        })
        .await
    }
}

#[async_trait]
impl RevocationStore for SqliteStore {
    async fn record_revocation(&self, target: &RevocationTarget, at: i64) -> StoreResult<i64> {
        let target = target.clone();
        self.write(move |t| {
            let record = insert_revocation(&t, &target, at)?;
            t.commit()?;
            Ok(record.seq)
        })
        .await
    }

    async fn revocation_head(&self) -> StoreResult<i64> {
        self.read(|c| c.query_row(S::REVOCATION_HEAD.sqlite, [], |r| r.get(0)))
    }

    async fn revocations(
        &self,
        after_seq: i64,
        min_at: i64,
        limit: i64,
    ) -> StoreResult<Vec<Revocation>> {
        self.read(|c| {
            c.prepare_cached(S::REVOCATIONS.sqlite)?
                .query_map(params![after_seq, min_at, limit], |row| {
                    Ok(Revocation {
                        seq: row.get("seq")?,
                        target: revocation_target(
                            &row.get::<_, String>("kind")?,
                            row.get("target")?,
                        )
                        .map_err(corrupt)?,
                        at: row.get("at")?,
                    })
                })?
                .collect()
        })
    }
}

#[async_trait]
impl KeyStore for SqliteStore {
    async fn keys(&self) -> StoreResult<Vec<KeyRecord>> {
        self.read(|c| {
            c.prepare_cached(S::KEYS.sqlite)?
                .query_map([], |row| {
                    Ok(KeyRecord {
                        kid: row.get("kid")?,
                        alg: row.get("alg")?,
                        state: KeyState::parse(&row.get::<_, String>("state")?)
                            .ok_or_else(|| corrupt(StoreError::Corrupt("bad key state".into())))?,
                        created_at: row.get("created_at")?,
                        activated_at: row.get("activated_at")?,
                        retired_at: row.get("retired_at")?,
                        private_sealed: row.get("private_sealed")?,
                    })
                })?
                .collect()
        })
    }

    async fn init_keys(&self, alg: &str, keys: &[KeyRecord]) -> StoreResult<bool> {
        let (alg, keys) = (alg.to_owned(), keys.to_vec());
        self.write(move |t| {
            let exists = t.prepare(S::CURRENT_KEY.sqlite)?.exists([&alg])?;
            if exists {
                return Ok(false);
            }
            for k in &keys {
                // The partial unique index allows one `current` key per algorithm: a process
                // that lost the race to initialise simply uses the winner's keys.
                match insert_key(&t, k) {
                    Err(rusqlite::Error::SqliteFailure(f, _))
                        if f.code == rusqlite::ErrorCode::ConstraintViolation =>
                    {
                        return Ok(false);
                    }
                    other => other?,
                }
            }
            t.commit()?;
            Ok(true)
        })
        .await
    }

    async fn rotate_keys(
        &self,
        expected_current: &str,
        new_next: &KeyRecord,
        at: i64,
        event: &Event,
    ) -> StoreResult<bool> {
        let (expected, next, event) =
            (expected_current.to_owned(), new_next.clone(), event.clone());
        self.write(move |t| {
            // Each step is conditional on the state it expects, so of two concurrent rotations
            // the second finds nothing to change and rolls back.
            let retired = t.execute(S::RETIRE_KEY.sqlite, params![at, expected, next.alg])?;
            if retired != 1 {
                return Ok(false);
            }
            let promoted = t.execute(S::PROMOTE_KEY.sqlite, params![at, next.alg])?;
            if promoted != 1 {
                return Ok(false);
            }
            insert_key(&t, &next)?;
            insert_event(&t, &event)?;
            t.commit()?;
            Ok(true)
        })
        .await
    }
}

#[async_trait]
impl EventStore for SqliteStore {
    async fn record_event(&self, event: &Event) -> StoreResult<()> {
        let event = event.clone();
        self.write(move |t| {
            insert_event(&t, &event)?;
            t.commit()
        })
        .await
    }

    async fn events(
        &self,
        user_id: Option<Uuid>,
        kind: Option<&str>,
        limit: i64,
    ) -> StoreResult<Vec<Event>> {
        self.read(|c| {
            c.prepare_cached(S::EVENTS.sqlite)?
                .query_map(
                    params![user_id.map(|u| u.to_string()), kind, limit],
                    event_from,
                )?
                .collect()
        })
    }
}

#[async_trait]
impl Store for SqliteStore {
    async fn ping(&self) -> StoreResult<()> {
        self.read(|c| c.query_row("SELECT 1", [], |_| Ok(())))
    }

    /// Both rows in one read transaction: one reader connection, one WAL read lock, one
    /// snapshot (two autocommit reads take the lock twice).
    async fn session_with_user(&self, id: Uuid) -> StoreResult<Option<(Session, Option<User>)>> {
        self.read(|c| {
            let t = c.unchecked_transaction()?;
            let Some(session) = t
                .prepare_cached(S::SESSION.sqlite)?
                .query_row([id.to_string()], super::sessions::session_from)
                .optional()?
            else {
                return Ok(None);
            };
            let user = t
                .prepare_cached(S::USER_BY_ID.sqlite)?
                .query_row([session.user_id.to_string()], user_from)
                .optional()?;
            Ok(Some((session, user)))
        })
    }
}
