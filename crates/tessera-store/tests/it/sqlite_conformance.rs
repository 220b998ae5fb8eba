//! The conformance suite on SQLite: a real database file in a temporary directory per test.
use std::sync::Arc;

use tessera_core::store::Store;
use tessera_store::sqlite::SqliteStore;

async fn fresh() -> Option<Arc<dyn Store>> {
    // Kept (not deleted on drop) because it must outlive the pool; it lives under target/.
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR"))
        .unwrap()
        .keep();
    let store = SqliteStore::open(&dir.join("tessera.db")).await.unwrap();
    store.migrate().await.unwrap();
    store.migrate().await.unwrap(); // idempotent
    Some(Arc::new(store))
}

tessera_core::store_conformance!(fresh());
