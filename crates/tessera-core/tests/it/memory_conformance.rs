//! The conformance suite on the in-memory store.
use std::sync::Arc;

use tessera_core::memory::MemoryStore;

async fn fresh() -> Option<Arc<dyn tessera_core::store::Store>> {
    Some(Arc::new(MemoryStore::new()))
}

tessera_core::store_conformance!(fresh());
