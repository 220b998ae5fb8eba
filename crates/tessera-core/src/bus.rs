//! Broadcasting revocations between nodes. The store is the system of record and every node
//! polls it; a bus only makes the news arrive sooner, so publishing may fail without harm.
use async_trait::async_trait;

use crate::model::Revocation;

/// Where a node announces the revocations it has just written.
#[async_trait]
pub trait RevocationBus: Send + Sync + 'static {
    /// Best effort: errors are the implementation's to log, never the caller's to handle.
    async fn publish(&self, revocation: &Revocation);
}
