//! `SessionStore` on PostgreSQL: opening (with the per-user limit), rotation, reauthentication
//! and revocation of sessions. The statements are `crate::sql`'s.
use async_trait::async_trait;
use sqlx::postgres::PgRow;
use tessera_core::claims::claims_fit;
use tessera_core::model::{
    BulkSelector, Event, OutboxMail, RevocationTarget, Revoked, Rotation, Session, SessionLimit,
    SessionSelector,
};
use tessera_core::store::*;
use uuid::Uuid;

use super::PostgresStore;
use super::store::{
    bind_event, get, insert_event, insert_revocation, lock_user_claims, update_with_event,
};
use crate::codec::{
    claims_from_json, claims_to_json, opt_uuid, roles_from_json, roles_to_json, uuid,
};
use crate::map_err;
use crate::sql::{self as S, bulk_params, cutoff};

pub(super) fn session_from(row: &PgRow) -> StoreResult<Session> {
    Ok(Session {
        id: uuid(&get::<String>(row, "id")?)?,
        user_id: uuid(&get::<String>(row, "user_id")?)?,
        namespace: get(row, "namespace")?,
        created_at: get(row, "created_at")?,
        last_active_at: get(row, "last_active_at")?,
        expires_at: get(row, "expires_at")?,
        absolute_expires_at: get(row, "absolute_expires_at")?,
        ip: get(row, "ip")?,
        user_agent: get(row, "user_agent")?,
        refresh_count: get(row, "refresh_count")?,
        generation: get(row, "generation")?,
        secret_hash: get(row, "secret_hash")?,
        prev_secret_hash: get(row, "prev_secret_hash")?,
        rotated_at: get(row, "rotated_at")?,
        revoked_at: get(row, "revoked_at")?,
        revoke_reason: get(row, "revoke_reason")?,
        claims: claims_from_json(&get::<String>(row, "claims")?)?,
        auth_time: get(row, "auth_time")?,
        acr: get(row, "acr")?,
        amr: roles_from_json(&get::<String>(row, "amr")?)?,
        factor_id: opt_uuid(get(row, "factor_id")?)?,
        dpop_jkt: get(row, "dpop_jkt")?,
    })
}

#[async_trait]
impl SessionStore for PostgresStore {
    async fn create_session(
        &self,
        s: &Session,
        event: &Event,
        limit: Option<&SessionLimit>,
        notice: Option<&OutboxMail>,
    ) -> StoreResult<Revoked> {
        let mut tx = self.begin().await?;
        if !s.claims.is_empty() {
            // The claims change of the user waits for this, or this for it (see
            // `set_user_claims`); the lock also serves the session limit below.
            let user = lock_user_claims(&mut tx, s.user_id).await?;
            if user.is_some_and(|u| !claims_fit(&u, &s.claims)) {
                return Err(StoreError::ClaimsTooLarge);
            }
        } else if limit.is_some() {
            // Logins of one user queue here until this transaction ends, so each one counts
            // the sessions the others opened.
            sqlx::query(S::LOCK_USER.pg)
                .bind(s.user_id.to_string())
                .execute(&mut *tx)
                .await
                .map_err(map_err)?;
        }
        sqlx::query(S::INSERT_SESSION.pg)
            .bind(s.id.to_string())
            .bind(s.user_id.to_string())
            .bind(&s.namespace)
            .bind(s.created_at)
            .bind(s.last_active_at)
            .bind(s.expires_at)
            .bind(s.absolute_expires_at)
            .bind(&s.ip)
            .bind(&s.user_agent)
            .bind(s.refresh_count)
            .bind(s.generation)
            .bind(&s.secret_hash)
            .bind(&s.prev_secret_hash)
            .bind(s.rotated_at)
            .bind(s.revoked_at)
            .bind(&s.revoke_reason)
            .bind(claims_to_json(&s.claims))
            .bind(s.auth_time)
            .bind(&s.acr)
            .bind(roles_to_json(&s.amr))
            .bind(s.factor_id.map(|f| f.to_string()))
            .bind(&s.dpop_jkt)
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        insert_event(&mut tx, event).await?;
        if let Some(m) = notice {
            super::mail::insert_mail(&mut tx, m).await?;
        }
        let evicted = match limit {
            None => Revoked::default(),
            Some(limit) => {
                let rows = sqlx::query(S::EVICT_SESSIONS.pg)
                    .bind(s.created_at)
                    .bind("limit")
                    .bind(s.user_id.to_string())
                    .bind(i64::from(limit.max))
                    .fetch_all(&mut *tx)
                    .await
                    .map_err(map_err)?;
                record_revoked(self, &mut tx, &rows, s.created_at, "limit", &limit.event).await?
            }
        };
        tx.commit().await.map_err(map_err)?;
        Ok(evicted)
    }

