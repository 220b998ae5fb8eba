//! The store traits on SQLite.
use async_trait::async_trait;
use sqlx::Row;
use tessera_core::model::{
    Event, KeyRecord, KeyState, Revocation, RevocationTarget, Rotation, Session, SessionSelector,
    User,
};
use tessera_core::store::*;
use uuid::Uuid;

use super::{SqliteStore, event_from, get, insert_event, map_err, session_from, user_from};
use crate::codec::{revocation_columns, revocation_target, roles_to_json, uuid};

const SESSION_COLUMNS: &str = "id, user_id, namespace, created_at, last_active_at, expires_at, absolute_expires_at, ip, user_agent, refresh_count, generation, secret_hash, prev_secret_hash, rotated_at, revoked_at, revoke_reason";

#[async_trait]
impl UserStore for SqliteStore {
    async fn create_user(&self, u: &User, event: &Event) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        sqlx::query("INSERT INTO users (id, email, password_hash, roles, banned, created_at, password_changed_at) VALUES (?, ?, ?, ?, ?, ?, ?)")
            .bind(u.id.to_string())
            .bind(&u.email)
            .bind(&u.password_hash)
            .bind(roles_to_json(&u.roles))
            .bind(u.banned as i64)
            .bind(u.created_at)
            .bind(u.password_changed_at)
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        insert_event(&mut tx, event).await?;
        tx.commit().await.map_err(map_err)
    }

    async fn user_by_email(&self, email: &str) -> StoreResult<Option<User>> {
        sqlx::query("SELECT * FROM users WHERE email = ?")
            .bind(email)
            .fetch_optional(&self.pool)
            .await
            .map_err(map_err)?
            .as_ref()
            .map(user_from)
            .transpose()
    }

    async fn user_by_id(&self, id: Uuid) -> StoreResult<Option<User>> {
        sqlx::query("SELECT * FROM users WHERE id = ?")
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
        let done = sqlx::query("UPDATE users SET password_hash = ?, password_changed_at = COALESCE(?, password_changed_at) WHERE id = ?")
            .bind(hash)
            .bind(changed_at)
            .bind(id.to_string())
            .execute(&mut *tx)
            .await
            .map_err(map_err)?
            .rows_affected()
            == 1;
        if let (true, Some(e)) = (done, event) {
            insert_event(&mut tx, e).await?;
        }
        tx.commit().await.map_err(map_err)?;
        Ok(done)
    }
}

#[async_trait]
impl SessionStore for SqliteStore {
    async fn create_session(&self, s: &Session, event: &Event) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        sqlx::query("INSERT INTO sessions (id, user_id, namespace, created_at, last_active_at, expires_at, absolute_expires_at, ip, user_agent, refresh_count, generation, secret_hash, prev_secret_hash, rotated_at, revoked_at, revoke_reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
            .bind(s.id.to_string())
            .bind(s.user_id.to_string())
            .bind(&s.namespace)
            .bind(s.created_at)
            .bind(s.last_active_at)
            .bind(s.expires_at)
            .bind(s.absolute_expires_at)
            .bind(&s.ip)
            .bind(&s.user_agent)
            .bind(s.refresh_count)
            .bind(s.generation)
            .bind(&s.secret_hash)
            .bind(&s.prev_secret_hash)
            .bind(s.rotated_at)
            .bind(s.revoked_at)
            .bind(&s.revoke_reason)
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        insert_event(&mut tx, event).await?;
        tx.commit().await.map_err(map_err)
    }

