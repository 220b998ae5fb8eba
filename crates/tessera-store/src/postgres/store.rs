//! The store traits on PostgreSQL, through sqlx. The statements are `crate::sql`'s, shared with
//! SQLite; this file only binds them and reads rows back.
use async_trait::async_trait;
use sqlx::Postgres;
use sqlx::Row as _;
use sqlx::postgres::PgRow;
use tessera_core::claims::claims_fit;
use tessera_core::model::{
    Claims, Event, KeyRecord, KeyState, Revocation, RevocationTarget, Revoked, Role, Session,
    TokenMail, User,
};
use tessera_core::store::*;
use uuid::Uuid;

use crate::codec::{
    claims_from_json, claims_to_json, opt_uuid, revocation_columns, revocation_target,
    roles_from_json, roles_to_json, uuid,
};
use crate::map_err;
use crate::sql::{self as S, cutoff};

use super::PostgresStore;
use super::mail::{end_reset_tokens, insert_token_mail};

pub(super) fn get<'r, T: sqlx::Decode<'r, Postgres> + sqlx::Type<Postgres>>(
    row: &'r PgRow,
    col: &str,
) -> StoreResult<T> {
    row.try_get(col).map_err(map_err)
}

/// A user row's columns as `users` names them, and as [`S::SESSION_WITH_USER`] does.
const USER_COLUMNS: [&str; 9] = [
    "id",
    "email",
    "password_hash",
    "roles",
    "banned",
    "created_at",
    "password_changed_at",
    "claims",
    "email_verified",
];
const JOINED_USER_COLUMNS: [&str; 9] = [
    "u_id",
    "u_email",
    "u_password_hash",
    "u_roles",
    "u_banned",
    "u_created_at",
    "u_password_changed_at",
    "u_claims",
    "u_email_verified",
];

pub(super) fn user_from(row: &PgRow) -> StoreResult<User> {
    user_from_columns(row, &USER_COLUMNS)
}

fn user_from_columns(row: &PgRow, c: &[&str; 9]) -> StoreResult<User> {
    Ok(User {
        id: uuid(&get::<String>(row, c[0])?)?,
        email: get(row, c[1])?,
        password_hash: get(row, c[2])?,
        roles: roles_from_json(&get::<String>(row, c[3])?)?,
        banned: get(row, c[4])?,
        created_at: get(row, c[5])?,
        password_changed_at: get(row, c[6])?,
        claims: claims_from_json(&get::<String>(row, c[7])?)?,
        email_verified: get(row, c[8])?,
        mfa: Vec::new(),
    })
}

pub(super) fn event_from(row: &PgRow) -> StoreResult<Event> {
    Ok(Event {
        id: uuid(&get::<String>(row, "id")?)?,
        kind: get(row, "type")?,
        at: get(row, "at")?,
        user_id: opt_uuid(get(row, "user_id")?)?,
        session_id: opt_uuid(get(row, "session_id")?)?,
        ip: get(row, "ip")?,
        user_agent: get(row, "user_agent")?,
        detail: serde_json::from_str(&get::<String>(row, "detail")?)
            .map_err(|_| StoreError::Corrupt("bad event detail".into()))?,
    })
}

/// Binds an event's eight columns, in `events` column order, after what `q` has bound.
pub(super) fn bind_event<'q>(
    q: sqlx::query::Query<'q, Postgres, <Postgres as sqlx::Database>::Arguments>,
    e: &Event,
) -> sqlx::query::Query<'q, Postgres, <Postgres as sqlx::Database>::Arguments> {
    q.bind(e.id.to_string())
        .bind(&e.kind)
        .bind(e.at)
        .bind(e.user_id.map(|u| u.to_string()))
        .bind(e.session_id.map(|u| u.to_string()))
        .bind(&e.ip)
        .bind(&e.user_agent)
        .bind(e.detail.to_string())
}

