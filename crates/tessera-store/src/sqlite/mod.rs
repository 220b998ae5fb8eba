//! The embedded SQLite store: one file in WAL mode, `synchronous = NORMAL`, and `BEGIN IMMEDIATE`
//! for every read-modify-write so concurrent writers queue on the lock instead of failing late.
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{Sqlite, Transaction};
use tessera_core::model::Revocation;
use tessera_core::store::{StoreError, StoreResult};

use crate::{map_err, unix_ms};

/// Embedded migrations: (version, SQL). Applied in order, each once, in its own transaction.
const MIGRATIONS: &[(i64, &str)] = &[(1, include_str!("../../migrations/sqlite/0001_init.sql"))];

/// See the module docs.
#[derive(Clone)]
pub struct SqliteStore {
    /// Readers (WAL lets them run beside the writer).
    pool: SqlitePool,
    /// The one writer. SQLite allows one write transaction at a time; queueing writers here, on
    /// an async pool, hands the lock over at once, where SQLite's own busy handler would make
    /// them sleep and retry (in steps of up to 100 ms).
    writer: SqlitePool,
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
            .map_err(map_err)?
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(5));
        // No ping before each acquire: an embedded connection cannot go stale, and every ping is
        // a round trip to the connection's worker thread (a context switch each way).
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .test_before_acquire(false)
            .acquire_timeout(Duration::from_secs(5))
            .connect_with(options.clone())
            .await
            .map_err(map_err)?;
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .test_before_acquire(false)
            .acquire_timeout(Duration::from_secs(5))
            .connect_with(options)
            .await
            .map_err(map_err)?;
        Ok(SqliteStore { pool, writer })
    }

    /// Applies the embedded migrations that are not applied yet. Idempotent and quick.
    pub async fn migrate(&self) -> StoreResult<()> {
        sqlx::query("CREATE TABLE IF NOT EXISTS tessera_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)")
            .execute(&self.writer)
            .await
            .map_err(map_err)?;
        for (version, sql) in MIGRATIONS {
            let mut tx = self.begin().await?;
            let done = sqlx::query("SELECT version FROM tessera_migrations WHERE version = $1")
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
            sqlx::query("INSERT INTO tessera_migrations (version, applied_at) VALUES ($1, $2)")
                .bind(version)
                .bind(unix_ms())
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
        self.writer.close().await;
    }

    async fn begin(&self) -> StoreResult<Transaction<'static, Sqlite>> {
        self.writer
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(map_err)
    }

    /// Where single write statements go.
    fn writes(&self) -> &SqlitePool {
        &self.writer
    }

    /// Nothing to do: with one file there is one writer, and every node polls the feed.
    async fn after_revocation(
        &self,
        _: &mut Transaction<'static, Sqlite>,
        _: &Revocation,
    ) -> StoreResult<()> {
        Ok(())
    }
}

crate::sql::sql_store!(SqliteStore, sqlx::Sqlite, sqlx::sqlite::SqliteRow);
