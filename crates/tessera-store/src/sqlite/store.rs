//! The store traits on SQLite. The statements are those of the PostgreSQL store (`../sql.rs`)
//! with SQLite's numbered `?N` placeholders; reads run on the caller's thread, writes as one job
//! each on the writer thread (see the module docs of `sqlite`).
use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, Row, params};
use tessera_core::model::{
    BulkSelector, Event, KeyRecord, KeyState, Revocation, RevocationTarget, Role, Rotation,
    Session, SessionSelector, User,
};
use tessera_core::store::*;
use uuid::Uuid;

use super::SqliteStore;
use crate::codec::{
    opt_uuid, revocation_columns, revocation_target, roles_from_json, roles_to_json, uuid,
};

const SESSION_COLUMNS: &str = "id, user_id, namespace, created_at, last_active_at, expires_at, absolute_expires_at, ip, user_agent, refresh_count, generation, secret_hash, prev_secret_hash, rotated_at, revoked_at, revoke_reason";

/// A value that does not decode, as a rusqlite error (mapped back to `StoreError::Corrupt`).
fn corrupt(e: StoreError) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(
        0,
        rusqlite::types::Type::Text,
        Box::new(std::io::Error::other(e.to_string())),
    )
}

fn user_from(row: &Row<'_>) -> rusqlite::Result<User> {
    Ok(User {
        id: uuid(&row.get::<_, String>("id")?).map_err(corrupt)?,
        email: row.get("email")?,
        password_hash: row.get("password_hash")?,
        roles: roles_from_json(&row.get::<_, String>("roles")?).map_err(corrupt)?,
        banned: row.get("banned")?,
        created_at: row.get("created_at")?,
        password_changed_at: row.get("password_changed_at")?,
    })
}

fn session_from(row: &Row<'_>) -> rusqlite::Result<Session> {
    Ok(Session {
        id: uuid(&row.get::<_, String>("id")?).map_err(corrupt)?,
        user_id: uuid(&row.get::<_, String>("user_id")?).map_err(corrupt)?,
        namespace: row.get("namespace")?,
        created_at: row.get("created_at")?,
        last_active_at: row.get("last_active_at")?,
        expires_at: row.get("expires_at")?,
        absolute_expires_at: row.get("absolute_expires_at")?,
        ip: row.get("ip")?,
        user_agent: row.get("user_agent")?,
        refresh_count: row.get("refresh_count")?,
        generation: row.get("generation")?,
        secret_hash: row.get("secret_hash")?,
        prev_secret_hash: row.get("prev_secret_hash")?,
        rotated_at: row.get("rotated_at")?,
        revoked_at: row.get("revoked_at")?,
        revoke_reason: row.get("revoke_reason")?,
    })
}

