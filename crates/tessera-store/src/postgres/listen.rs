//! PostgreSQL as a revocation transport: every revocation sends `NOTIFY` inside its own
//! transaction (delivered on commit, so no node hears of a revocation that did not happen), and
//! listening nodes wake their sync of the store at once.
use async_trait::async_trait;
use sqlx::postgres::{PgListener, PgPool};
use tessera_core::model::Revocation;
use tessera_core::revocation::{Inbox, RevocationTransport};

use super::REVOCATION_CHANNEL;
use crate::bus::{Backoff, Health};

/// See the module docs.
pub struct PgNotify {
    pool: PgPool,
}

impl PgNotify {
    pub(crate) fn new(pool: PgPool) -> Self {
        PgNotify { pool }
    }
}

#[async_trait]
impl RevocationTransport for PgNotify {
    fn name(&self) -> &'static str {
        "PostgreSQL NOTIFY"
    }

    /// Nothing to do: the store sent `NOTIFY` with the write.
    async fn publish(&self, _: &[Revocation]) {}

    async fn listen(&self, inbox: Inbox) {
        let health = Health::new("PostgreSQL notifications");
        let mut backoff = Backoff::new();
        loop {
            match PgListener::connect_with(&self.pool).await {
                Ok(mut listener) => match listener.listen(REVOCATION_CHANNEL).await {
                    Ok(()) => {
                        health.up();
                        backoff.reset();
                        // Whatever happened while we were not listening is in the feed.
                        inbox.wake();
                        loop {
                            match listener.try_recv().await {
                                Ok(Some(_)) => inbox.wake(),
                                // The connection dropped (and notifications with it): catch up.
                                Ok(None) => inbox.wake(),
                                Err(e) => {
                                    health.down(&e);
                                    break;
                                }
                            }
                        }
                    }
                    Err(e) => health.down(&e),
                },
                Err(e) => health.down(&e),
            }
            backoff.wait().await;
        }
    }
}