    async fn seen_device(
        &self,
        user_id: Uuid,
        user_agent: Option<&str>,
        since: i64,
    ) -> StoreResult<bool> {
        let hit = sqlx::query(S::SEEN_DEVICE.pg)
            .bind(user_id.to_string())
            .bind(user_agent)
            .bind(since)
            .fetch_optional(&self.pool)
            .await
            .map_err(map_err)?;
        Ok(hit.is_some())
    }

    async fn reauthenticate_session(&self, id: Uuid, at: i64, event: &Event) -> StoreResult<bool> {
        let mut tx = self.begin().await?;
        let update = sqlx::query(S::REAUTHENTICATE_SESSION.pg)
            .bind(at)
            .bind(id.to_string());
        let done = update_with_event(&mut tx, update, Some(event)).await?;
        tx.commit().await.map_err(map_err)?;
        Ok(done)
    }

    async fn set_session_proof(
        &self,
        id: Uuid,
        acr: &str,
        amr: &[String],
        factor_id: Option<Uuid>,
        event: &Event,
    ) -> StoreResult<bool> {
        let mut tx = self.begin().await?;
        let update = sqlx::query(S::SET_SESSION_PROOF.pg)
            .bind(acr)
            .bind(roles_to_json(amr))
            .bind(factor_id.map(|f| f.to_string()))
            .bind(id.to_string());
        let done = update_with_event(&mut tx, update, Some(event)).await?;
        tx.commit().await.map_err(map_err)?;
        Ok(done)
    }

    async fn session(&self, id: Uuid) -> StoreResult<Option<Session>> {
        sqlx::query(S::SESSION.pg)
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await
            .map_err(map_err)?
            .as_ref()
            .map(session_from)
            .transpose()
    }

    async fn rotate_session(
        &self,
        id: Uuid,
        from_generation: i64,
        r: &Rotation,
        event: Option<&Event>,
    ) -> StoreResult<bool> {
        // The one conditional write, and its event, in one round trip (see `sql.rs`).
        let sql = match event {
            Some(_) => S::ROTATE_SESSION_WITH_EVENT.pg,
            None => S::ROTATE_SESSION.pg,
        };
        let update = sqlx::query(sql)
            .bind(r.generation)
            .bind(&r.secret_hash)
            .bind(&r.prev_secret_hash)
            .bind(r.rotated_at)
            .bind(r.expires_at)
            .bind(r.refresh_count)
            .bind(id.to_string())
            .bind(from_generation);
        let update = match event {
            Some(e) => bind_event(update, e),
            None => update,
        };
        let written = update
            .execute(self.writes())
            .await
            .map_err(map_err)?
            .rows_affected();
        Ok(written == 1)
    }

    async fn touch_session(&self, id: Uuid, generation: i64, at: i64) -> StoreResult<bool> {
        let done = sqlx::query(S::TOUCH_SESSION.pg)
            .bind(at)
            .bind(id.to_string())
            .bind(generation)
            .execute(self.writes())
            .await
            .map_err(map_err)?
            .rows_affected();
        Ok(done == 1)
    }

