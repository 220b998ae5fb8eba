//! LISTEN for the NOTIFY every revocation sends, and wake the store sync on each.
use std::sync::Arc;

use sqlx::postgres::{PgListener, PgPool};
use tokio::sync::Notify;

use super::REVOCATION_CHANNEL;
use crate::bus::{Backoff, Health};

/// Runs until aborted, reconnecting with backoff.
pub async fn listen(pool: PgPool, wake: Arc<Notify>) {
    let health = Health::new("PostgreSQL notifications");
    let mut backoff = Backoff::new();
    loop {
        match PgListener::connect_with(&pool).await {
            Ok(mut listener) => match listener.listen(REVOCATION_CHANNEL).await {
                Ok(()) => {
                    health.up();
                    backoff.reset();
                    // Whatever happened while we were not listening is in the feed.
                    wake.notify_one();
                    loop {
                        match listener.try_recv().await {
                            Ok(Some(_)) => wake.notify_one(),
                            // The connection dropped (and notifications with it): catch up.
                            Ok(None) => wake.notify_one(),
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
