//! `FactorStore` on PostgreSQL. Every claim (a TOTP time step, a recovery code, an mfa token's
//! attempts and its single use) is one conditional statement, so two nodes never both win.
use async_trait::async_trait;
use sqlx::Postgres;
use sqlx::postgres::PgRow;
use tessera_core::mfa::{Ceremony, Factor, MfaToken};
use tessera_core::model::Event;
use tessera_core::store::*;
use uuid::Uuid;

use super::PostgresStore;
use super::store::{get, insert_event, update_with_event};
use crate::codec::uuid;
use crate::map_err;
use crate::sql as S;

type Tx = sqlx::Transaction<'static, Postgres>;

fn factor_from(r: &PgRow) -> StoreResult<Factor> {
    Ok(Factor {
        id: uuid(&get::<String>(r, "id")?)?,
        user_id: uuid(&get::<String>(r, "user_id")?)?,
        kind: get(r, "kind")?,
        name: get(r, "name")?,
        sealed: get(r, "sealed")?,
        confirmed: get(r, "confirmed")?,
        created_at: get(r, "created_at")?,
        expires_at: get(r, "expires_at")?,
        last_used_at: get(r, "last_used_at")?,
        last_step: get(r, "last_step")?,
    })
}

fn mfa_token_from(r: &PgRow) -> StoreResult<MfaToken> {
    Ok(MfaToken {
        hash: get(r, "hash")?,
        user_id: uuid(&get::<String>(r, "user_id")?)?,
        created_at: get(r, "created_at")?,
        expires_at: get(r, "expires_at")?,
        attempts: get(r, "attempts")?,
        namespace: get(r, "namespace")?,
        transport: get(r, "transport")?,
    })
}

fn ceremony_from(r: &PgRow) -> StoreResult<Ceremony> {
    let user_id: Option<String> = get(r, "user_id")?;
    Ok(Ceremony {
        id: uuid(&get::<String>(r, "id")?)?,
        kind: get(r, "kind")?,
        user_id: user_id.as_deref().map(uuid).transpose()?,
        data: get(r, "data")?,
        expires_at: get(r, "expires_at")?,
    })
}

fn insert_factor(f: &Factor) -> sqlx::query::Query<'_, Postgres, sqlx::postgres::PgArguments> {
    sqlx::query(S::INSERT_FACTOR.pg)
        .bind(f.id.to_string())
        .bind(f.user_id.to_string())
        .bind(&f.kind)
        .bind(&f.name)
        .bind(&f.sealed)
        .bind(f.confirmed)
        .bind(f.created_at)
        .bind(f.expires_at)
        .bind(f.last_used_at)
        .bind(f.last_step)
}

async fn insert_recovery_codes(tx: &mut Tx, user_id: Uuid, hashes: &[Vec<u8>]) -> StoreResult<()> {
    sqlx::query(S::DELETE_RECOVERY_CODES.pg)
        .bind(user_id.to_string())
        .execute(&mut **tx)
        .await
        .map_err(map_err)?;
    for h in hashes {
        sqlx::query(S::INSERT_RECOVERY_CODE.pg)
            .bind(user_id.to_string())
            .bind(h)
            .execute(&mut **tx)
            .await
            .map_err(map_err)?;
    }
    Ok(())
}

#[async_trait]
impl FactorStore for PostgresStore {
    async fn add_factor(&self, f: &Factor) -> StoreResult<()> {
        insert_factor(f)
            .execute(self.writes())
            .await
            .map_err(map_err)?;
        Ok(())
    }

