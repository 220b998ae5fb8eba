//! The embedded SQLite store: one file in WAL mode, `synchronous = NORMAL`, and `BEGIN IMMEDIATE`
//! for every read-modify-write so concurrent writers queue on the lock instead of failing late.
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};
use sqlx::{Row, Sqlite, Transaction};
use tessera_core::model::{Event, Session, User};
use tessera_core::store::{StoreError, StoreResult};

use crate::codec::{opt_uuid, roles_from_json, uuid};

mod impls;

/// Embedded migrations: (version, SQL). Applied in order, each once, in its own transaction.
const MIGRATIONS: &[(i64, &str)] = &[(1, include_str!("../../migrations/sqlite/0001_init.sql"))];

/// See the module docs.
#[derive(Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
}

impl SqliteStore {
    /// Opens (creating if needed) the database file. Call [`SqliteStore::migrate`] before use.
    pub async fn open(path: &Path) -> StoreResult<Self> {
        if let Some(dir) = path
            .parent()
            .filter(|d| !d.as_os_str().is_empty() && !d.exists())
        {
            // The directory holds password hashes and sealed keys: owner only.
            use std::os::unix::fs::DirBuilderExt;
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .map_err(|e| {
                    StoreError::Unavailable(format!("cannot create {}: {e}", dir.display()))
                })?;
        }
        let options = SqliteConnectOptions::from_str("sqlite:")
            .map_err(unavailable)?
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(5));
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .acquire_timeout(Duration::from_secs(5))
            .connect_with(options)
            .await
            .map_err(unavailable)?;
        Ok(SqliteStore { pool })
    }

    /// Applies the embedded migrations that are not applied yet. Idempotent and quick.
    pub async fn migrate(&self) -> StoreResult<()> {
        sqlx::query(
            "CREATE TABLE IF NOT EXISTS tessera_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)",
        )
        .execute(&self.pool)
        .await
        .map_err(map_err)?;
        for (version, sql) in MIGRATIONS {
            let mut tx = self.begin().await?;
            let done: Option<i64> =
                sqlx::query_scalar("SELECT version FROM tessera_migrations WHERE version = ?")
                    .bind(version)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(map_err)?;
            if done.is_some() {
                continue;
            }
            sqlx::raw_sql(*sql)
                .execute(&mut *tx)
                .await
                .map_err(map_err)?;
            sqlx::query("INSERT INTO tessera_migrations (version, applied_at) VALUES (?, strftime('%s','now'))")
                .bind(version)
                .execute(&mut *tx)
                .await
                .map_err(map_err)?;
            tx.commit().await.map_err(map_err)?;
            tracing::info!(version, "applied SQLite migration");
        }
        Ok(())
    }

    /// Closes the pool (checkpointing the WAL).
    pub async fn close(&self) {
        self.pool.close().await;
    }

    async fn begin(&self) -> StoreResult<Transaction<'static, Sqlite>> {
        self.pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(map_err)
    }
}

fn unavailable(e: sqlx::Error) -> StoreError {
    StoreError::Unavailable(e.to_string())
}

/// Unique violations are conflicts; rows that do not decode are corrupt; the rest (busy, I/O,
/// pool timeouts) is the store being unavailable, which the server answers with a retryable 503.
pub(crate) fn map_err(e: sqlx::Error) -> StoreError {
    match &e {
        sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Conflict,
        sqlx::Error::ColumnDecode { .. }
        | sqlx::Error::Decode(_)
        | sqlx::Error::ColumnNotFound(_) => StoreError::Corrupt(e.to_string()),
        _ => StoreError::Unavailable(e.to_string()),
    }
}

fn get<'r, T: sqlx::Decode<'r, Sqlite> + sqlx::Type<Sqlite>>(
    row: &'r SqliteRow,
    col: &str,
) -> StoreResult<T> {
    row.try_get(col).map_err(map_err)
}

fn user_from(row: &SqliteRow) -> StoreResult<User> {
    Ok(User {
        id: uuid(&get::<String>(row, "id")?)?,
        email: get(row, "email")?,
        password_hash: get(row, "password_hash")?,
        roles: roles_from_json(&get::<String>(row, "roles")?)?,
        banned: get::<i64>(row, "banned")? != 0,
        created_at: get(row, "created_at")?,
        password_changed_at: get(row, "password_changed_at")?,
    })
}

fn session_from(row: &SqliteRow) -> StoreResult<Session> {
    Ok(Session {
        id: uuid(&get::<String>(row, "id")?)?,
        user_id: uuid(&get::<String>(row, "user_id")?)?,
        namespace: get(row, "namespace")?,
        created_at: get(row, "created_at")?,
        last_active_at: get(row, "last_active_at")?,
        expires_at: get(row, "expires_at")?,
        absolute_expires_at: get(row, "absolute_expires_at")?,
        ip: get(row, "ip")?,
        user_agent: get(row, "user_agent")?,
        refresh_count: get(row, "refresh_count")?,
        generation: get(row, "generation")?,
        secret_hash: get(row, "secret_hash")?,
        prev_secret_hash: get(row, "prev_secret_hash")?,
        rotated_at: get(row, "rotated_at")?,
        revoked_at: get(row, "revoked_at")?,
        revoke_reason: get(row, "revoke_reason")?,
    })
}

fn event_from(row: &SqliteRow) -> StoreResult<Event> {
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

/// Inserts an event inside the caller's transaction.
async fn insert_event(tx: &mut Transaction<'static, Sqlite>, e: &Event) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO events (id, type, at, user_id, session_id, ip, user_agent, detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(e.id.to_string())
    .bind(&e.kind)
    .bind(e.at)
    .bind(e.user_id.map(|u| u.to_string()))
    .bind(e.session_id.map(|u| u.to_string()))
    .bind(&e.ip)
    .bind(&e.user_agent)
    .bind(e.detail.to_string())
    .execute(&mut **tx)
    .await
    .map_err(map_err)?;
    Ok(())
}