/// Locks the user's row until the transaction ends; its claims (`None`: no such user).
pub(super) async fn lock_user_claims(
    tx: &mut sqlx::Transaction<'static, Postgres>,
    id: Uuid,
) -> StoreResult<Option<Claims>> {
    let row = sqlx::query(S::LOCK_USER_CLAIMS.pg)
        .bind(id.to_string())
        .fetch_optional(&mut **tx)
        .await
        .map_err(map_err)?;
    row.map(|r| claims_from_json(&get::<String>(&r, "claims")?))
        .transpose()
}

/// The "update, event" step of a change: runs `update`, and if it changed exactly one row,
/// writes `event` in the same transaction. Whether it changed one. The caller commits.
pub(super) async fn update_with_event(
    tx: &mut sqlx::Transaction<'static, Postgres>,
    update: sqlx::query::Query<'_, Postgres, sqlx::postgres::PgArguments>,
    event: Option<&Event>,
) -> StoreResult<bool> {
    let one = update
        .execute(&mut **tx)
        .await
        .map_err(map_err)?
        .rows_affected()
        == 1;
    if let (true, Some(e)) = (one, event) {
        insert_event(tx, e).await?;
    }
    Ok(one)
}

pub(super) async fn insert_event(
    tx: &mut sqlx::Transaction<'static, Postgres>,
    e: &Event,
) -> StoreResult<()> {
    bind_event(sqlx::query(S::INSERT_EVENT.pg), e)
        .execute(&mut **tx)
        .await
        .map_err(map_err)?;
    Ok(())
}

