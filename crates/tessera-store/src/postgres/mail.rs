//! `MailStore` on PostgreSQL: email tokens and the outbox. Workers on several nodes claim mail
//! with `FOR UPDATE SKIP LOCKED` and a lease, so each mail goes to one of them.
use async_trait::async_trait;
use sqlx::Postgres;
use tessera_core::model::{
    ClaimedMail, EmailToken, Event, MailCounts, OutboxMail, TokenMail, email_kind,
};
use tessera_core::store::*;
use uuid::Uuid;

use super::PostgresStore;
use super::store::{get, insert_event};
use crate::codec::uuid;
use crate::map_err;
use crate::sql as S;

type Tx = sqlx::Transaction<'static, Postgres>;

pub(super) async fn insert_mail(tx: &mut Tx, m: &OutboxMail) -> StoreResult<()> {
    sqlx::query(S::INSERT_MAIL.pg)
        .bind(m.id.to_string())
        .bind(m.user_id.map(|u| u.to_string()))
        .bind(&m.kind)
        .bind(&m.sealed)
        .bind(m.created_at)
        .execute(&mut **tx)
        .await
        .map_err(map_err)?;
    Ok(())
}

async fn insert_email_token(tx: &mut Tx, token: &EmailToken) -> StoreResult<()> {
    sqlx::query(S::INSERT_EMAIL_TOKEN.pg)
        .bind(&token.hash)
        .bind(token.user_id.to_string())
        .bind(&token.kind)
        .bind(token.created_at)
        .bind(token.expires_at)
        .execute(&mut **tx)
        .await
        .map_err(map_err)?;
    Ok(())
}

/// A token, its mail and its event, in the caller's transaction.
pub(super) async fn insert_token_mail(tx: &mut Tx, v: &TokenMail) -> StoreResult<()> {
    insert_email_token(tx, &v.token).await?;
    insert_mail(tx, &v.mail).await?;
    insert_event(tx, &v.event).await
}

/// Ends every live reset token of the user: a reset, a password change, a ban.
pub(super) async fn end_reset_tokens(tx: &mut Tx, user: Uuid, now: i64) -> StoreResult<()> {
    sqlx::query(S::USE_USER_EMAIL_TOKENS.pg)
        .bind(now)
        .bind(user.to_string())
        .bind(email_kind::RESET)
        .execute(&mut **tx)
        .await
        .map_err(map_err)?;
    Ok(())
}

async fn use_token(tx: &mut Tx, hash: &[u8], kind: &str, now: i64) -> StoreResult<Option<Uuid>> {
    let user: Option<String> = sqlx::query_scalar(S::USE_EMAIL_TOKEN.pg)
        .bind(now)
        .bind(hash)
        .bind(kind)
        .fetch_optional(&mut **tx)
        .await
        .map_err(map_err)?;
    user.map(|u| uuid(&u)).transpose()
}

#[async_trait]
impl MailStore for PostgresStore {
    async fn issue_email_token(
        &self,
        token: &EmailToken,
        mail: Option<&OutboxMail>,
        event: &Event,
        throttle_since: Option<i64>,
    ) -> StoreResult<bool> {
        let mut tx = self.begin().await?;
        if let (Some(since), Some(m)) = (throttle_since, mail) {
            // One at a time per user, so two concurrent requests cannot both pass the check.
            sqlx::query(S::LOCK_USER.pg)
                .bind(token.user_id.to_string())
                .execute(&mut *tx)
                .await
                .map_err(map_err)?;
            let recent = sqlx::query(S::RECENT_MAIL.pg)
                .bind(m.user_id.map(|u| u.to_string()))
                .bind(&m.kind)
                .bind(since)
                .fetch_optional(&mut *tx)
                .await
                .map_err(map_err)?;
            if recent.is_some() {
                return Ok(false);
            }
        }
        insert_email_token(&mut tx, token).await?;
        if let Some(m) = mail {
            insert_mail(&mut tx, m).await?;
        }
        insert_event(&mut tx, event).await?;
        tx.commit().await.map_err(map_err)?;
        Ok(true)
    }