    async fn revoke_sessions(
        &self,
        selector: &SessionSelector,
        at: i64,
        reason: &str,
        event: &Event,
    ) -> StoreResult<Revoked> {
        let mut tx = self.begin().await?;
        let rows = match selector {
            SessionSelector::One(id) => {
                sqlx::query(S::REVOKE_SESSION.pg)
                    .bind(at)
                    .bind(reason)
                    .bind(id.to_string())
                    .fetch_all(&mut *tx)
                    .await
            }
            SessionSelector::User { user_id, except } => {
                sqlx::query(S::REVOKE_USER_SESSIONS.pg)
                    .bind(at)
                    .bind(reason)
                    .bind(user_id.to_string())
                    .bind(except.map(|e| e.to_string()))
                    .fetch_all(&mut *tx)
                    .await
            }
            SessionSelector::Factor { user_id, factor_id } => {
                sqlx::query(S::REVOKE_FACTOR_SESSIONS.pg)
                    .bind(at)
                    .bind(reason)
                    .bind(user_id.to_string())
                    .bind(factor_id.to_string())
                    .fetch_all(&mut *tx)
                    .await
            }
        }
        .map_err(map_err)?;
        let revoked = record_revoked(self, &mut tx, &rows, at, reason, event).await?;
        tx.commit().await.map_err(map_err)?;
        Ok(revoked)
    }

    async fn revoke_bulk(
        &self,
        selector: &BulkSelector,
        at: i64,
        reason: &str,
        event: &Event,
    ) -> StoreResult<Revoked> {
        let mut tx = self.begin().await?;
        let (namespace, user_id) = bulk_params(selector);
        let stamps: Vec<i64> = sqlx::query_scalar(S::REVOKE_BULK.pg)
            .bind(at)
            .bind(reason)
            .bind(namespace)
            .bind(user_id)
            .fetch_all(&mut *tx)
            .await
            .map_err(map_err)?;
        let n = stamps.len() as u64;
        let record =
            insert_revocation(self, &mut tx, &selector.target(), cutoff(at, stamps)).await?;
        let e = Event {
            detail: serde_json::json!({"reason": reason, "revoked": n}),
            ..event.clone()
        };
        insert_event(&mut tx, &e).await?;
        tx.commit().await.map_err(map_err)?;
        Ok(Revoked {
            sessions: n,
            records: vec![record],
        })
    }

    async fn live_sessions(&self, user_id: Uuid, now: i64) -> StoreResult<Vec<Session>> {
        sqlx::query(S::LIVE_SESSIONS.pg)
            .bind(user_id.to_string())
            .bind(now)
            .fetch_all(&self.pool)
            .await
            .map_err(map_err)?
            .iter()
            .map(session_from)
            .collect()
    }
}

/// A revocation record and an event (from `template`) for each session a revoking statement
/// returned (`id`, `user_id`), in session-id order.
async fn record_revoked(
    store: &PostgresStore,
    tx: &mut sqlx::Transaction<'static, sqlx::Postgres>,
    rows: &[PgRow],
    at: i64,
    reason: &str,
    template: &Event,
) -> StoreResult<Revoked> {
    let mut revoked = Vec::with_capacity(rows.len());
    for row in rows {
        revoked.push((
            uuid(&get::<String>(row, "id")?)?,
            uuid(&get::<String>(row, "user_id")?)?,
        ));
    }
    revoked.sort();
    let mut records = Vec::with_capacity(revoked.len());
    for (id, user_id) in revoked {
        let target = RevocationTarget::Session { session_id: id };
        records.push(insert_revocation(store, tx, &target, at).await?);
        let e = Event::for_revoked_session(template, id, user_id, reason);
        insert_event(tx, &e).await?;
    }
    Ok(Revoked {
        sessions: records.len() as u64,
        records,
    })
}
