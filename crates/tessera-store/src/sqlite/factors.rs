//! `FactorStore` on SQLite: each operation one job on the writer thread (so every claim is
//! atomic), reads on the reader pool. The statements are `crate::sql`'s.
use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, Row, params};
use tessera_core::mfa::{Ceremony, Factor, MfaToken};
use tessera_core::model::Event;
use tessera_core::store::*;
use uuid::Uuid;

use super::SqliteStore;
use super::store::{corrupt, insert_event, update_with_event};
use crate::codec::uuid;
use crate::sql as S;

fn factor_from(r: &Row<'_>) -> rusqlite::Result<Factor> {
    Ok(Factor {
        id: uuid(&r.get::<_, String>("id")?).map_err(corrupt)?,
        user_id: uuid(&r.get::<_, String>("user_id")?).map_err(corrupt)?,
        kind: r.get("kind")?,
        name: r.get("name")?,
        sealed: r.get("sealed")?,
        confirmed: r.get("confirmed")?,
        created_at: r.get("created_at")?,
        expires_at: r.get("expires_at")?,
        last_used_at: r.get("last_used_at")?,
        last_step: r.get("last_step")?,
    })
}

fn mfa_token_from(r: &Row<'_>) -> rusqlite::Result<MfaToken> {
    Ok(MfaToken {
        hash: r.get("hash")?,
        user_id: uuid(&r.get::<_, String>("user_id")?).map_err(corrupt)?,
        created_at: r.get("created_at")?,
        expires_at: r.get("expires_at")?,
        attempts: r.get("attempts")?,
        namespace: r.get("namespace")?,
        transport: r.get("transport")?,
    })
}

fn ceremony_from(r: &Row<'_>) -> rusqlite::Result<Ceremony> {
    let user_id: Option<String> = r.get("user_id")?;
    Ok(Ceremony {
        id: uuid(&r.get::<_, String>("id")?).map_err(corrupt)?,
        kind: r.get("kind")?,
        user_id: user_id.as_deref().map(uuid).transpose().map_err(corrupt)?,
        data: r.get("data")?,
        expires_at: r.get("expires_at")?,
    })
}

fn insert_factor(t: &Connection, f: &Factor) -> rusqlite::Result<usize> {
    t.prepare_cached(S::INSERT_FACTOR.sqlite)?.execute(params![
        f.id.to_string(),
        f.user_id.to_string(),
        f.kind,
        f.name,
        f.sealed,
        f.confirmed,
        f.created_at,
        f.expires_at,
        f.last_used_at,
        f.last_step
    ])
}

fn insert_recovery_codes(
    t: &Connection,
    user_id: Uuid,
    hashes: &[Vec<u8>],
) -> rusqlite::Result<()> {
    t.prepare_cached(S::DELETE_RECOVERY_CODES.sqlite)?
        .execute([user_id.to_string()])?;
    let mut insert = t.prepare_cached(S::INSERT_RECOVERY_CODE.sqlite)?;
    for h in hashes {
        insert.execute(params![user_id.to_string(), h])?;
    }
    Ok(())
}

#[async_trait]
impl FactorStore for SqliteStore {
    async fn add_factor(&self, f: &Factor) -> StoreResult<()> {
        let f = f.clone();
        self.write(move |t| {
            insert_factor(&t, &f)?;
            t.commit()
        })
        .await
    }

    async fn factors(&self, user_id: Uuid, now: i64) -> StoreResult<Vec<Factor>> {
        self.read(|c| {
            c.prepare_cached(S::FACTORS.sqlite)?
                .query_map(params![user_id.to_string(), now], factor_from)?
                .collect()
        })
    }

    async fn confirm_factor(
        &self,
        id: Uuid,
        user_id: Uuid,
        step: i64,
        now: i64,
        recovery: Option<&[Vec<u8>]>,
        event: &Event,
    ) -> StoreResult<bool> {
        let (recovery, event) = (recovery.map(<[_]>::to_vec), event.clone());
        self.write(move |t| {
            let done = update_with_event(
                &t,
                S::CONFIRM_FACTOR.sqlite,
                params![step, now, id.to_string(), user_id.to_string()],
                Some(&event),
            )?;
            if let (true, Some(hashes)) = (done, &recovery) {
                insert_recovery_codes(&t, user_id, hashes)?;
            }
            t.commit()?;
            Ok(done)
        })
        .await
    }

    async fn claim_step(&self, id: Uuid, step: i64, now: i64) -> StoreResult<bool> {
        self.write(move |t| {
            let won = update_with_event(
                &t,
                S::CLAIM_STEP.sqlite,
                params![step, now, id.to_string()],
                None,
            )?;
            t.commit()?;
            Ok(won)
        })
        .await
    }

    async fn remove_factor(&self, id: Uuid, user_id: Uuid, event: &Event) -> StoreResult<bool> {
        let event = event.clone();
        self.write(move |t| {
            let done = update_with_event(
                &t,
                S::DELETE_FACTOR.sqlite,
                params![id.to_string(), user_id.to_string()],
                Some(&event),
            )?;
            t.prepare_cached(S::DELETE_ORPHAN_RECOVERY_CODES.sqlite)?
                .execute([user_id.to_string()])?;
            t.commit()?;
            Ok(done)
        })
        .await
    }

    async fn remove_all_factors(&self, user_id: Uuid, event: &Event) -> StoreResult<u64> {
        let event = event.clone();
        self.write(move |t| {
            let n = t
                .prepare_cached(S::DELETE_USER_FACTORS.sqlite)?
                .execute([user_id.to_string()])?;
            t.prepare_cached(S::DELETE_RECOVERY_CODES.sqlite)?
                .execute([user_id.to_string()])?;
            insert_event(&t, &event)?;
            t.commit()?;
            Ok(n as u64)
        })
        .await
    }