    async fn factors(&self, user_id: Uuid, now: i64) -> StoreResult<Vec<Factor>> {
        sqlx::query(S::FACTORS.pg)
            .bind(user_id.to_string())
            .bind(now)
            .fetch_all(&self.pool)
            .await
            .map_err(map_err)?
            .iter()
            .map(factor_from)
            .collect()
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
        let mut tx = self.begin().await?;
        let update = sqlx::query(S::CONFIRM_FACTOR.pg)
            .bind(step)
            .bind(now)
            .bind(id.to_string())
            .bind(user_id.to_string());
        let done = update_with_event(&mut tx, update, Some(event)).await?;
        if let (true, Some(hashes)) = (done, recovery) {
            insert_recovery_codes(&mut tx, user_id, hashes).await?;
        }
        tx.commit().await.map_err(map_err)?;
        Ok(done)
    }

    async fn claim_step(&self, id: Uuid, step: i64, now: i64) -> StoreResult<bool> {
        let won = sqlx::query(S::CLAIM_STEP.pg)
            .bind(step)
            .bind(now)
            .bind(id.to_string())
            .execute(self.writes())
            .await
            .map_err(map_err)?
            .rows_affected();
        Ok(won == 1)
    }

    async fn remove_factor(&self, id: Uuid, user_id: Uuid, event: &Event) -> StoreResult<bool> {
        let mut tx = self.begin().await?;
        let delete = sqlx::query(S::DELETE_FACTOR.pg)
            .bind(id.to_string())
            .bind(user_id.to_string());
        let done = update_with_event(&mut tx, delete, Some(event)).await?;
        sqlx::query(S::DELETE_ORPHAN_RECOVERY_CODES.pg)
            .bind(user_id.to_string())
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        tx.commit().await.map_err(map_err)?;
        Ok(done)
    }

    async fn remove_all_factors(&self, user_id: Uuid, event: &Event) -> StoreResult<u64> {
        let mut tx = self.begin().await?;
        let n = sqlx::query(S::DELETE_USER_FACTORS.pg)
            .bind(user_id.to_string())
            .execute(&mut *tx)
            .await
            .map_err(map_err)?
            .rows_affected();
        sqlx::query(S::DELETE_RECOVERY_CODES.pg)
            .bind(user_id.to_string())
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        insert_event(&mut tx, event).await?;
        tx.commit().await.map_err(map_err)?;
        Ok(n)
    }