fn event_from(row: &Row<'_>) -> rusqlite::Result<Event> {
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

fn insert_event(c: &Connection, e: &Event) -> rusqlite::Result<()> {
    c.prepare_cached("INSERT INTO events (id, type, at, user_id, session_id, ip, user_agent, detail) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)")?
        .execute(params![
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
fn insert_revocation(c: &Connection, target: &RevocationTarget, at: i64) -> rusqlite::Result<i64> {
    let (kind, column) = revocation_columns(target);
    c.prepare_cached(
        "INSERT INTO revocations (kind, target, at) VALUES (?1, ?2, ?3) RETURNING seq",
    )?
    .query_row(params![kind, column, at], |r| r.get(0))
}

fn insert_key(c: &Connection, k: &KeyRecord) -> rusqlite::Result<()> {
    c.prepare_cached("INSERT INTO signing_keys (kid, alg, state, created_at, activated_at, retired_at, private_sealed) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)")?
        .execute(params![k.kid, k.alg, k.state.as_str(), k.created_at, k.activated_at, k.retired_at, k.private_sealed])?;
    Ok(())
}

#[async_trait]
impl UserStore for SqliteStore {
    async fn create_user(&self, u: &User, event: &Event) -> StoreResult<()> {
        let (u, event) = (u.clone(), event.clone());
        self.write(move |t| {
            t.prepare_cached("INSERT INTO users (id, email, password_hash, roles, banned, created_at, password_changed_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)")?
                .execute(params![u.id.to_string(), u.email, u.password_hash, roles_to_json(&u.roles), u.banned, u.created_at, u.password_changed_at])?;
            insert_event(&t, &event)?;
            t.commit()
        })
        .await
    }

    async fn user_by_email(&self, email: &str) -> StoreResult<Option<User>> {
        self.read(|c| {
            c.prepare_cached("SELECT * FROM users WHERE email = ?1")?
                .query_row([email], user_from)
                .optional()
        })
    }

    async fn user_by_id(&self, id: Uuid) -> StoreResult<Option<User>> {
        self.read(|c| {
            c.prepare_cached("SELECT * FROM users WHERE id = ?1")?
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
            let done = t
                .prepare_cached("UPDATE users SET password_hash = ?1, password_changed_at = COALESCE(?2, password_changed_at) WHERE id = ?3")?
                .execute(params![hash, changed_at, id.to_string()])?
                == 1;
            if let (true, Some(e)) = (done, &event) {
                insert_event(&t, e)?;
            }
            t.commit()?;
            Ok(done)
        })
        .await
    }

    async fn users(&self, limit: i64) -> StoreResult<Vec<User>> {
        self.read(|c| {
            c.prepare_cached("SELECT * FROM users ORDER BY created_at DESC, id DESC LIMIT ?1")?
                .query_map([limit], user_from)?
                .collect()
        })
    }

    async fn delete_user(&self, id: Uuid, at: i64, event: &Event) -> StoreResult<bool> {
        let event = event.clone();
        self.write(move |t| {
            let deleted = t.execute("DELETE FROM users WHERE id = ?1", [id.to_string()])? == 1;
            if !deleted {
                return Ok(false);
            }
            // Sessions go with the user (ON DELETE CASCADE); verifiers learn from one cutoff.
            t.execute("DELETE FROM sessions WHERE user_id = ?1", [id.to_string()])?;
            insert_revocation(&t, &RevocationTarget::User { user_id: id }, at)?;
            insert_event(&t, &event)?;
            t.commit()?;
            Ok(true)
        })
        .await
    }

    async fn set_user_roles(&self, id: Uuid, roles: &[String]) -> StoreResult<bool> {
        let roles = roles_to_json(roles);
        self.write(move |t| {
            let done = t.execute(
                "UPDATE users SET roles = ?1 WHERE id = ?2",
                params![roles, id.to_string()],
            )?;
            t.commit()?;
            Ok(done == 1)
        })
        .await
    }

    async fn set_banned(&self, id: Uuid, banned: bool, event: &Event) -> StoreResult<bool> {
        let event = event.clone();
        self.write(move |t| {
            let done = t.execute(
                "UPDATE users SET banned = ?1 WHERE id = ?2",
                params![banned, id.to_string()],
            )? == 1;
            if done {
                insert_event(&t, &event)?;
            }
            t.commit()?;
            Ok(done)
        })
        .await
    }
}

#[async_trait]
impl RoleStore for SqliteStore {
    async fn roles(&self) -> StoreResult<Vec<Role>> {
        self.read(|c| {
            c.prepare_cached("SELECT name, permissions FROM roles ORDER BY name")?
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
            t.execute("INSERT INTO roles (name, permissions) VALUES (?1, ?2) ON CONFLICT (name) DO UPDATE SET permissions = excluded.permissions", params![name, perms])?;
            t.commit()
        })
        .await
    }

    async fn delete_role(&self, name: &str) -> StoreResult<bool> {
        let name = name.to_owned();
        self.write(move |t| {
            if t.execute("DELETE FROM roles WHERE name = ?1", [&name])? != 1 {
                return Ok(false);
            }
            // Roles are a JSON array per user; rewrite the users that carry this one.
            let quoted = serde_json::to_string(&name).expect("a string serializes");
            let holders: Vec<(String, String)> = t
                .prepare("SELECT id, roles FROM users WHERE roles LIKE '%' || ?1 || '%'")?
                .query_map([quoted], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<rusqlite::Result<_>>()?;
            for (id, roles) in holders {
                let mut roles = roles_from_json(&roles).map_err(corrupt)?;
                roles.retain(|r| *r != name);
                t.execute(
                    "UPDATE users SET roles = ?1 WHERE id = ?2",
                    params![roles_to_json(&roles), id],
                )?;
            }
            t.commit()?;
            Ok(true)
        })
        .await
    }
}

#[async_trait]
impl SessionStore for SqliteStore {
    async fn create_session(&self, s: &Session, event: &Event) -> StoreResult<()> {
        let (s, event) = (s.clone(), event.clone());
        self.write(move |t| {
            t.prepare_cached(&format!("INSERT INTO sessions ({SESSION_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)"))?
                .execute(params![
                    s.id.to_string(),
                    s.user_id.to_string(),
                    s.namespace,
                    s.created_at,
                    s.last_active_at,
                    s.expires_at,
                    s.absolute_expires_at,
                    s.ip,
                    s.user_agent,
                    s.refresh_count,
                    s.generation,
                    s.secret_hash,
                    s.prev_secret_hash,
                    s.rotated_at,
                    s.revoked_at,
                    s.revoke_reason,
                ])?;
            insert_event(&t, &event)?;
            t.commit()
        })
        .await
    }

    async fn session(&self, id: Uuid) -> StoreResult<Option<Session>> {
        self.read(|c| {
            c.prepare_cached(&format!(
                "SELECT {SESSION_COLUMNS} FROM sessions WHERE id = ?1"
            ))?
            .query_row([id.to_string()], session_from)
            .optional()
        })
    }

    async fn rotate_session(
        &self,
        id: Uuid,
        from_generation: i64,
        r: &Rotation,
        event: &Event,
    ) -> StoreResult<bool> {
        let (r, event) = (r.clone(), event.clone());
        self.write(move |t| {
            // The one conditional write: whoever loses re-reads; a revocation makes it fail.
            let won = t
                .prepare_cached("UPDATE sessions SET generation = ?1, secret_hash = ?2, prev_secret_hash = ?3, rotated_at = ?4, last_active_at = ?4, expires_at = ?5, refresh_count = ?6 WHERE id = ?7 AND generation = ?8 AND revoked_at IS NULL")?
                .execute(params![r.generation, r.secret_hash, r.prev_secret_hash, r.rotated_at, r.expires_at, r.refresh_count, id.to_string(), from_generation])?
                == 1;
            if won {
                insert_event(&t, &event)?;
            }
            t.commit()?;
            Ok(won)
        })
        .await
    }

    async fn touch_session(&self, id: Uuid, generation: i64, at: i64) -> StoreResult<bool> {
        self.write(move |t| {
            let done = t
                .prepare_cached("UPDATE sessions SET last_active_at = CASE WHEN last_active_at < ?1 THEN ?1 ELSE last_active_at END WHERE id = ?2 AND generation = ?3 AND revoked_at IS NULL")?
                .execute(params![at, id.to_string(), generation])?;
            t.commit()?;
            Ok(done == 1)
        })
        .await
    }

    async fn revoke_sessions(
        &self,
        selector: &SessionSelector,
        at: i64,
        reason: &str,
        event: &Event,
    ) -> StoreResult<Vec<Uuid>> {
        let (selector, reason, event) = (selector.clone(), reason.to_owned(), event.clone());
        self.write(move |t| {
            // One statement marks and returns exactly the sessions this call revoked, so two
            // concurrent revocations never both record the same session.
            let pairs = |r: &Row<'_>| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?));
            let rows: Vec<(String, String)> = match &selector {
                SessionSelector::One(id) => t
                    .prepare("UPDATE sessions SET revoked_at = ?1, revoke_reason = ?2 WHERE id = ?3 AND revoked_at IS NULL RETURNING id, user_id")?
                    .query_map(params![at, reason, id.to_string()], pairs)?
                    .collect::<rusqlite::Result<_>>()?,
                SessionSelector::User { user_id, except } => t
                    .prepare("UPDATE sessions SET revoked_at = ?1, revoke_reason = ?2 WHERE user_id = ?3 AND revoked_at IS NULL AND id IS DISTINCT FROM ?4 RETURNING id, user_id")?
                    .query_map(params![at, reason, user_id.to_string(), except.map(|e| e.to_string())], pairs)?
                    .collect::<rusqlite::Result<_>>()?,
            };
            let mut ids = Vec::with_capacity(rows.len());
            for (id, user_id) in rows {
                let id = uuid(&id).map_err(corrupt)?;
                let user_id = uuid(&user_id).map_err(corrupt)?;
                insert_revocation(&t, &RevocationTarget::Session { session_id: id }, at)?;
                let e = Event {
                    id: tessera_core::model::new_id(),
                    session_id: Some(id),
                    user_id: event.user_id.or(Some(user_id)),
                    detail: serde_json::json!({"reason": reason}),
                    ..event.clone()
                };
                insert_event(&t, &e)?;
                ids.push(id);
            }
            t.commit()?;
            ids.sort();
            Ok(ids)
        })
        .await
    }

    async fn revoke_bulk(
        &self,
        selector: &BulkSelector,
        at: i64,
        reason: &str,
        event: &Event,
    ) -> StoreResult<u64> {
        let (selector, reason, event) = (selector.clone(), reason.to_owned(), event.clone());
        self.write(move |t| {
            let n = match &selector {
                BulkSelector::Namespace(ns) => t.execute("UPDATE sessions SET revoked_at = ?1, revoke_reason = ?2 WHERE revoked_at IS NULL AND namespace = ?3", params![at, reason, ns])?,
                BulkSelector::User { user_id, namespace } => t.execute("UPDATE sessions SET revoked_at = ?1, revoke_reason = ?2 WHERE revoked_at IS NULL AND user_id = ?3 AND (?4 IS NULL OR namespace = ?4)", params![at, reason, user_id.to_string(), namespace])?,
                BulkSelector::All => t.execute("UPDATE sessions SET revoked_at = ?1, revoke_reason = ?2 WHERE revoked_at IS NULL", params![at, reason])?,
            } as u64;
            insert_revocation(&t, &selector.target(), at)?;
            let e = Event {
                detail: serde_json::json!({"reason": reason, "revoked": n}),
                ..event
            };
            insert_event(&t, &e)?;
            t.commit()?;
            Ok(n)
        })
        .await
    }

    async fn live_sessions(&self, user_id: Uuid, now: i64) -> StoreResult<Vec<Session>> {
        self.read(|c| {
            c.prepare_cached(&format!("SELECT {SESSION_COLUMNS} FROM sessions WHERE user_id = ?1 AND revoked_at IS NULL AND expires_at > ?2 ORDER BY last_active_at DESC, id DESC"))?
                .query_map(params![user_id.to_string(), now], session_from)?
                .collect()
        })
    }
}

#[async_trait]
impl RevocationStore for SqliteStore {
    async fn record_revocation(&self, target: &RevocationTarget, at: i64) -> StoreResult<i64> {
        let target = target.clone();
        self.write(move |t| {
            let seq = insert_revocation(&t, &target, at)?;
            t.commit()?;
            Ok(seq)
        })
        .await
    }

    async fn revocations(
        &self,
        after_seq: i64,
        min_at: i64,
        limit: i64,
    ) -> StoreResult<Vec<Revocation>> {
        self.read(|c| {
            c.prepare_cached("SELECT seq, kind, target, at FROM revocations WHERE seq > ?1 AND at >= ?2 ORDER BY seq LIMIT ?3")?
                .query_map(params![after_seq, min_at, limit], |row| {
                    Ok(Revocation {
                        seq: row.get("seq")?,
                        target: revocation_target(&row.get::<_, String>("kind")?, row.get("target")?)
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
            c.prepare_cached("SELECT kid, alg, state, created_at, activated_at, retired_at, private_sealed FROM signing_keys")?
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
            let exists = t
                .prepare("SELECT kid FROM signing_keys WHERE alg = ?1 AND state = 'current'")?
                .exists([&alg])?;
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
            let retired = t.execute("UPDATE signing_keys SET state = 'retiring', retired_at = ?1 WHERE kid = ?2 AND alg = ?3 AND state = 'current'", params![at, expected, next.alg])?;
            if retired != 1 {
                return Ok(false);
            }
            let promoted = t.execute("UPDATE signing_keys SET state = 'current', activated_at = ?1 WHERE alg = ?2 AND state = 'next'", params![at, next.alg])?;
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
            c.prepare_cached("SELECT * FROM events WHERE (?1 IS NULL OR user_id = ?1) AND (?2 IS NULL OR type = ?2) ORDER BY at DESC, id DESC LIMIT ?3")?
                .query_map(params![user_id.map(|u| u.to_string()), kind, limit], event_from)?
                .collect()
        })
    }
}

#[async_trait]
impl Store for SqliteStore {
    async fn ping(&self) -> StoreResult<()> {
        self.read(|c| c.query_row("SELECT 1", [], |_| Ok(())))
    }
}
