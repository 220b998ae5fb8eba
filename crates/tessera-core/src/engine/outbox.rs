//! The outbox as the engine sees it: mail is sealed (it may carry a token) and queued in the
//! transaction of its cause; a worker (tessera-server's) claims, opens, sends and reports it.
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::Engine;
use crate::error::Error;
use crate::mail::Message;
use crate::model::{MailCounts, OutboxMail, new_id};

/// A claimed mail stays with its worker this long (then another may take it).
pub const LEASE_MS: i64 = 60_000;
/// Attempts before a mail is given up.
pub const MAX_ATTEMPTS: i64 = 12;

/// 256 bits from the OS generator, URL-safe: the token in a mail's link.
pub(super) fn new_email_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// What the store keeps of a token.
pub(super) fn token_hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// Backoff after the `attempts`-th failure: 5 s doubling to an hour; `None` once given up.
pub fn retry_delay_ms(attempts: i64) -> Option<i64> {
    (attempts < MAX_ATTEMPTS).then(|| (5_000i64 << (attempts - 1).clamp(0, 10)).min(3_600_000))
}

/// A mail the worker claimed: `message` is `None` if it could not be opened (another master key).
#[derive(Debug)]
pub struct Outgoing {
    pub id: Uuid,
    pub kind: String,
    pub attempts: i64,
    pub message: Option<Message>,
}

impl Engine {
    /// `message` as an outbox row for `user_id`, sealed under its own id.
    pub(super) fn seal_mail(
        &self,
        kind: &str,
        user_id: Option<Uuid>,
        message: &Message,
    ) -> OutboxMail {
        let id = new_id();
        let plain = serde_json::to_vec(message).expect("strings serialize");
        OutboxMail {
            id,
            user_id,
            kind: kind.to_owned(),
            sealed: self.secrets.seal(&format!("mail:{id}"), &plain),
            created_at: self.clock.now_ms(),
        }
    }

    /// Tells this node's worker that mail is waiting.
    pub(super) fn mail_queued(&self) {
        self.mail_queued.notify_one();
    }

    /// Resolves when mail was queued on this node (the worker also polls, for other nodes').
    pub async fn mail_waiting(&self) {
        self.mail_queued.notified().await
    }

    /// Claims up to `limit` due mails for [`LEASE_MS`], opened.
    pub async fn claim_mail(&self, limit: i64) -> Result<Vec<Outgoing>, Error> {
        let now = self.clock.now_ms();
        let claimed = self.store.claim_mail(now, LEASE_MS, limit).await?;
        Ok(claimed
            .into_iter()
            .map(|c| Outgoing {
                message: self
                    .secrets
                    .open(&format!("mail:{}", c.id), &c.sealed)
                    .and_then(|plain| serde_json::from_slice(&plain).ok()),
                id: c.id,
                kind: c.kind,
                attempts: c.attempts,
            })
            .collect())
    }

    pub async fn mail_sent(&self, id: Uuid) -> Result<(), Error> {
        Ok(self.store.mail_sent(id, self.clock.now_ms()).await?)
    }

    /// A failed attempt: tried again later with backoff, or given up after [`MAX_ATTEMPTS`] (or
    /// at once when `permanent`). `error` must hold no secret (the SMTP server's reply is fine).
    pub async fn mail_failed(
        &self,
        id: Uuid,
        attempts: i64,
        permanent: bool,
        error: &str,
    ) -> Result<(), Error> {
        let now = self.clock.now_ms();
        let retry = if permanent {
            None
        } else {
            retry_delay_ms(attempts)
        };
        Ok(self
            .store
            .mail_failed(id, now, retry.map(|d| now + d), error)
            .await?)
    }

    pub async fn mail_counts(&self) -> Result<MailCounts, Error> {
        Ok(self.store.mail_counts().await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_to_an_hour_then_gives_up() {
        assert_eq!(retry_delay_ms(1), Some(5_000));
        assert_eq!(retry_delay_ms(2), Some(10_000));
        assert_eq!(retry_delay_ms(11), Some(3_600_000));
        assert_eq!(retry_delay_ms(12), None);
        assert_eq!(new_email_token().len(), 43);
        assert_ne!(new_email_token(), new_email_token());
    }
}
