//! `SessionStore` on SQLite: opening (with the per-user limit), rotation, reauthentication and
//! revocation of sessions, each one job on the writer thread. The statements are `crate::sql`'s.
use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, Row, params};
use tessera_core::model::{
    BulkSelector, Event, OutboxMail, RevocationTarget, Revoked, Rotation, Session, SessionLimit,
    SessionSelector,
};
use tessera_core::store::*;
use uuid::Uuid;

use super::SqliteStore;
use super::store::{
    corrupt, insert_event, insert_revocation, session_claims_fit, update_with_event,
};
use crate::codec::{
    claims_from_json, claims_to_json, opt_uuid, roles_from_json, roles_to_json, uuid,
};
use crate::sql::{self as S, bulk_params, cutoff};

pub(super) fn session_from(row: &Row<'_>) -> rusqlite::Result<Session> {
    Ok(Session {
        id: uuid(&row.get::<_, String>("id")?).map_err(corrupt)?,
        user_id: uuid(&row.get::<_, String>("user_id")?).map_err(corrupt)?,
        namespace: row.get("namespace")?,
        created_at: row.get("created_at")?,
        last_active_at: row.get("last_active_at")?,
        expires_at: row.get("expires_at")?,
        absolute_expires_at: row.get("absolute_expires_at")?,
        ip: row.get("ip")?,
        user_agent: row.get("user_agent")?,
        refresh_count: row.get("refresh_count")?,
        generation: row.get("generation")?,
        secret_hash: row.get("secret_hash")?,
        prev_secret_hash: row.get("prev_secret_hash")?,
        rotated_at: row.get("rotated_at")?,
        revoked_at: row.get("revoked_at")?,
        revoke_reason: row.get("revoke_reason")?,
        claims: claims_from_json(&row.get::<_, String>("claims")?).map_err(corrupt)?,
        auth_time: row.get("auth_time")?,
        acr: row.get("acr")?,
        amr: roles_from_json(&row.get::<_, String>("amr")?).map_err(corrupt)?,
        factor_id: opt_uuid(row.get("factor_id")?).map_err(corrupt)?,
        dpop_jkt: row.get("dpop_jkt")?,
    })
}

#[async_trait]
impl SessionStore for SqliteStore {
    async fn create_session(
        &self,
        s: &Session,
        event: &Event,
        limit: Option<&SessionLimit>,
        notice: Option<&OutboxMail>,
    ) -> StoreResult<Revoked> {
        let (s, event, limit, notice) = (s.clone(), event.clone(), limit.cloned(), notice.cloned());
        // One job on the single writer: concurrent logins of a user are already one at a time.
        self.write(move |t| {
            if !session_claims_fit(&t, s.user_id, &s.claims)? {
                return Ok(Err(StoreError::ClaimsTooLarge));
            }
            t.prepare_cached(S::INSERT_SESSION.sqlite)?
                .execute(params![
                    s.id.to_string(),
                    s.user_id.to_string(),
                    s.namespace,
                    s.created_at,
                    s.last_active_at,
                    s.expires_at,
                    s.absolute_expires_at,
                    s.ip,
                    s.user_agent,
                    s.refresh_count,
                    s.generation,
                    s.secret_hash,
                    s.prev_secret_hash,
                    s.rotated_at,
                    s.revoked_at,
                    s.revoke_reason,
                    claims_to_json(&s.claims),
                    s.auth_time,
                    s.acr,
                    roles_to_json(&s.amr),
                    s.factor_id.map(|f| f.to_string()),
                    s.dpop_jkt,
                ])?;
            insert_event(&t, &event)?;
            if let Some(m) = &notice {
                super::mail::insert_mail(&t, m)?;
            }
            let evicted = match &limit {
                None => Revoked::default(),
                Some(limit) => {
                    let rows = t
                        .prepare_cached(S::EVICT_SESSIONS.sqlite)?
                        .query_map(
                            params![s.created_at, "limit", s.user_id.to_string(), limit.max],
                            pair,
                        )?
                        .collect::<rusqlite::Result<_>>()?;
                    record_revoked(&t, rows, s.created_at, "limit", &limit.event)?
                }
            };
            t.commit()?;
            Ok(Ok(evicted))
        })
        .await?
    }

    async fn seen_device(
        &self,
        user_id: Uuid,
        user_agent: Option<&str>,
        since: i64,
    ) -> StoreResult<bool> {
        self.read(|c| {
            c.prepare_cached(S::SEEN_DEVICE.sqlite)?.exists(params![
                user_id.to_string(),
                user_agent,
                since
            ])
        })
    }

    async fn reauthenticate_session(&self, id: Uuid, at: i64, event: &Event) -> StoreResult<bool> {
        let event = event.clone();
        self.write(move |t| {
            let done = update_with_event(
                &t,
                S::REAUTHENTICATE_SESSION.sqlite,
                params![at, id.to_string()],
                Some(&event),
            )?;
            t.commit()?;
            Ok(done)
        })
        .await
    }

    async fn set_session_proof(
        &self,
        id: Uuid,
        acr: &str,
        amr: &[String],
        factor_id: Option<Uuid>,
        event: &Event,
    ) -> StoreResult<bool> {
        let (acr, amr, event) = (acr.to_owned(), roles_to_json(amr), event.clone());
        self.write(move |t| {
            let done = update_with_event(
                &t,
                S::SET_SESSION_PROOF.sqlite,
                params![acr, amr, factor_id.map(|f| f.to_string()), id.to_string()],
                Some(&event),
            )?;
            t.commit()?;
            Ok(done)
        })
        .await
    }

