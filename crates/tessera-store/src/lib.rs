//! Database stores for Tessera, behind the store traits of `tessera-core`.
//!
//! - [`sqlite::SqliteStore`] (feature `sqlite`, default): the embedded default, one file, WAL.
//!
//! Queries are runtime SQL (no compile-time macros), and migrations are embedded in the binary
//! and idempotent, so a start on an existing database costs one small read.

#[cfg(feature = "sqlite")]
pub mod sqlite;

mod codec;

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

/// Opens the store a URL names, creating the SQLite file and running migrations.
pub async fn open(url: &DatabaseUrl) -> Result<Arc<dyn Store>, StoreError> {
    match url {
        #[cfg(feature = "sqlite")]
        DatabaseUrl::Sqlite(path) => {
            let store = sqlite::SqliteStore::open(path).await?;
            store.migrate().await?;
            Ok(Arc::new(store))
        }
        DatabaseUrl::Postgres(_) => Err(StoreError::Unavailable(
            "PostgreSQL support is not built into this version yet".into(),
        )),
        #[allow(unreachable_patterns)]
        _ => Err(StoreError::Unavailable(
            "this store is not compiled in".into(),
        )),
    }
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
