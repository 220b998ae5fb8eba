//! How revocations travel between nodes sooner than the next poll of the store. The store is the
//! system of record and every node polls it; a transport only makes the news arrive sooner, so
//! publishing may fail without harm. `tessera-store` implements it for PostgreSQL
//! `LISTEN`/`NOTIFY` and Redis pub/sub.
use std::sync::Arc;

use async_trait::async_trait;

use super::Shared;
use crate::model::Revocation;

/// One way nodes hear of each other's revocations.
#[async_trait]
pub trait RevocationTransport: Send + Sync + 'static {
    /// For logs: "PostgreSQL NOTIFY", "Redis".
    fn name(&self) -> &'static str;

    /// Announces records this node has just written (best effort: errors are the transport's to
    /// log, never the caller's to handle). A transport whose database announces every
    /// revocation inside its transaction (PostgreSQL's `NOTIFY`) has nothing to do here.
    async fn publish(&self, records: &[Revocation]);

    /// Delivers other nodes' news into `inbox` until the task running it is aborted,
    /// reconnecting as needed. After every (re)connection it must [`Inbox::wake`], since
    /// whatever was announced while it was away is only in the store.
    async fn listen(&self, inbox: Inbox);
}

/// Where a transport delivers what it hears.
#[derive(Clone)]
pub struct Inbox(pub(super) Arc<Shared>);

impl Inbox {
    /// A whole record from another node: refused from now on, without waiting for the store.
    pub fn apply(&self, record: &Revocation) {
        self.0.set.apply(record);
        self.0.changed();
        self.0.wake.notify_one();
    }

    /// Something was revoked (or may have been, while disconnected): read the store now.
    pub fn wake(&self) {
        self.0.wake.notify_one();
    }
}