    async fn replace_recovery_codes(
        &self,
        user_id: Uuid,
        hashes: &[Vec<u8>],
        event: &Event,
    ) -> StoreResult<()> {
        let (hashes, event) = (hashes.to_vec(), event.clone());
        self.write(move |t| {
            insert_recovery_codes(&t, user_id, &hashes)?;
            insert_event(&t, &event)?;
            t.commit()
        })
        .await
    }

    async fn use_recovery_code(
        &self,
        user_id: Uuid,
        hash: &[u8],
        now: i64,
        event: &Event,
    ) -> StoreResult<bool> {
        let (hash, event) = (hash.to_vec(), event.clone());
        self.write(move |t| {
            let used = update_with_event(
                &t,
                S::USE_RECOVERY_CODE.sqlite,
                params![now, user_id.to_string(), hash],
                Some(&event),
            )?;
            t.commit()?;
            Ok(used)
        })
        .await
    }

    async fn recovery_codes_left(&self, user_id: Uuid) -> StoreResult<i64> {
        self.read(|c| {
            c.prepare_cached(S::RECOVERY_CODES_LEFT.sqlite)?
                .query_row([user_id.to_string()], |r| r.get(0))
        })
    }

    async fn add_mfa_token(&self, m: &MfaToken) -> StoreResult<()> {
        let m = m.clone();
        self.write(move |t| {
            t.prepare_cached(S::INSERT_MFA_TOKEN.sqlite)?
                .execute(params![
                    m.hash,
                    m.user_id.to_string(),
                    m.created_at,
                    m.expires_at,
                    m.attempts,
                    m.namespace,
                    m.transport
                ])?;
            t.commit()
        })
        .await
    }

    async fn mfa_token(&self, hash: &[u8], now: i64) -> StoreResult<Option<MfaToken>> {
        self.read(|c| {
            c.prepare_cached(S::MFA_TOKEN.sqlite)?
                .query_row(params![hash, now], mfa_token_from)
                .optional()
        })
    }

    async fn mfa_token_failed(&self, hash: &[u8], max: i64) -> StoreResult<i64> {
        let hash = hash.to_vec();
        self.write(move |t| {
            let attempts: Option<i64> = t
                .prepare_cached(S::MFA_TOKEN_FAILED.sqlite)?
                .query_row([&hash], |r| r.get(0))
                .optional()?;
            let attempts = attempts.unwrap_or(0);
            if attempts >= max {
                t.prepare_cached(S::DELETE_MFA_TOKEN.sqlite)?
                    .execute([&hash])?;
            }
            t.commit()?;
            Ok(attempts)
        })
        .await
    }

    async fn take_mfa_token(&self, hash: &[u8], now: i64) -> StoreResult<Option<MfaToken>> {
        let hash = hash.to_vec();
        self.write(move |t| {
            let taken = t
                .prepare_cached(S::TAKE_MFA_TOKEN.sqlite)?
                .query_row([&hash], mfa_token_from)
                .optional()?;
            t.commit()?;
            Ok(taken.filter(|m| m.expires_at > now))
        })
        .await
    }

    async fn add_passkey(
        &self,
        factor: &Factor,
        credential_id: &[u8],
        recovery: Option<&[Vec<u8>]>,
        event: &Event,
    ) -> StoreResult<()> {
        let (f, cred) = (factor.clone(), credential_id.to_vec());
        let (recovery, event) = (recovery.map(<[_]>::to_vec), event.clone());
        self.write(move |t| {
            insert_factor(&t, &f)?;
            t.prepare_cached(S::INSERT_PASSKEY_CREDENTIAL.sqlite)?
                .execute(params![cred, f.id.to_string()])?;
            if let Some(hashes) = &recovery {
                insert_recovery_codes(&t, f.user_id, hashes)?;
            }
            insert_event(&t, &event)?;
            t.commit()
        })
        .await
    }

    async fn factor_by_credential(&self, credential_id: &[u8]) -> StoreResult<Option<Factor>> {
        self.read(|c| {
            c.prepare_cached(S::FACTOR_BY_CREDENTIAL.sqlite)?
                .query_row([credential_id], factor_from)
                .optional()
        })
    }

    async fn use_passkey(
        &self,
        id: Uuid,
        counter: i64,
        sealed: &[u8],
        now: i64,
    ) -> StoreResult<bool> {
        let sealed = sealed.to_vec();
        self.write(move |t| {
            let won = update_with_event(
                &t,
                S::USE_PASSKEY.sqlite,
                params![counter, sealed, now, id.to_string()],
                None,
            )?;
            t.commit()?;
            Ok(won)
        })
        .await
    }

    async fn add_ceremony(&self, c: &Ceremony, now: i64) -> StoreResult<()> {
        let c = c.clone();
        self.write(move |t| {
            t.prepare_cached(S::DELETE_EXPIRED_CEREMONIES.sqlite)?
                .execute([now])?;
            t.prepare_cached(S::INSERT_CEREMONY.sqlite)?
                .execute(params![
                    c.id.to_string(),
                    c.kind,
                    c.user_id.map(|u| u.to_string()),
                    c.data,
                    c.expires_at
                ])?;
            t.commit()
        })
        .await
    }

    async fn take_ceremony(&self, id: Uuid, now: i64) -> StoreResult<Option<Ceremony>> {
        self.write(move |t| {
            let taken = t
                .prepare_cached(S::TAKE_CEREMONY.sqlite)?
                .query_row([id.to_string()], ceremony_from)
                .optional()?;
            t.commit()?;
            Ok(taken.filter(|c| c.expires_at > now))
        })
        .await
    }
}
