//! Redis pub/sub for revocations. Redis carries broadcasts only; it is never the record.
use std::time::Duration;

use async_trait::async_trait;
use futures_util::StreamExt;
use redis::AsyncCommands;
use redis::aio::MultiplexedConnection;
use serde::{Deserialize, Serialize};
use tessera_core::model::{Revocation, RevocationTarget};
use tessera_core::revocation::{Inbox, RevocationTransport};
use tokio::sync::Mutex;

use super::{Backoff, Health};

/// The pub/sub channel of one deployment. Deployments sharing a Redis are told apart by their
/// issuer, which every node of a deployment has in common: one deployment's revocations must
/// never reach another.
pub fn channel(scope: &str) -> String {
    format!("tessera:{scope}:revocations")
}
const TIMEOUT: Duration = Duration::from_secs(2);

/// One record as published: the feed record itself.
#[derive(Serialize, Deserialize)]
struct Message {
    seq: i64,
    target: RevocationTarget,
    at: i64,
}

/// Publishes this node's revocations, and applies other nodes' as they arrive.
pub struct RedisTransport {
    client: redis::Client,
    channel: String,
    conn: Mutex<Option<MultiplexedConnection>>,
    health: Health,
}

impl RedisTransport {
    pub fn new(url: &str, scope: &str) -> Result<Self, String> {
        let client = redis::Client::open(url).map_err(|e| format!("invalid redis_url: {e}"))?;
        Ok(RedisTransport {
            client,
            channel: channel(scope),
            conn: Mutex::new(None),
            health: Health::new("Redis (publishing)"),
        })
    }

    async fn try_publish(&self, payload: &str) -> Result<(), String> {
        let mut slot = self.conn.lock().await;
        if slot.is_none() {
            let conn =
                tokio::time::timeout(TIMEOUT, self.client.get_multiplexed_async_connection())
                    .await
                    .map_err(|_| "connect timed out".to_string())?
                    .map_err(|e| e.to_string())?;
            *slot = Some(conn);
        }
        let conn = slot.as_mut().expect("set above");
        let sent: Result<Result<usize, _>, _> =
            tokio::time::timeout(TIMEOUT, conn.publish(&self.channel, payload)).await;
        match sent {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => {
                *slot = None;
                Err(e.to_string())
            }
            Err(_) => {
                *slot = None;
                Err("publish timed out".into())
            }
        }
    }
}

#[async_trait]
impl RevocationTransport for RedisTransport {
    fn name(&self) -> &'static str {
        "Redis"
    }

    async fn publish(&self, records: &[Revocation]) {
        for r in records {
            let payload = serde_json::to_string(&Message {
                seq: r.seq,
                target: r.target.clone(),
                at: r.at,
            })
            .expect("serializes");
            match self.try_publish(&payload).await {
                Ok(()) => self.health.up(),
                Err(e) => {
                    self.health.down(&e);
                    return;
                }
            }
        }
    }

    /// Applies each record straight from the message, and wakes the store sync after every
    /// reconnect to catch up on anything missed.
    async fn listen(&self, inbox: Inbox) {
        let health = Health::new("Redis (subscription)");
        let mut backoff = Backoff::new();
        loop {
            match tokio::time::timeout(TIMEOUT, self.client.get_async_pubsub()).await {
                Ok(Ok(mut pubsub)) => match pubsub.subscribe(&self.channel).await {
                    Ok(()) => {
                        health.up();
                        backoff.reset();
                        inbox.wake();
                        let mut messages = pubsub.into_on_message();
                        while let Some(msg) = messages.next().await {
                            match serde_json::from_slice::<Message>(msg.get_payload_bytes()) {
                                Ok(m) => inbox.apply(&Revocation {
                                    seq: m.seq,
                                    target: m.target,
                                    at: m.at,
                                }),
                                // Not ours to understand: the store has the truth.
                                Err(_) => inbox.wake(),
                            }
                        }
                        health.down(&"the subscription ended");
                    }
                    Err(e) => health.down(&e),
                },
                Ok(Err(e)) => health.down(&e),
                Err(_) => health.down(&"connect timed out"),
            }
            backoff.wait().await;
        }
    }
}
