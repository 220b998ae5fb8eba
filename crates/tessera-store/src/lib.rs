//! Database stores for Tessera, behind the store traits of `tessera-core`.
//!
//! - [`sqlite::SqliteStore`] (feature `sqlite`, default): the embedded default, one file, WAL.
//! - [`postgres::PostgresStore`] (feature `postgres`, default): production, several nodes.
//! - the revocation transports (PostgreSQL `NOTIFY`, Redis pub/sub) and the Redis rate limiter.
//!
//! [`Backend::open`] opens what a configuration names; [`Backend::engine`] builds the engine.
//!
//! Queries are runtime SQL (no compile-time macros), and migrations are embedded in the binary
//! and idempotent, so a start on an existing database costs one small read.

#[cfg(feature = "sqlite")]
pub mod sqlite;

#[cfg(feature = "postgres")]
pub mod postgres;

#[cfg(any(feature = "redis", feature = "postgres"))]
pub mod bus;
mod codec;
#[cfg(feature = "redis")]
pub mod ratelimit;
#[cfg(any(feature = "postgres", feature = "sqlite"))]
mod sql;

use std::sync::Arc;

use tessera_core::ratelimit::RateLimiter;
use tessera_core::revocation::RevocationTransport;
use tessera_core::store::{Store, StoreError};
use tessera_core::{Clock, Engine, EngineConfig, MasterKey};

/// A parsed `database_url`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DatabaseUrl {
    /// `sqlite://relative/path.db`, `sqlite:///absolute/path.db` or `sqlite:path.db`.
    Sqlite(std::path::PathBuf),
    /// `postgres://…` or `postgresql://…`.
    Postgres(String),
}

impl DatabaseUrl {
    pub fn parse(url: &str) -> Result<Self, String> {
        if let Some(rest) = url.strip_prefix("sqlite:") {
            let path = rest.strip_prefix("//").unwrap_or(rest);
            if path.is_empty() || path.contains('?') {
                return Err("a sqlite URL needs a file path and takes no options".into());
            }
            if path == ":memory:" {
                return Err("an in-memory SQLite database would lose everything on restart; give a file path".into());
            }
            return Ok(DatabaseUrl::Sqlite(path.into()));
        }
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(DatabaseUrl::Postgres(url.to_owned()));
        }
        Err("expected sqlite://PATH or postgres://…".into())
    }
}

/// What a deployment connects to: the database, and optionally Redis. Issuer-scoped: Redis
/// channel and keys are prefixed with `scope` (the issuer), so deployments sharing a Redis
/// never see each other's revocations or counters.
pub struct Connect<'a> {
    pub database: &'a DatabaseUrl,
    pub redis_url: Option<&'a str>,
    pub scope: &'a str,
}

/// An opened store with the revocation transports it offers (PostgreSQL `NOTIFY`; Redis pub/sub
/// when configured) and, with Redis, the rate limiter shared across nodes.
pub struct Backend {
    pub store: Arc<dyn Store>,
    pub transports: Vec<Arc<dyn RevocationTransport>>,
    pub limiter: Option<Arc<dyn RateLimiter>>,
}

impl Backend {
    /// Opens the store (creating the SQLite file, running migrations) and prepares the
    /// transports. Nothing connects to Redis yet: Redis being down never stops a start.
    pub async fn open(c: Connect<'_>) -> Result<Backend, String> {
        let mut transports: Vec<Arc<dyn RevocationTransport>> = Vec::new();
        let store: Arc<dyn Store> = match c.database {
            #[cfg(feature = "sqlite")]
            DatabaseUrl::Sqlite(path) => {
                let store = sqlite::SqliteStore::open(path).await.map_err(cannot_open)?;
                store.migrate().await.map_err(cannot_open)?;
                Arc::new(store)
            }
            #[cfg(feature = "postgres")]
            DatabaseUrl::Postgres(url) => {
                let options: sqlx::postgres::PgConnectOptions = url
                    .parse()
                    .map_err(|_| "invalid postgres URL".to_string())?;
                let store = postgres::PostgresStore::connect(options)
                    .await
                    .map_err(cannot_open)?;
                store.migrate().await.map_err(cannot_open)?;
                transports.push(Arc::new(store.notifications()));
                Arc::new(store)
            }
            #[allow(unreachable_patterns)]
            _ => return Err("this store is not compiled in".into()),
        };
        let mut limiter: Option<Arc<dyn RateLimiter>> = None;
        if let Some(url) = c.redis_url {
            #[cfg(feature = "redis")]
            {
                transports.push(Arc::new(bus::redis::RedisTransport::new(url, c.scope)?));
                limiter = Some(Arc::new(ratelimit::RedisLimiter::new(url, c.scope)?));
            }
            #[cfg(not(feature = "redis"))]
            return Err(format!(
                "redis_url is set ({url}) but Redis support is not compiled in"
            ));
        }
        Ok(Backend {
            store,
            transports,
            limiter,
        })
    }

    /// The engine on this store, with the transports and the limiter: the way the server, the
    /// CLI and an embedding app all build it. Long-lived processes then call
    /// `engine.revocations().start(poll)`.
    pub async fn engine(
        self,
        clock: Arc<dyn Clock>,
        master: &MasterKey,
        cfg: EngineConfig,
    ) -> Result<Engine, String> {
        let mut engine = Engine::start(self.store, clock, master, cfg)
            .await
            .map_err(|e| format!("cannot start the engine: {e}"))?;
        for t in self.transports {
            engine = engine.with_revocation_transport(t);
        }
        if let Some(limiter) = self.limiter {
            engine = engine.with_rate_limiter(limiter);
        }
        Ok(engine)
    }
}

fn cannot_open(e: StoreError) -> String {
    format!("cannot open the database: {e}")
}

/// Unique violations are conflicts; rows that do not decode are corrupt; the rest (busy, I/O,
/// pool timeouts, a database that is down) is the store being unavailable, which the server
/// answers with a retryable 503.
#[cfg(feature = "postgres")]
pub(crate) fn map_err(e: sqlx::Error) -> StoreError {
    match &e {
        sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Conflict,
        sqlx::Error::ColumnDecode { .. }
        | sqlx::Error::Decode(_)
        | sqlx::Error::ColumnNotFound(_) => StoreError::Corrupt(e.to_string()),
        _ => StoreError::Unavailable(e.to_string()),
    }
}

pub(crate) fn unix_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_urls_parse() {
        assert_eq!(
            DatabaseUrl::parse("sqlite://tessera-data/tessera.db").unwrap(),
            DatabaseUrl::Sqlite("tessera-data/tessera.db".into())
        );
        assert_eq!(
            DatabaseUrl::parse("sqlite:///var/lib/t.db").unwrap(),
            DatabaseUrl::Sqlite("/var/lib/t.db".into())
        );
        assert!(matches!(
            DatabaseUrl::parse("postgres://u@h/db"),
            Ok(DatabaseUrl::Postgres(_))
        ));
        for bad in [
            "",
            "mysql://x",
            "sqlite://",
            "sqlite::memory:",
            "sqlite://a.db?mode=rwc",
        ] {
            assert!(DatabaseUrl::parse(bad).is_err(), "{bad}");
        }
    }
}
