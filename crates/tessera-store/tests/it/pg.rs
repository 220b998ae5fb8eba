//! A private schema per test in the PostgreSQL named by `TESSERA_TEST_DATABASE_URL`, so tests run
//! in parallel without seeing each other. Unset: the tests skip with a notice, except under
//! `CI=true`, where they fail.
#![allow(dead_code)]
use std::io::Write;

use sqlx::postgres::PgConnectOptions;
use tessera_store::postgres::PostgresStore;

pub const URL_VAR: &str = "TESSERA_TEST_DATABASE_URL";

/// The test database URL, or `None` (with a notice that cargo's output capture cannot swallow).
pub fn url() -> Option<String> {
    match std::env::var(URL_VAR) {
        Ok(url) if !url.is_empty() => Some(url),
        _ if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!("{URL_VAR} is not set, and CI=true: the PostgreSQL tests must run in CI")
        }
        _ => {
            let _ = writeln!(
                std::io::stderr(),
                "\n*** SKIPPED: PostgreSQL tests need {URL_VAR} (e.g. postgres://postgres@127.0.0.1:5432/test) ***\n"
            );
            None
        }
    }
}

/// Connect options for a fresh, empty schema. Schema names carry their creation time, and
/// schemas older than an hour (left by earlier runs) are dropped on the way.
pub async fn fresh_schema(url: &str) -> PgConnectOptions {
    let base: PgConnectOptions = url.parse().expect("a postgres URL");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let schema = format!("tessera_test_{now}_{}", uuid::Uuid::new_v4().simple());
    let admin = sqlx::PgPool::connect_with(base.clone())
        .await
        .expect("PostgreSQL reachable");
    let existing: Vec<String> = sqlx::query_scalar(
        "SELECT nspname::text FROM pg_namespace WHERE nspname LIKE 'tessera_test_%'",
    )
    .fetch_all(&admin)
    .await
    .unwrap();
    for old in existing {
        let created = old
            .split('_')
            .nth(2)
            .and_then(|t| t.parse::<u64>().ok())
            .unwrap_or(0);
        if created + 3600 < now {
            // Another test may be dropping it at the same moment: failure is fine.
            let drop = format!("DROP SCHEMA IF EXISTS {old} CASCADE");
            let _ = sqlx::query(sqlx::AssertSqlSafe(drop)).execute(&admin).await;
        }
    }
    let create = format!("CREATE SCHEMA {schema}");
    sqlx::query(sqlx::AssertSqlSafe(create))
        .execute(&admin)
        .await
        .unwrap();
    admin.close().await;
    base.options([("search_path", schema.as_str())])
}

pub async fn store() -> Option<PostgresStore> {
    let url = url()?;
    let store = PostgresStore::connect(fresh_schema(&url).await)
        .await
        .unwrap();
    store.migrate().await.unwrap();
    store.migrate().await.unwrap(); // idempotent
    Some(store)
}
