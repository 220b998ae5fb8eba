//! `MailStore` in memory: email tokens and the outbox, under the store's one lock.
use async_trait::async_trait;
use uuid::Uuid;

use super::{MemoryStore, OutboxRow};
use crate::model::{ClaimedMail, EmailToken, Event, MailCounts, OutboxMail};
use crate::store::*;

#[async_trait]
impl MailStore for MemoryStore {
    async fn issue_email_token(
        &self,
        token: &EmailToken,
        mail: Option<&OutboxMail>,
        event: &Event,
        throttle_since: Option<i64>,
    ) -> StoreResult<bool> {
        let mut s = self.lock();
        if let (Some(since), Some(m)) = (throttle_since, mail) {
            let recent = s.outbox.iter().any(|r| {
                r.mail.user_id == m.user_id && r.mail.kind == m.kind && r.mail.created_at >= since
            });
            if recent {
                return Ok(false);
            }
        }
        s.email_tokens
            .insert(token.hash.clone(), (token.clone(), None));
        if let Some(m) = mail {
            s.queue(m);
        }
        s.events.push(event.clone());
        Ok(true)
    }

    async fn email_token_user(
        &self,
        hash: &[u8],
        kind: &str,
        now: i64,
    ) -> StoreResult<Option<Uuid>> {
        Ok(match self.lock().email_tokens.get(hash) {
            Some((t, None)) if t.kind == kind && t.expires_at > now => Some(t.user_id),
            _ => None,
        })
    }

    async fn reset_password(
        &self,
        hash: &[u8],
        now: i64,
        password_hash: &str,
        mail: &OutboxMail,
        event: &Event,
    ) -> StoreResult<Option<Uuid>> {
        let mut s = self.lock();
        let Some(user_id) = s.use_token(hash, crate::model::email_kind::RESET, now) else {
            return Ok(None);
        };
        s.end_reset_tokens(user_id, now);
        if let Some(u) = s.users.get_mut(&user_id) {
            u.password_hash = password_hash.to_owned();
            u.password_changed_at = now;
            u.email_verified = true;
        }
        s.queue(&OutboxMail {
            user_id: Some(user_id),
            ..mail.clone()
        });
        s.events.push(Event {
            user_id: Some(user_id),
            ..event.clone()
        });
        Ok(Some(user_id))
    }

    async fn verify_email(
        &self,
        hash: &[u8],
        now: i64,
        event: &Event,
    ) -> StoreResult<Option<Uuid>> {
        let mut s = self.lock();
        let Some(user_id) = s.use_token(hash, crate::model::email_kind::VERIFY, now) else {
            return Ok(None);
        };
        if let Some(u) = s.users.get_mut(&user_id) {
            u.email_verified = true;
        }
        s.events.push(Event {
            user_id: Some(user_id),
            ..event.clone()
        });
        Ok(Some(user_id))
    }

    async fn enqueue_mail(&self, mail: &OutboxMail) -> StoreResult<()> {
        self.lock().queue(mail);
        Ok(())
    }

    async fn claim_mail(
        &self,
        now: i64,
        lease_ms: i64,
        limit: i64,
    ) -> StoreResult<Vec<ClaimedMail>> {
        let mut s = self.lock();
        let mut due: Vec<&mut OutboxRow> = s
            .outbox
            .iter_mut()
            .filter(|r| {
                r.sent_at.is_none()
                    && r.failed_at.is_none()
                    && r.next_attempt_at <= now
                    && r.locked_until <= now
            })
            .collect();
        due.sort_by_key(|r| (r.next_attempt_at, r.mail.id));
        Ok(due
            .into_iter()
            .take(limit.max(0) as usize)
            .map(|r| {
                r.locked_until = now + lease_ms;
                r.attempts += 1;
                ClaimedMail {
                    id: r.mail.id,
                    kind: r.mail.kind.clone(),
                    sealed: r.mail.sealed.clone(),
                    attempts: r.attempts,
                }
            })
            .collect())
    }

    async fn mail_sent(&self, id: Uuid, now: i64) -> StoreResult<()> {
        if let Some(r) = self.lock().outbox.iter_mut().find(|r| r.mail.id == id) {
            r.sent_at = Some(now);
            r.locked_until = 0;
            r.mail.sealed.clear();
        }
        Ok(())
    }

    async fn mail_failed(
        &self,
        id: Uuid,
        now: i64,
        retry_at: Option<i64>,
        _error: &str,
    ) -> StoreResult<()> {
        if let Some(r) = self.lock().outbox.iter_mut().find(|r| r.mail.id == id) {
            r.locked_until = 0;
            match retry_at {
                Some(at) => r.next_attempt_at = at,
                None => {
                    r.failed_at = Some(now);
                    r.mail.sealed.clear();
                }
            }
        }
        Ok(())
    }

    async fn mail_counts(&self) -> StoreResult<MailCounts> {
        let s = self.lock();
        let mut c = MailCounts::default();
        for r in &s.outbox {
            match (r.sent_at, r.failed_at) {
                (Some(_), _) => c.sent += 1,
                (None, Some(_)) => c.failed += 1,
                (None, None) => c.queued += 1,
            }
        }
        Ok(c)
    }
}
