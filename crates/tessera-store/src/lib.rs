//! Database stores for Tessera, behind the store traits of `tessera-core`.
//!
//! - [`sqlite::SqliteStore`] (feature `sqlite`, default): the embedded default, one file, WAL.
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
#[cfg(feature = "postgres")]
mod sql;

use std::sync::Arc;

use tessera_core::store::{Store, StoreError};

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

/// An opened store and, where the database can announce revocations, the way to listen.
pub struct Backend {
    pub store: Arc<dyn Store>,
    /// The PostgreSQL pool to LISTEN on (see [`postgres::listen`]).
    #[cfg(feature = "postgres")]
    pub notifications: Option<sqlx::PgPool>,
}

/// Opens the store a URL names, creating the SQLite file and running migrations.
pub async fn open(url: &DatabaseUrl) -> Result<Backend, StoreError> {
    match url {
        #[cfg(feature = "sqlite")]
        DatabaseUrl::Sqlite(path) => {
            let store = sqlite::SqliteStore::open(path).await?;
            store.migrate().await?;
            Ok(Backend {
                store: Arc::new(store),
                #[cfg(feature = "postgres")]
                notifications: None,
            })
        }
        #[cfg(feature = "postgres")]
        DatabaseUrl::Postgres(url) => {
            let options: sqlx::postgres::PgConnectOptions = url
                .parse()
                .map_err(|_| StoreError::Unavailable("invalid postgres URL".into()))?;
            let store = postgres::PostgresStore::connect(options).await?;
            store.migrate().await?;
            let pool = store.pool().clone();
            Ok(Backend {
                store: Arc::new(store),
                notifications: Some(pool),
            })
        }
        #[allow(unreachable_patterns)]
        _ => Err(StoreError::Unavailable(
            "this store is not compiled in".into(),
        )),
    }
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