#[async_trait]
impl UserStore for PostgresStore {
    async fn create_user(
        &self,
        u: &User,
        event: &Event,
        verification: Option<&TokenMail>,
    ) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        sqlx::query(S::INSERT_USER.pg)
            .bind(u.id.to_string())
            .bind(&u.email)
            .bind(&u.password_hash)
            .bind(roles_to_json(&u.roles))
            .bind(u.banned)
            .bind(u.created_at)
            .bind(u.password_changed_at)
            .bind(claims_to_json(&u.claims))
            .bind(u.email_verified)
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        insert_event(&mut tx, event).await?;
        if let Some(v) = verification {
            insert_token_mail(&mut tx, v).await?;
        }
        tx.commit().await.map_err(map_err)
    }

    async fn user_by_email(&self, email: &str) -> StoreResult<Option<User>> {
        sqlx::query(S::USER_BY_EMAIL.pg)
            .bind(email)
            .fetch_optional(&self.pool)
            .await
            .map_err(map_err)?
            .as_ref()
            .map(user_from)
            .transpose()
    }

    async fn user_by_id(&self, id: Uuid) -> StoreResult<Option<User>> {
        sqlx::query(S::USER_BY_ID.pg)
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await
            .map_err(map_err)?
            .as_ref()
            .map(user_from)
            .transpose()
    }

    async fn set_password_hash(
        &self,
        id: Uuid,
        hash: &str,
        changed_at: Option<i64>,
        event: Option<&Event>,
    ) -> StoreResult<bool> {
        let mut tx = self.begin().await?;
        let update = sqlx::query(S::SET_PASSWORD_HASH.pg)
            .bind(hash)
            .bind(changed_at)
            .bind(id.to_string());
        let done = update_with_event(&mut tx, update, event).await?;
        if let (true, Some(at)) = (done, changed_at) {
            // A reset link mailed before the change must not undo it.
            end_reset_tokens(&mut tx, id, at).await?;
        }
        tx.commit().await.map_err(map_err)?;
        Ok(done)
    }

    async fn users(&self, limit: i64) -> StoreResult<Vec<User>> {
        sqlx::query(S::USERS.pg)
            .bind(limit)
            .fetch_all(&self.pool)
            .await
            .map_err(map_err)?
            .iter()
            .map(user_from)
            .collect()
    }

    async fn delete_user(&self, id: Uuid, at: i64, event: &Event) -> StoreResult<Option<Revoked>> {
        let mut tx = self.begin().await?;
        // The sessions first: deleting the user would cascade to them unseen.
        let sessions = sqlx::query(S::DELETE_USER_SESSIONS.pg)
            .bind(id.to_string())
            .fetch_all(&mut *tx)
            .await
            .map_err(map_err)?;
        let deleted = sqlx::query(S::DELETE_USER.pg)
            .bind(id.to_string())
            .execute(&mut *tx)
            .await
            .map_err(map_err)?
            .rows_affected()
            == 1;
        if !deleted {
            return Ok(None);
        }
        let mut live = 0;
        let mut stamps = Vec::with_capacity(sessions.len());
        for row in &sessions {
            stamps.push(get::<i64>(row, "last_active_at")?);
            live += u64::from(get::<Option<i64>>(row, "revoked_at")?.is_none());
        }
        let target = RevocationTarget::User { user_id: id };
        let record = insert_revocation(self, &mut tx, &target, cutoff(at, stamps)).await?;
        insert_event(&mut tx, event).await?;
        tx.commit().await.map_err(map_err)?;
        Ok(Some(Revoked {
            sessions: live,
            records: vec![record],
        }))
    }

    async fn set_user_roles(&self, id: Uuid, roles: &[String]) -> StoreResult<bool> {
        let done = sqlx::query(S::SET_USER_ROLES.pg)
            .bind(roles_to_json(roles))
            .bind(id.to_string())
            .execute(self.writes())
            .await
            .map_err(map_err)?
            .rows_affected();
        Ok(done == 1)
    }

    async fn set_banned(&self, id: Uuid, banned: bool, event: &Event) -> StoreResult<bool> {
        let mut tx = self.begin().await?;
        let update = sqlx::query(S::SET_BANNED.pg)
            .bind(banned)
            .bind(id.to_string());
        let done = update_with_event(&mut tx, update, Some(event)).await?;
        if done && banned {
            // A banned user's reset link must not reopen the account.
            end_reset_tokens(&mut tx, id, event.at).await?;
        }
        tx.commit().await.map_err(map_err)?;
        Ok(done)
    }

    async fn set_user_claims(&self, id: Uuid, claims: &Claims, now: i64) -> StoreResult<bool> {
        let mut tx = self.begin().await?;
        // Sessions being opened for the user wait for this lock, and this waits for them: each
        // side sees the other's committed claims (PostgreSQL re-reads after a lock wait).
        if lock_user_claims(&mut tx, id).await?.is_none() {
            return Ok(false);
        }
        let sessions = sqlx::query(S::LIVE_SESSION_CLAIMS.pg)
            .bind(id.to_string())
            .bind(now)
            .fetch_all(&mut *tx)
            .await
            .map_err(map_err)?;
        for row in &sessions {
            if !claims_fit(claims, &claims_from_json(&get::<String>(row, "claims")?)?) {
                return Err(StoreError::ClaimsTooLarge);
            }
        }
        let done = sqlx::query(S::SET_USER_CLAIMS.pg)
            .bind(claims_to_json(claims))
            .bind(id.to_string())
            .execute(&mut *tx)
            .await
            .map_err(map_err)?
            .rows_affected();
        tx.commit().await.map_err(map_err)?;
        Ok(done == 1)
    }
}

#[async_trait]
impl RoleStore for PostgresStore {
    async fn roles(&self) -> StoreResult<Vec<Role>> {
        sqlx::query(S::ROLES.pg)
            .fetch_all(&self.pool)
            .await
            .map_err(map_err)?
            .iter()
            .map(|row| {
                Ok(Role {
                    name: get(row, "name")?,
                    permissions: roles_from_json(&get::<String>(row, "permissions")?)?,
                })
            })
            .collect()
    }

    async fn put_role(&self, role: &Role) -> StoreResult<()> {
        sqlx::query(S::PUT_ROLE.pg)
            .bind(&role.name)
            .bind(roles_to_json(&role.permissions))
            .execute(self.writes())
            .await
            .map_err(map_err)?;
        Ok(())
    }