    async fn email_token_user(
        &self,
        hash: &[u8],
        kind: &str,
        now: i64,
    ) -> StoreResult<Option<Uuid>> {
        let user: Option<String> = sqlx::query_scalar(S::EMAIL_TOKEN_USER.pg)
            .bind(hash)
            .bind(kind)
            .bind(now)
            .fetch_optional(&self.pool)
            .await
            .map_err(map_err)?;
        user.map(|u| uuid(&u)).transpose()
    }

    async fn reset_password(
        &self,
        hash: &[u8],
        now: i64,
        password_hash: &str,
        mail: &OutboxMail,
        event: &Event,
    ) -> StoreResult<Option<Uuid>> {
        let mut tx = self.begin().await?;
        let Some(user) = use_token(&mut tx, hash, email_kind::RESET, now).await? else {
            return Ok(None);
        };
        end_reset_tokens(&mut tx, user, now).await?;
        sqlx::query(S::RESET_USER_PASSWORD.pg)
            .bind(password_hash)
            .bind(now)
            .bind(user.to_string())
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        let mail = OutboxMail {
            user_id: Some(user),
            ..mail.clone()
        };
        insert_mail(&mut tx, &mail).await?;
        let event = Event {
            user_id: Some(user),
            ..event.clone()
        };
        insert_event(&mut tx, &event).await?;
        tx.commit().await.map_err(map_err)?;
        Ok(Some(user))
    }

    async fn verify_email(
        &self,
        hash: &[u8],
        now: i64,
        event: &Event,
    ) -> StoreResult<Option<Uuid>> {
        let mut tx = self.begin().await?;
        let Some(user) = use_token(&mut tx, hash, email_kind::VERIFY, now).await? else {
            return Ok(None);
        };
        sqlx::query(S::VERIFY_USER_EMAIL.pg)
            .bind(user.to_string())
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        let event = Event {
            user_id: Some(user),
            ..event.clone()
        };
        insert_event(&mut tx, &event).await?;
        tx.commit().await.map_err(map_err)?;
        Ok(Some(user))
    }

    async fn enqueue_mail(&self, mail: &OutboxMail) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        insert_mail(&mut tx, mail).await?;
        tx.commit().await.map_err(map_err)
    }

    async fn claim_mail(
        &self,
        now: i64,
        lease_ms: i64,
        limit: i64,
    ) -> StoreResult<Vec<ClaimedMail>> {
        let rows = sqlx::query(S::CLAIM_MAIL_PG.pg)
            .bind(now)
            .bind(lease_ms)
            .bind(limit)
            .fetch_all(&self.pool)
            .await
            .map_err(map_err)?;
        rows.iter()
            .map(|r| {
                Ok(ClaimedMail {
                    id: uuid(&get::<String>(r, "id")?)?,
                    kind: get(r, "kind")?,
                    sealed: get(r, "sealed")?,
                    attempts: get(r, "attempts")?,
                })
            })
            .collect()
    }

    async fn mail_sent(&self, id: Uuid, now: i64) -> StoreResult<()> {
        sqlx::query(S::MAIL_SENT.pg)
            .bind(now)
            .bind(Vec::<u8>::new())
            .bind(id.to_string())
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
        Ok(())
    }

    async fn mail_failed(
        &self,
        id: Uuid,
        now: i64,
        retry_at: Option<i64>,
        error: &str,
    ) -> StoreResult<()> {
        let q = match retry_at {
            Some(at) => sqlx::query(S::MAIL_RETRY.pg)
                .bind(at)
                .bind(error)
                .bind(id.to_string()),
            None => sqlx::query(S::MAIL_GIVEN_UP.pg)
                .bind(now)
                .bind(Vec::<u8>::new())
                .bind(error)
                .bind(id.to_string()),
        };
        q.execute(&self.pool).await.map_err(map_err)?;
        Ok(())
    }

    async fn mail_counts(&self) -> StoreResult<MailCounts> {
        let (queued, sent, failed): (i64, i64, i64) = sqlx::query_as(S::MAIL_COUNTS.pg)
            .fetch_one(&self.pool)
            .await
            .map_err(map_err)?;
        Ok(MailCounts {
            queued: queued as u64,
            sent: sent as u64,
            failed: failed as u64,
        })
    }
}
