//! The PostgreSQL store, for production and for several nodes sharing one database.
//!
//! Same statements as SQLite (`../sql.rs`), bound in `store.rs`. Differences: migrations take an advisory lock so
//! nodes starting together apply them once, and every revocation also sends
//! `NOTIFY tessera_revocations` inside its transaction, delivered to listening nodes on commit.
use std::time::Duration;

pub use sqlx::postgres::PgPool;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{Postgres, Transaction};
use tessera_core::model::Revocation;
use tessera_core::store::StoreResult;

use crate::{map_err, unix_ms};

mod factors;
mod listen;
mod mail;
mod sessions;
mod store;
pub use listen::PgNotify;

/// The channel revocations are announced on.
pub const REVOCATION_CHANNEL: &str = "tessera_revocations";
/// Any fixed number: the advisory lock that serialises migrations across nodes.
const MIGRATION_LOCK: i64 = 0x7e55_e7a0;
/// Another: revocation feed inserts, one transaction at a time (see `before_revocation`).
const FEED_ORDER_LOCK: i64 = 0x7e55_e7a1;

const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("../../migrations/postgres/0001_init.sql")),
    (
        2,
        include_str!("../../migrations/postgres/0002_app_sessions.sql"),
    ),
    (3, include_str!("../../migrations/postgres/0003_email.sql")),
    (
        4,
        include_str!("../../migrations/postgres/0004_revocation_kinds.sql"),
    ),
    (
        5,
        include_str!("../../migrations/postgres/0005_factors.sql"),
    ),
    (
        6,
        include_str!("../../migrations/postgres/0006_passkeys.sql"),
    ),
    (7, include_str!("../../migrations/postgres/0007_dpop.sql")),
];

/// See the module docs.
#[derive(Clone)]
pub struct PostgresStore {
    pool: PgPool,
}

impl PostgresStore {
    /// Connects with the given options (URL, plus e.g. a `search_path` for tests).
    pub async fn connect(options: PgConnectOptions) -> StoreResult<Self> {
        // No ping before each acquire (sqlx's default): it is a round trip per query. A connection
        // that died with the server fails its next query (a 503) and is dropped by the pool.
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .test_before_acquire(false)
            .acquire_timeout(Duration::from_secs(3))
            .connect_with(options)
            .await
            .map_err(map_err)?;
        Ok(PostgresStore { pool })
    }

    /// The transport that listens for this database's revocation notices.
    pub fn notifications(&self) -> PgNotify {
        PgNotify::new(self.pool.clone())
    }

    /// Applies the embedded migrations that are not applied yet, once across all nodes.
    pub async fn migrate(&self) -> StoreResult<()> {
        let mut tx = self.pool.begin().await.map_err(map_err)?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(MIGRATION_LOCK)
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        sqlx::query("CREATE TABLE IF NOT EXISTS tessera_migrations (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)")
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        for (version, sql) in MIGRATIONS {
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
            tracing::info!(version, "applied PostgreSQL migration");
        }
        tx.commit().await.map_err(map_err)
    }

    async fn begin(&self) -> StoreResult<Transaction<'static, Postgres>> {
        self.pool.begin().await.map_err(map_err)
    }

    /// Where single write statements go.
    fn writes(&self) -> &PgPool {
        &self.pool
    }

    /// Makes feed records visible in sequence order. PostgreSQL hands out identity values before
    /// commit, so without this a reader could see seq 8 while seq 7 is still uncommitted, and a
    /// cursor at 8 would skip 7 for good. Every revoking transaction takes this lock before its
    /// first feed insert and keeps it to commit, so seq order is commit order. Revocations are
    /// rare, readers never wait, and the lock is taken after the transaction's row locks, so it
    /// cannot deadlock with them.
    async fn before_revocation(&self, tx: &mut Transaction<'static, Postgres>) -> StoreResult<()> {
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(FEED_ORDER_LOCK)
            .execute(&mut **tx)
            .await
            .map_err(map_err)?;
        Ok(())
    }

    /// Announces the revocation to listening nodes; PostgreSQL delivers it only if and when the
    /// transaction commits, so no node ever hears of a revocation that did not happen.
    async fn after_revocation(
        &self,
        tx: &mut Transaction<'static, Postgres>,
        r: &Revocation,
    ) -> StoreResult<()> {
        sqlx::query("SELECT pg_notify($1, $2)")
            .bind(REVOCATION_CHANNEL)
            .bind(r.seq.to_string())
            .execute(&mut **tx)
            .await
            .map_err(map_err)?;
        Ok(())
    }
}