    async fn delete_role(&self, name: &str) -> StoreResult<bool> {
        let mut tx = self.begin().await?;
        let deleted = sqlx::query(S::DELETE_ROLE.pg)
            .bind(name)
            .execute(&mut *tx)
            .await
            .map_err(map_err)?
            .rows_affected()
            == 1;
        if !deleted {
            return Ok(false);
        }
        // Roles are a JSON array per user; rewrite the users that carry this one.
        let quoted = serde_json::to_string(name).expect("a string serializes");
        let holders = sqlx::query(S::ROLE_HOLDERS.pg)
            .bind(&quoted)
            .fetch_all(&mut *tx)
            .await
            .map_err(map_err)?;
        for row in &holders {
            let id: String = get(row, "id")?;
            let mut roles = roles_from_json(&get::<String>(row, "roles")?)?;
            roles.retain(|r| r != name);
            sqlx::query(S::SET_USER_ROLES.pg)
                .bind(roles_to_json(&roles))
                .bind(id)
                .execute(&mut *tx)
                .await
                .map_err(map_err)?;
        }
        tx.commit().await.map_err(map_err)?;
        Ok(true)
    }
}

#[async_trait]
impl RevocationStore for PostgresStore {
    async fn record_revocation(&self, target: &RevocationTarget, at: i64) -> StoreResult<i64> {
        let mut tx = self.begin().await?;
        let record = insert_revocation(self, &mut tx, target, at).await?;
        tx.commit().await.map_err(map_err)?;
        Ok(record.seq)
    }

    async fn revocation_head(&self) -> StoreResult<i64> {
        sqlx::query_scalar(S::REVOCATION_HEAD.pg)
            .fetch_one(&self.pool)
            .await
            .map_err(map_err)
    }

    async fn revocations(
        &self,
        after_seq: i64,
        min_at: i64,
        limit: i64,
    ) -> StoreResult<Vec<Revocation>> {
        sqlx::query(S::REVOCATIONS.pg)
            .bind(after_seq)
            .bind(min_at)
            .bind(limit)
            .fetch_all(&self.pool)
            .await
            .map_err(map_err)?
            .iter()
            .map(|row| {
                Ok(Revocation {
                    seq: get(row, "seq")?,
                    target: revocation_target(&get::<String>(row, "kind")?, get(row, "target")?)?,
                    at: get(row, "at")?,
                })
            })
            .collect()
    }
}

#[async_trait]
impl KeyStore for PostgresStore {
    async fn keys(&self) -> StoreResult<Vec<KeyRecord>> {
        sqlx::query(S::KEYS.pg)
            .fetch_all(&self.pool)
            .await
            .map_err(map_err)?
            .iter()
            .map(|row| {
                Ok(KeyRecord {
                    kid: get(row, "kid")?,
                    alg: get(row, "alg")?,
                    state: KeyState::parse(&get::<String>(row, "state")?)
                        .ok_or_else(|| StoreError::Corrupt("bad key state".into()))?,
                    created_at: get(row, "created_at")?,
                    activated_at: get(row, "activated_at")?,
                    retired_at: get(row, "retired_at")?,
                    private_sealed: get(row, "private_sealed")?,
                })
            })
            .collect()
    }

    async fn init_keys(&self, alg: &str, keys: &[KeyRecord]) -> StoreResult<bool> {
        let mut tx = self.begin().await?;
        let existing = sqlx::query(S::CURRENT_KEY.pg)
            .bind(alg)
            .fetch_optional(&mut *tx)
            .await
            .map_err(map_err)?;
        if existing.is_some() {
            return Ok(false);
        }
        for k in keys {
            let inserted = insert_key(&mut tx, k).await;
            // The partial unique index allows one `current` key per algorithm: a node
            // that lost the race to initialise simply uses the winner's keys.
            match inserted {
                Ok(_) => {}
                Err(StoreError::Conflict) => return Ok(false),
                Err(e) => return Err(e),
            }
        }
        tx.commit().await.map_err(map_err)?;
        Ok(true)
    }

