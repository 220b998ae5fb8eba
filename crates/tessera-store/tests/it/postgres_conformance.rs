//! The conformance suite on PostgreSQL, each test in its own schema.
use crate::pg;

use std::sync::Arc;

use tessera_core::store::Store;

async fn fresh() -> Option<Arc<dyn Store>> {
    pg::store().await.map(|s| Arc::new(s) as Arc<dyn Store>)
}

tessera_core::store_conformance!(fresh());