    async fn replace_recovery_codes(
        &self,
        user_id: Uuid,
        hashes: &[Vec<u8>],
        event: &Event,
    ) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        insert_recovery_codes(&mut tx, user_id, hashes).await?;
        insert_event(&mut tx, event).await?;
        tx.commit().await.map_err(map_err)
    }

    async fn use_recovery_code(
        &self,
        user_id: Uuid,
        hash: &[u8],
        now: i64,
        event: &Event,
    ) -> StoreResult<bool> {
        let mut tx = self.begin().await?;
        let update = sqlx::query(S::USE_RECOVERY_CODE.pg)
            .bind(now)
            .bind(user_id.to_string())
            .bind(hash);
        let used = update_with_event(&mut tx, update, Some(event)).await?;
        tx.commit().await.map_err(map_err)?;
        Ok(used)
    }

    async fn recovery_codes_left(&self, user_id: Uuid) -> StoreResult<i64> {
        let row = sqlx::query(S::RECOVERY_CODES_LEFT.pg)
            .bind(user_id.to_string())
            .fetch_one(&self.pool)
            .await
            .map_err(map_err)?;
        get(&row, "count")
    }

    async fn add_mfa_token(&self, m: &MfaToken) -> StoreResult<()> {
        sqlx::query(S::INSERT_MFA_TOKEN.pg)
            .bind(&m.hash)
            .bind(m.user_id.to_string())
            .bind(m.created_at)
            .bind(m.expires_at)
            .bind(m.attempts)
            .bind(&m.namespace)
            .bind(&m.transport)
            .execute(self.writes())
            .await
            .map_err(map_err)?;
        Ok(())
    }

    async fn mfa_token(&self, hash: &[u8], now: i64) -> StoreResult<Option<MfaToken>> {
        sqlx::query(S::MFA_TOKEN.pg)
            .bind(hash)
            .bind(now)
            .fetch_optional(&self.pool)
            .await
            .map_err(map_err)?
            .as_ref()
            .map(mfa_token_from)
            .transpose()
    }

    async fn mfa_token_failed(&self, hash: &[u8], max: i64) -> StoreResult<i64> {
        let mut tx = self.begin().await?;
        let row = sqlx::query(S::MFA_TOKEN_FAILED.pg)
            .bind(hash)
            .fetch_optional(&mut *tx)
            .await
            .map_err(map_err)?;
        let attempts: i64 = match &row {
            Some(r) => get(r, "attempts")?,
            None => 0,
        };
        if attempts >= max {
            sqlx::query(S::DELETE_MFA_TOKEN.pg)
                .bind(hash)
                .execute(&mut *tx)
                .await
                .map_err(map_err)?;
        }
        tx.commit().await.map_err(map_err)?;
        Ok(attempts)
    }

    async fn take_mfa_token(&self, hash: &[u8], now: i64) -> StoreResult<Option<MfaToken>> {
        let row = sqlx::query(S::TAKE_MFA_TOKEN.pg)
            .bind(hash)
            .fetch_optional(self.writes())
            .await
            .map_err(map_err)?;
        Ok(row
            .as_ref()
            .map(mfa_token_from)
            .transpose()?
            .filter(|m| m.expires_at > now))
    }

    async fn add_passkey(
        &self,
        factor: &Factor,
        credential_id: &[u8],
        recovery: Option<&[Vec<u8>]>,
        event: &Event,
    ) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        insert_factor(factor)
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        sqlx::query(S::INSERT_PASSKEY_CREDENTIAL.pg)
            .bind(credential_id)
            .bind(factor.id.to_string())
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        if let Some(hashes) = recovery {
            insert_recovery_codes(&mut tx, factor.user_id, hashes).await?;
        }
        insert_event(&mut tx, event).await?;
        tx.commit().await.map_err(map_err)
    }

    async fn factor_by_credential(&self, credential_id: &[u8]) -> StoreResult<Option<Factor>> {
        sqlx::query(S::FACTOR_BY_CREDENTIAL.pg)
            .bind(credential_id)
            .fetch_optional(&self.pool)
            .await
            .map_err(map_err)?
            .as_ref()
            .map(factor_from)
            .transpose()
    }

    async fn use_passkey(
        &self,
        id: Uuid,
        counter: i64,
        sealed: &[u8],
        now: i64,
    ) -> StoreResult<bool> {
        let won = sqlx::query(S::USE_PASSKEY.pg)
            .bind(counter)
            .bind(sealed)
            .bind(now)
            .bind(id.to_string())
            .execute(self.writes())
            .await
            .map_err(map_err)?
            .rows_affected();
        Ok(won == 1)
    }

    async fn add_ceremony(&self, c: &Ceremony, now: i64) -> StoreResult<()> {
        sqlx::query(S::DELETE_EXPIRED_CEREMONIES.pg)
            .bind(now)
            .execute(self.writes())
            .await
            .map_err(map_err)?;
        sqlx::query(S::INSERT_CEREMONY.pg)
            .bind(c.id.to_string())
            .bind(&c.kind)
            .bind(c.user_id.map(|u| u.to_string()))
            .bind(&c.data)
            .bind(c.expires_at)
            .execute(self.writes())
            .await
            .map_err(map_err)?;
        Ok(())
    }

    async fn take_ceremony(&self, id: Uuid, now: i64) -> StoreResult<Option<Ceremony>> {
        let row = sqlx::query(S::TAKE_CEREMONY.pg)
            .bind(id.to_string())
            .fetch_optional(self.writes())
            .await
            .map_err(map_err)?;
        Ok(row
            .as_ref()
            .map(ceremony_from)
            .transpose()?
            .filter(|c| c.expires_at > now))
    }
}