    async fn rotate_keys(
        &self,
        expected_current: &str,
        new_next: &KeyRecord,
        at: i64,
        event: &Event,
    ) -> StoreResult<bool> {
        let mut tx = self.begin().await?;
        // Each step is conditional on the state it expects, so of two concurrent
        // rotations the second finds nothing to change and rolls back.
        let retired = sqlx::query(S::RETIRE_KEY.pg)
            .bind(at)
            .bind(expected_current)
            .bind(&new_next.alg)
            .execute(&mut *tx)
            .await
            .map_err(map_err)?
            .rows_affected();
        if retired != 1 {
            return Ok(false);
        }
        let promoted = sqlx::query(S::PROMOTE_KEY.pg)
            .bind(at)
            .bind(&new_next.alg)
            .execute(&mut *tx)
            .await
            .map_err(map_err)?
            .rows_affected();
        if promoted != 1 {
            return Ok(false);
        }
        insert_key(&mut tx, new_next).await?;
        insert_event(&mut tx, event).await?;
        tx.commit().await.map_err(map_err)?;
        Ok(true)
    }
}

/// Adds a record to the revocation feed inside `tx`, and lets the backend announce it.
pub(super) async fn insert_revocation(
    store: &PostgresStore,
    tx: &mut sqlx::Transaction<'static, Postgres>,
    target: &RevocationTarget,
    at: i64,
) -> StoreResult<Revocation> {
    store.before_revocation(tx).await?;
    let (kind, column) = revocation_columns(target);
    let seq: i64 = sqlx::query(S::INSERT_REVOCATION.pg)
        .bind(kind)
        .bind(column)
        .bind(at)
        .fetch_one(&mut **tx)
        .await
        .map_err(map_err)?
        .try_get("seq")
        .map_err(map_err)?;
    let revocation = Revocation {
        seq,
        target: target.clone(),
        at,
    };
    store.after_revocation(tx, &revocation).await?;
    Ok(revocation)
}

async fn insert_key(
    tx: &mut sqlx::Transaction<'static, Postgres>,
    k: &KeyRecord,
) -> StoreResult<()> {
    sqlx::query(S::INSERT_KEY.pg)
        .bind(&k.kid)
        .bind(&k.alg)
        .bind(k.state.as_str())
        .bind(k.created_at)
        .bind(k.activated_at)
        .bind(k.retired_at)
        .bind(&k.private_sealed)
        .execute(&mut **tx)
        .await
        .map_err(map_err)?;
    Ok(())
}

#[async_trait]
impl EventStore for PostgresStore {
    async fn record_event(&self, event: &Event) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        insert_event(&mut tx, event).await?;
        tx.commit().await.map_err(map_err)
    }

    async fn events(
        &self,
        user_id: Option<Uuid>,
        kind: Option<&str>,
        limit: i64,
    ) -> StoreResult<Vec<Event>> {
        sqlx::query(S::EVENTS.pg)
            .bind(user_id.map(|u| u.to_string()))
            .bind(kind)
            .bind(limit)
            .fetch_all(&self.pool)
            .await
            .map_err(map_err)?
            .iter()
            .map(event_from)
            .collect()
    }
}

#[async_trait]
impl Store for PostgresStore {
    async fn ping(&self) -> StoreResult<()> {
        sqlx::query(S::PING.pg)
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
        Ok(())
    }

    /// One statement, one round trip (the default reads twice).
    async fn session_with_user(&self, id: Uuid) -> StoreResult<Option<(Session, Option<User>)>> {
        let Some(row) = sqlx::query(S::SESSION_WITH_USER.pg)
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await
            .map_err(map_err)?
        else {
            return Ok(None);
        };
        let session = super::sessions::session_from(&row)?;
        let user = match get::<Option<String>>(&row, JOINED_USER_COLUMNS[0])? {
            Some(_) => Some(user_from_columns(&row, &JOINED_USER_COLUMNS)?),
            None => None,
        };
        Ok(Some((session, user)))
    }
}