    async fn session(&self, id: Uuid) -> StoreResult<Option<Session>> {
        self.read(|c| {
            c.prepare_cached(S::SESSION.sqlite)?
                .query_row([id.to_string()], session_from)
                .optional()
        })
    }

    async fn rotate_session(
        &self,
        id: Uuid,
        from_generation: i64,
        r: &Rotation,
        event: Option<&Event>,
    ) -> StoreResult<bool> {
        let (r, event) = (r.clone(), event.cloned());
        self.write(move |t| {
            let won = update_with_event(
                &t,
                S::ROTATE_SESSION.sqlite,
                params![
                    r.generation,
                    r.secret_hash,
                    r.prev_secret_hash,
                    r.rotated_at,
                    r.expires_at,
                    r.refresh_count,
                    id.to_string(),
                    from_generation
                ],
                event.as_ref(),
            )?;
            t.commit()?;
            Ok(won)
        })
        .await
    }

    async fn touch_session(&self, id: Uuid, generation: i64, at: i64) -> StoreResult<bool> {
        self.write(move |t| {
            let done = t.prepare_cached(S::TOUCH_SESSION.sqlite)?.execute(params![
                at,
                id.to_string(),
                generation
            ])?;
            t.commit()?;
            Ok(done == 1)
        })
        .await
    }

    async fn revoke_sessions(
        &self,
        selector: &SessionSelector,
        at: i64,
        reason: &str,
        event: &Event,
    ) -> StoreResult<Revoked> {
        let (selector, reason, event) = (selector.clone(), reason.to_owned(), event.clone());
        self.write(move |t| {
            let rows: Vec<(String, String)> = match &selector {
                SessionSelector::One(id) => t
                    .prepare_cached(S::REVOKE_SESSION.sqlite)?
                    .query_map(params![at, reason, id.to_string()], pair)?
                    .collect::<rusqlite::Result<_>>()?,
                SessionSelector::User { user_id, except } => t
                    .prepare_cached(S::REVOKE_USER_SESSIONS.sqlite)?
                    .query_map(
                        params![
                            at,
                            reason,
                            user_id.to_string(),
                            except.map(|e| e.to_string())
                        ],
                        pair,
                    )?
                    .collect::<rusqlite::Result<_>>()?,
                SessionSelector::Factor { user_id, factor_id } => t
                    .prepare_cached(S::REVOKE_FACTOR_SESSIONS.sqlite)?
                    .query_map(
                        params![at, reason, user_id.to_string(), factor_id.to_string()],
                        pair,
                    )?
                    .collect::<rusqlite::Result<_>>()?,
            };
            let revoked = record_revoked(&t, rows, at, &reason, &event)?;
            t.commit()?;
            Ok(revoked)
        })
        .await
    }

    async fn revoke_bulk(
        &self,
        selector: &BulkSelector,
        at: i64,
        reason: &str,
        event: &Event,
    ) -> StoreResult<Revoked> {
        let (selector, reason, event) = (selector.clone(), reason.to_owned(), event.clone());
        self.write(move |t| {
            let (namespace, user_id) = bulk_params(&selector);
            let stamps: Vec<i64> = t
                .prepare_cached(S::REVOKE_BULK.sqlite)?
                .query_map(params![at, reason, namespace, user_id], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?;
            let n = stamps.len() as u64;
            let record = insert_revocation(&t, &selector.target(), cutoff(at, stamps))?;
            let e = Event {
                detail: serde_json::json!({"reason": reason, "revoked": n}),
                ..event
            };
            insert_event(&t, &e)?;
            t.commit()?;
            Ok(Revoked {
                sessions: n,
                records: vec![record],
            })
        })
        .await
    }

    async fn live_sessions(&self, user_id: Uuid, now: i64) -> StoreResult<Vec<Session>> {
        self.read(|c| {
            c.prepare_cached(S::LIVE_SESSIONS.sqlite)?
                .query_map(params![user_id.to_string(), now], session_from)?
                .collect()
        })
    }
}

/// The `(id, user_id)` a revoking statement returns.
fn pair(r: &Row<'_>) -> rusqlite::Result<(String, String)> {
    Ok((r.get(0)?, r.get(1)?))
}

/// A revocation record and an event (from `template`) for each session a statement revoked, in
/// session-id order.
fn record_revoked(
    t: &Connection,
    rows: Vec<(String, String)>,
    at: i64,
    reason: &str,
    template: &Event,
) -> rusqlite::Result<Revoked> {
    let mut revoked = Vec::with_capacity(rows.len());
    for (id, user_id) in rows {
        revoked.push((
            uuid(&id).map_err(corrupt)?,
            uuid(&user_id).map_err(corrupt)?,
        ));
    }
    revoked.sort();
    let mut records = Vec::with_capacity(revoked.len());
    for (id, user_id) in revoked {
        records.push(insert_revocation(
            t,
            &RevocationTarget::Session { session_id: id },
            at,
        )?);
        insert_event(
            t,
            &Event::for_revoked_session(template, id, user_id, reason),
        )?;
    }
    Ok(Revoked {
        sessions: records.len() as u64,
        records,
    })
}
