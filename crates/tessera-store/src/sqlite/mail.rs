//! `MailStore` on SQLite: email tokens and the outbox, each operation one job on the writer
//! thread (which also makes a claim atomic). The statements are `crate::sql`'s.
use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, params};
use tessera_core::model::{
    ClaimedMail, EmailToken, Event, MailCounts, OutboxMail, TokenMail, email_kind,
};
use tessera_core::store::*;
use uuid::Uuid;

use super::SqliteStore;
use super::store::{corrupt, insert_event};
use crate::codec::uuid;
use crate::sql as S;

pub(super) fn insert_mail(t: &Connection, m: &OutboxMail) -> rusqlite::Result<()> {
    t.prepare_cached(S::INSERT_MAIL.sqlite)?.execute(params![
        m.id.to_string(),
        m.user_id.map(|u| u.to_string()),
        m.kind,
        m.sealed,
        m.created_at
    ])?;
    Ok(())
}

fn insert_email_token(t: &Connection, token: &EmailToken) -> rusqlite::Result<()> {
    t.prepare_cached(S::INSERT_EMAIL_TOKEN.sqlite)?
        .execute(params![
            token.hash,
            token.user_id.to_string(),
            token.kind,
            token.created_at,
            token.expires_at
        ])?;
    Ok(())
}

/// A token, its mail and its event, in the caller's transaction.
pub(super) fn insert_token_mail(t: &Connection, v: &TokenMail) -> rusqlite::Result<()> {
    insert_email_token(t, &v.token)?;
    insert_mail(t, &v.mail)?;
    insert_event(t, &v.event)
}

fn use_token(t: &Connection, hash: &[u8], kind: &str, now: i64) -> rusqlite::Result<Option<Uuid>> {
    let user: Option<String> = t
        .prepare_cached(S::USE_EMAIL_TOKEN.sqlite)?
        .query_row(params![now, hash, kind], |r| r.get(0))
        .optional()?;
    user.map(|u| uuid(&u).map_err(corrupt)).transpose()
}

#[async_trait]
impl MailStore for SqliteStore {
    async fn issue_email_token(
        &self,
        token: &EmailToken,
        mail: Option<&OutboxMail>,
        event: &Event,
        throttle_since: Option<i64>,
    ) -> StoreResult<bool> {
        let (token, mail, event) = (token.clone(), mail.cloned(), event.clone());
        self.write(move |t| {
            if let (Some(since), Some(m)) = (throttle_since, &mail) {
                let recent = t.prepare_cached(S::RECENT_MAIL.sqlite)?.exists(params![
                    m.user_id.map(|u| u.to_string()),
                    m.kind,
                    since
                ])?;
                if recent {
                    return Ok(false);
                }
            }
            insert_email_token(&t, &token)?;
            if let Some(m) = &mail {
                insert_mail(&t, m)?;
            }
            insert_event(&t, &event)?;
            t.commit()?;
            Ok(true)
        })
        .await
    }

    async fn email_token_user(
        &self,
        hash: &[u8],
        kind: &str,
        now: i64,
    ) -> StoreResult<Option<Uuid>> {
        let user: Option<String> = self.read(|c| {
            c.prepare_cached(S::EMAIL_TOKEN_USER.sqlite)?
                .query_row(params![hash, kind, now], |r| r.get(0))
                .optional()
        })?;
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
        let (hash, password_hash) = (hash.to_vec(), password_hash.to_owned());
        let (mail, event) = (mail.clone(), event.clone());
        self.write(move |t| {
            let Some(user) = use_token(&t, &hash, email_kind::RESET, now)? else {
                return Ok(None);
            };
            t.prepare_cached(S::USE_USER_EMAIL_TOKENS.sqlite)?
                .execute(params![now, user.to_string(), email_kind::RESET])?;
            t.prepare_cached(S::RESET_USER_PASSWORD.sqlite)?
                .execute(params![password_hash, now, user.to_string()])?;
            insert_mail(
                &t,
                &OutboxMail {
                    user_id: Some(user),
                    ..mail
                },
            )?;
            insert_event(
                &t,
                &Event {
                    user_id: Some(user),
                    ..event
                },
            )?;
            t.commit()?;
            Ok(Some(user))
        })
        .await
    }

    async fn verify_email(
        &self,
        hash: &[u8],
        now: i64,
        event: &Event,
    ) -> StoreResult<Option<Uuid>> {
        let (hash, event) = (hash.to_vec(), event.clone());
        self.write(move |t| {
            let Some(user) = use_token(&t, &hash, email_kind::VERIFY, now)? else {
                return Ok(None);
            };
            t.prepare_cached(S::VERIFY_USER_EMAIL.sqlite)?
                .execute([user.to_string()])?;
            insert_event(
                &t,
                &Event {
                    user_id: Some(user),
                    ..event
                },
            )?;
            t.commit()?;
            Ok(Some(user))
        })
        .await
    }

    async fn enqueue_mail(&self, mail: &OutboxMail) -> StoreResult<()> {
        let mail = mail.clone();
        self.write(move |t| {
            insert_mail(&t, &mail)?;
            t.commit()
        })
        .await
    }

    async fn claim_mail(
        &self,
        now: i64,
        lease_ms: i64,
        limit: i64,
    ) -> StoreResult<Vec<ClaimedMail>> {
        self.write(move |t| {
            let rows: Vec<(String, String, Vec<u8>, i64)> = t
                .prepare_cached(S::CLAIM_MAIL.sqlite)?
                .query_map(params![now, lease_ms, limit], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
                })?
                .collect::<rusqlite::Result<_>>()?;
            t.commit()?;
            rows.into_iter()
                .map(|(id, kind, sealed, attempts)| {
                    Ok(ClaimedMail {
                        id: uuid(&id).map_err(corrupt)?,
                        kind,
                        sealed,
                        attempts,
                    })
                })
                .collect()
        })
        .await
    }

    async fn mail_sent(&self, id: Uuid, now: i64) -> StoreResult<()> {
        self.write(move |t| {
            t.prepare_cached(S::MAIL_SENT.sqlite)?.execute(params![
                now,
                Vec::<u8>::new(),
                id.to_string()
            ])?;
            t.commit()
        })
        .await
    }

    async fn mail_failed(
        &self,
        id: Uuid,
        now: i64,
        retry_at: Option<i64>,
        error: &str,
    ) -> StoreResult<()> {
        let error = error.to_owned();
        self.write(move |t| {
            match retry_at {
                Some(at) => t.prepare_cached(S::MAIL_RETRY.sqlite)?.execute(params![
                    at,
                    error,
                    id.to_string()
                ])?,
                None => t.prepare_cached(S::MAIL_GIVEN_UP.sqlite)?.execute(params![
                    now,
                    Vec::<u8>::new(),
                    error,
                    id.to_string()
                ])?,
            };
            t.commit()
        })
        .await
    }

    async fn mail_counts(&self) -> StoreResult<MailCounts> {
        self.read(|c| {
            c.prepare_cached(S::MAIL_COUNTS.sqlite)?.query_row([], |r| {
                Ok(MailCounts {
                    queued: r.get::<_, i64>(0)? as u64,
                    sent: r.get::<_, i64>(1)? as u64,
                    failed: r.get::<_, i64>(2)? as u64,
                })
            })
        })
    }
}