    async fn session(&self, id: Uuid) -> StoreResult<Option<Session>> {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {SESSION_COLUMNS} FROM sessions WHERE id = ?"
        )))
        .bind(id.to_string())
        .fetch_optional(&self.pool)
        .await
        .map_err(map_err)?
        .as_ref()
        .map(session_from)
        .transpose()
    }

    async fn rotate_session(
        &self,
        id: Uuid,
        from_generation: i64,
        r: &Rotation,
        event: &Event,
    ) -> StoreResult<bool> {
        let mut tx = self.begin().await?;
        let won = sqlx::query("UPDATE sessions SET generation = ?, secret_hash = ?, prev_secret_hash = ?, rotated_at = ?, last_active_at = ?, expires_at = ?, refresh_count = ? WHERE id = ? AND generation = ? AND revoked_at IS NULL")
            .bind(r.generation)
            .bind(&r.secret_hash)
            .bind(&r.prev_secret_hash)
            .bind(r.rotated_at)
            .bind(r.rotated_at)
            .bind(r.expires_at)
            .bind(r.refresh_count)
            .bind(id.to_string())
            .bind(from_generation)
            .execute(&mut *tx)
            .await
            .map_err(map_err)?
            .rows_affected()
            == 1;
        if won {
            insert_event(&mut tx, event).await?;
        }
        tx.commit().await.map_err(map_err)?;
        Ok(won)
    }

    async fn touch_session(&self, id: Uuid, generation: i64, at: i64) -> StoreResult<bool> {
        let done = sqlx::query("UPDATE sessions SET last_active_at = MAX(last_active_at, ?) WHERE id = ? AND generation = ? AND revoked_at IS NULL")
            .bind(at)
            .bind(id.to_string())
            .bind(generation)
            .execute(&self.pool)
            .await
            .map_err(map_err)?
            .rows_affected();
        Ok(done == 1)
    }

    async fn revoke_sessions(
        &self,
        selector: &SessionSelector,
        at: i64,
        reason: &str,
        event: &Event,
    ) -> StoreResult<Vec<Uuid>> {
        let mut tx = self.begin().await?;
        let rows = match selector {
            SessionSelector::One(id) => sqlx::query("SELECT id, user_id FROM sessions WHERE id = ? AND revoked_at IS NULL")
                .bind(id.to_string())
                .fetch_all(&mut *tx)
                .await,
            SessionSelector::User { user_id, except } => sqlx::query("SELECT id, user_id FROM sessions WHERE user_id = ? AND revoked_at IS NULL AND id IS NOT ? ORDER BY id")
                .bind(user_id.to_string())
                .bind(except.map(|e| e.to_string()))
                .fetch_all(&mut *tx)
                .await,
        }
        .map_err(map_err)?;
        let mut ids = Vec::with_capacity(rows.len());
        for row in &rows {
            let id: String = get(row, "id")?;
            let user_id = uuid(&get::<String>(row, "user_id")?)?;
            sqlx::query("UPDATE sessions SET revoked_at = ?, revoke_reason = ? WHERE id = ?")
                .bind(at)
                .bind(reason)
                .bind(&id)
                .execute(&mut *tx)
                .await
                .map_err(map_err)?;
            sqlx::query("INSERT INTO revocations (kind, target, at) VALUES ('session', ?, ?)")
                .bind(&id)
                .bind(at)
                .execute(&mut *tx)
                .await
                .map_err(map_err)?;
            let id = uuid(&id)?;
            let e = Event {
                id: tessera_core::model::new_id(),
                session_id: Some(id),
                user_id: event.user_id.or(Some(user_id)),
                detail: serde_json::json!({"reason": reason}),
                ..event.clone()
            };
            insert_event(&mut tx, &e).await?;
            ids.push(id);
        }
        tx.commit().await.map_err(map_err)?;
        Ok(ids)
    }

    async fn live_sessions(&self, user_id: Uuid, now: i64) -> StoreResult<Vec<Session>> {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {SESSION_COLUMNS} FROM sessions WHERE user_id = ? AND revoked_at IS NULL AND expires_at > ? ORDER BY last_active_at DESC, id DESC"
        )))
        .bind(user_id.to_string())
        .bind(now)
        .fetch_all(&self.pool)
        .await
        .map_err(map_err)?
        .iter()
        .map(session_from)
        .collect()
    }
}

#[async_trait]
impl RevocationStore for SqliteStore {
    async fn record_revocation(&self, target: &RevocationTarget, at: i64) -> StoreResult<i64> {
        let (kind, target) = revocation_columns(target);
        let row = sqlx::query(
            "INSERT INTO revocations (kind, target, at) VALUES (?, ?, ?) RETURNING seq",
        )
        .bind(kind)
        .bind(target)
        .bind(at)
        .fetch_one(&self.pool)
        .await
        .map_err(map_err)?;
        get(&row, "seq")
    }

    async fn revocations(
        &self,
        after_seq: i64,
        min_at: i64,
        limit: i64,
    ) -> StoreResult<Vec<Revocation>> {
        sqlx::query("SELECT seq, kind, target, at FROM revocations WHERE seq > ? AND at >= ? ORDER BY seq LIMIT ?")
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
impl KeyStore for SqliteStore {
    async fn keys(&self) -> StoreResult<Vec<KeyRecord>> {
        sqlx::query(
            "SELECT kid, alg, state, created_at, retired_at, private_sealed FROM signing_keys",
        )
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
                retired_at: get(row, "retired_at")?,
                private_sealed: get(row, "private_sealed")?,
            })
        })
        .collect()
    }

    async fn init_keys(&self, alg: &str, keys: &[KeyRecord]) -> StoreResult<bool> {
        let mut tx = self.begin().await?;
        let existing =
            sqlx::query("SELECT 1 FROM signing_keys WHERE alg = ? AND state = 'current'")
                .bind(alg)
                .fetch_optional(&mut *tx)
                .await
                .map_err(map_err)?;
        if existing.is_some() {
            return Ok(false);
        }
        for k in keys {
            sqlx::query("INSERT INTO signing_keys (kid, alg, state, created_at, retired_at, private_sealed) VALUES (?, ?, ?, ?, ?, ?)")
                .bind(&k.kid)
                .bind(&k.alg)
                .bind(k.state.as_str())
                .bind(k.created_at)
                .bind(k.retired_at)
                .bind(&k.private_sealed)
                .execute(&mut *tx)
                .await
                .map_err(map_err)?;
        }
        tx.commit().await.map_err(map_err)?;
        Ok(true)
    }
}

#[async_trait]
impl EventStore for SqliteStore {
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
        sqlx::query("SELECT * FROM events WHERE (? IS NULL OR user_id = ?) AND (? IS NULL OR type = ?) ORDER BY at DESC, id DESC LIMIT ?")
            .bind(user_id.map(|u| u.to_string()))
            .bind(user_id.map(|u| u.to_string()))
            .bind(kind)
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
impl Store for SqliteStore {
    async fn ping(&self) -> StoreResult<()> {
        let row = sqlx::query("SELECT 1 AS one")
            .fetch_one(&self.pool)
            .await
            .map_err(map_err)?;
        let _: i64 = row.try_get("one").map_err(map_err)?;
        Ok(())
    }
}
