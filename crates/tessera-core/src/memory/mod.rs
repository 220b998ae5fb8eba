//! An in-memory store: for tests and for library users who keep nothing on disk. It follows the
//! same contract as the database stores (the conformance suite proves it), with one mutex making
//! every operation atomic.
use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;
use uuid::Uuid;

use crate::claims::claims_fit;
use crate::model::{
    BulkSelector, Claims, EmailToken, Event, KeyRecord, KeyState, OutboxMail, Revocation,
    RevocationTarget, Revoked, Role, Rotation, Session, SessionLimit, SessionSelector, TokenMail,
    User,
};
use crate::store::*;

mod factors;
mod mail;

#[derive(Default)]
struct State {
    users: HashMap<Uuid, User>,
    roles: HashMap<String, Role>,
    sessions: HashMap<Uuid, Session>,
    revocations: Vec<Revocation>,
    keys: Vec<KeyRecord>,
    events: Vec<Event>,
    /// Email tokens by hash, with their use time.
    email_tokens: HashMap<Vec<u8>, (EmailToken, Option<i64>)>,
    outbox: Vec<OutboxRow>,
    factors: Vec<crate::mfa::Factor>,
    /// Recovery code hashes by user.
    recovery_codes: HashMap<Uuid, Vec<RecoveryCode>>,
    mfa_tokens: HashMap<Vec<u8>, crate::mfa::MfaToken>,
    /// Credential id → its passkey factor (an entry whose factor is gone is free again).
    passkey_credentials: HashMap<Vec<u8>, Uuid>,
    ceremonies: HashMap<Uuid, crate::mfa::Ceremony>,
}

/// A recovery code's hash and when it was used.
type RecoveryCode = (Vec<u8>, Option<i64>);

/// A mail and its delivery state.
struct OutboxRow {
    mail: OutboxMail,
    attempts: i64,
    next_attempt_at: i64,
    locked_until: i64,
    sent_at: Option<i64>,
    failed_at: Option<i64>,
}

/// See the module docs.
#[derive(Default)]
pub struct MemoryStore {
    state: Mutex<State>,
    /// Reads of the revocation records, for tests of who reads the store how often.
    revocation_reads: std::sync::atomic::AtomicU64,
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    /// How many times the revocation records have been read ([`RevocationStore::revocations`]).
    pub fn revocation_reads(&self) -> u64 {
        self.revocation_reads
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().expect("memory store lock")
    }
}

impl State {
    /// Ends every live reset token of the user (a password change, a ban, a reset).
    fn end_reset_tokens(&mut self, user_id: Uuid, now: i64) {
        for (t, used) in self.email_tokens.values_mut() {
            if t.user_id == user_id && t.kind == crate::model::email_kind::RESET && used.is_none() {
                *used = Some(now);
            }
        }
    }

    /// Uses the live token with this hash and kind; its user.
    fn use_token(&mut self, hash: &[u8], kind: &str, now: i64) -> Option<Uuid> {
        match self.email_tokens.get_mut(hash) {
            Some((t, used @ None)) if t.kind == kind && t.expires_at > now => {
                *used = Some(now);
                Some(t.user_id)
            }
            _ => None,
        }
    }

    fn queue(&mut self, mail: &OutboxMail) {
        self.outbox.push(OutboxRow {
            mail: mail.clone(),
            attempts: 0,
            next_attempt_at: mail.created_at,
            locked_until: 0,
            sent_at: None,
            failed_at: None,
        });
    }

    fn push_revocation(&mut self, target: RevocationTarget, at: i64) -> Revocation {
        let seq = self.revocations.len() as i64 + 1;
        let r = Revocation { seq, target, at };
        self.revocations.push(r.clone());
        r
    }
}

#[async_trait]
impl UserStore for MemoryStore {
    async fn create_user(
        &self,
        user: &User,
        event: &Event,
        verification: Option<&TokenMail>,
    ) -> StoreResult<()> {
        let mut s = self.lock();
        if s.users.values().any(|u| u.email == user.email) {
            return Err(StoreError::Conflict);
        }
        s.users.insert(user.id, user.clone());
        s.events.push(event.clone());
        if let Some(v) = verification {
            s.email_tokens
                .insert(v.token.hash.clone(), (v.token.clone(), None));
            s.queue(&v.mail);
            s.events.push(v.event.clone());
        }
        Ok(())
    }

    async fn user_by_email(&self, email: &str) -> StoreResult<Option<User>> {
        Ok(self
            .lock()
            .users
            .values()
            .find(|u| u.email == email)
            .cloned())
    }

    async fn user_by_id(&self, id: Uuid) -> StoreResult<Option<User>> {
        Ok(self.lock().users.get(&id).cloned())
    }

    async fn set_password_hash(
        &self,
        id: Uuid,
        hash: &str,
        changed_at: Option<i64>,
        event: Option<&Event>,
    ) -> StoreResult<bool> {
        let mut s = self.lock();
        let Some(u) = s.users.get_mut(&id) else {
            return Ok(false);
        };
        u.password_hash = hash.to_owned();
        if let Some(at) = changed_at {
            u.password_changed_at = at;
            s.end_reset_tokens(id, at);
        }
        s.events.extend(event.cloned());
        Ok(true)
    }

    async fn users(&self, limit: i64) -> StoreResult<Vec<User>> {
        let mut v: Vec<User> = self.lock().users.values().cloned().collect();
        v.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(b.id.cmp(&a.id)));
        v.truncate(limit.max(0) as usize);
        Ok(v)
    }

    async fn delete_user(&self, id: Uuid, at: i64, event: &Event) -> StoreResult<Option<Revoked>> {
        let mut s = self.lock();
        if s.users.remove(&id).is_none() {
            return Ok(None);
        }
        let (mut n, mut cutoff) = (0, at);
        s.sessions.retain(|_, sess| {
            let keep = sess.user_id != id;
            if !keep && sess.revoked_at.is_none() {
                n += 1;
                cutoff = cutoff.max(sess.last_active_at);
            }
            keep
        });
        let r = s.push_revocation(RevocationTarget::User { user_id: id }, cutoff);
        s.events.push(event.clone());
        Ok(Some(Revoked {
            sessions: n,
            records: vec![r],
        }))
    }

    async fn set_user_roles(&self, id: Uuid, roles: &[String]) -> StoreResult<bool> {
        let mut s = self.lock();
        Ok(s.users
            .get_mut(&id)
            .map(|u| u.roles = roles.to_vec())
            .is_some())
    }

    async fn set_banned(&self, id: Uuid, banned: bool, event: &Event) -> StoreResult<bool> {
        let mut s = self.lock();
        let Some(u) = s.users.get_mut(&id) else {
            return Ok(false);
        };
        u.banned = banned;
        if banned {
            s.end_reset_tokens(id, event.at);
        }
        s.events.push(event.clone());
        Ok(true)
    }

    async fn set_user_claims(&self, id: Uuid, claims: &Claims, now: i64) -> StoreResult<bool> {
        let mut s = self.lock();
        let too_large = s
            .sessions
            .values()
            .filter(|x| x.user_id == id && x.is_live(now))
            .any(|x| !claims_fit(claims, &x.claims));
        if too_large {
            return Err(StoreError::ClaimsTooLarge);
        }
        Ok(s.users
            .get_mut(&id)
            .map(|u| u.claims = claims.clone())
            .is_some())
    }
}

#[async_trait]
impl RoleStore for MemoryStore {
    async fn roles(&self) -> StoreResult<Vec<Role>> {
        let mut v: Vec<Role> = self.lock().roles.values().cloned().collect();
        v.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(v)
    }

    async fn put_role(&self, role: &Role) -> StoreResult<()> {
        self.lock().roles.insert(role.name.clone(), role.clone());
        Ok(())
    }

    async fn delete_role(&self, name: &str) -> StoreResult<bool> {
        let mut s = self.lock();
        if s.roles.remove(name).is_none() {
            return Ok(false);
        }
        for u in s.users.values_mut() {
            u.roles.retain(|r| r != name);
        }
        Ok(true)
    }
}

#[async_trait]
impl SessionStore for MemoryStore {
    async fn create_session(
        &self,
        session: &Session,
        event: &Event,
        limit: Option<&SessionLimit>,
        notice: Option<&OutboxMail>,
    ) -> StoreResult<Revoked> {
        let mut s = self.lock();
        if let Some(u) = s.users.get(&session.user_id)
            && !claims_fit(&u.claims, &session.claims)
        {
            return Err(StoreError::ClaimsTooLarge);
        }
        s.sessions.insert(session.id, session.clone());
        s.events.push(event.clone());
        if let Some(m) = notice {
            s.queue(m);
        }
        let Some(limit) = limit else {
            return Ok(Revoked::default());
        };
        let at = session.created_at;
        let mut live: Vec<&Session> = s
            .sessions
            .values()
            .filter(|x| x.user_id == session.user_id && x.is_live(at))
            .collect();
        live.sort_by_key(|x| std::cmp::Reverse((x.last_active_at, x.id)));
        let mut evict: Vec<Uuid> = live.iter().skip(limit.max as usize).map(|x| x.id).collect();
        evict.sort();
        let mut records = Vec::with_capacity(evict.len());
        for id in &evict {
            let sess = s.sessions.get_mut(id).expect("listed above");
            sess.revoked_at = Some(at);
            sess.revoke_reason = Some("limit".into());
            let user_id = sess.user_id;
            records.push(s.push_revocation(RevocationTarget::Session { session_id: *id }, at));
            s.events.push(Event::for_revoked_session(
                &limit.event,
                *id,
                user_id,
                "limit",
            ));
        }
        Ok(Revoked {
            sessions: evict.len() as u64,
            records,
        })
    }

    async fn seen_device(
        &self,
        user_id: Uuid,
        user_agent: Option<&str>,
        since: i64,
    ) -> StoreResult<bool> {
        Ok(self.lock().sessions.values().any(|x| {
            x.user_id == user_id
                && x.user_agent.as_deref() == user_agent
                && x.last_active_at >= since
        }))
    }

    async fn reauthenticate_session(&self, id: Uuid, at: i64, event: &Event) -> StoreResult<bool> {
        let mut s = self.lock();
        match s.sessions.get_mut(&id) {
            Some(sess) if sess.revoked_at.is_none() => {
                sess.auth_time = at;
                sess.last_active_at = sess.last_active_at.max(at);
                s.events.push(event.clone());
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn set_session_proof(
        &self,
        id: Uuid,
        acr: &str,
        amr: &[String],
        factor_id: Option<Uuid>,
        event: &Event,
    ) -> StoreResult<bool> {
        let mut s = self.lock();
        match s.sessions.get_mut(&id) {
            Some(sess) if sess.revoked_at.is_none() => {
                sess.acr = acr.to_owned();
                sess.amr = amr.to_vec();
                sess.factor_id = factor_id;
                s.events.push(event.clone());
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn session(&self, id: Uuid) -> StoreResult<Option<Session>> {
        Ok(self.lock().sessions.get(&id).cloned())
    }

    async fn rotate_session(
        &self,
        id: Uuid,
        from_generation: i64,
        r: &Rotation,
        event: Option<&Event>,
    ) -> StoreResult<bool> {
        let mut s = self.lock();
        let Some(sess) = s.sessions.get_mut(&id) else {
            return Ok(false);
        };
        if sess.generation != from_generation || sess.revoked_at.is_some() {
            return Ok(false);
        }
        sess.generation = r.generation;
        sess.secret_hash = r.secret_hash.clone();
        sess.prev_secret_hash = Some(r.prev_secret_hash.clone());
        sess.rotated_at = Some(r.rotated_at);
        sess.last_active_at = sess.last_active_at.max(r.rotated_at);
        sess.expires_at = r.expires_at;
        sess.refresh_count = r.refresh_count;
        s.events.extend(event.cloned());
        Ok(true)
    }

    async fn touch_session(&self, id: Uuid, generation: i64, at: i64) -> StoreResult<bool> {
        let mut s = self.lock();
        match s.sessions.get_mut(&id) {
            Some(sess) if sess.generation == generation && sess.revoked_at.is_none() => {
                sess.last_active_at = sess.last_active_at.max(at);
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn revoke_sessions(
        &self,
        selector: &SessionSelector,
        at: i64,
        reason: &str,
        event: &Event,
    ) -> StoreResult<Revoked> {
        let mut s = self.lock();
        let mut ids: Vec<Uuid> = s
            .sessions
            .values()
            .filter(|sess| sess.revoked_at.is_none() && selected(selector, sess))
            .map(|sess| sess.id)
            .collect();
        ids.sort();
        let mut records = Vec::with_capacity(ids.len());
        for id in &ids {
            let sess = s.sessions.get_mut(id).expect("selected above");
            sess.revoked_at = Some(at);
            sess.revoke_reason = Some(reason.to_owned());
            let user_id = sess.user_id;
            records.push(s.push_revocation(RevocationTarget::Session { session_id: *id }, at));
            s.events
                .push(Event::for_revoked_session(event, *id, user_id, reason));
        }
        Ok(Revoked {
            sessions: ids.len() as u64,
            records,
        })
    }

    async fn revoke_bulk(
        &self,
        selector: &BulkSelector,
        at: i64,
        reason: &str,
        event: &Event,
    ) -> StoreResult<Revoked> {
        let mut s = self.lock();
        let (mut n, mut cutoff) = (0, at);
        for sess in s.sessions.values_mut() {
            let hit = match selector {
                BulkSelector::Namespace(ns) => sess.namespace == *ns,
                BulkSelector::User { user_id, namespace } => {
                    sess.user_id == *user_id
                        && namespace.as_ref().is_none_or(|ns| sess.namespace == *ns)
                }
                BulkSelector::All => true,
            };
            if hit && sess.revoked_at.is_none() {
                sess.revoked_at = Some(at);
                sess.revoke_reason = Some(reason.to_owned());
                n += 1;
                cutoff = cutoff.max(sess.last_active_at);
            }
        }
        let r = s.push_revocation(selector.target(), cutoff);
        s.events.push(Event {
            detail: serde_json::json!({"reason": reason, "revoked": n}),
            ..event.clone()
        });
        Ok(Revoked {
            sessions: n,
            records: vec![r],
        })
    }

    async fn live_sessions(&self, user_id: Uuid, now: i64) -> StoreResult<Vec<Session>> {
        let mut v: Vec<Session> = self
            .lock()
            .sessions
            .values()
            .filter(|s| s.user_id == user_id && s.is_live(now))
            .cloned()
            .collect();
        v.sort_by(|a, b| {
            b.last_active_at
                .cmp(&a.last_active_at)
                .then(b.id.cmp(&a.id))
        });
        Ok(v)
    }
}

fn selected(selector: &SessionSelector, s: &Session) -> bool {
    match selector {
        SessionSelector::One(id) => s.id == *id,
        SessionSelector::User { user_id, except } => s.user_id == *user_id && Some(s.id) != *except,
        SessionSelector::Factor { user_id, factor_id } => {
            s.user_id == *user_id && s.factor_id == Some(*factor_id)
        }
    }
}

#[async_trait]
impl RevocationStore for MemoryStore {
    async fn record_revocation(&self, target: &RevocationTarget, at: i64) -> StoreResult<i64> {
        Ok(self.lock().push_revocation(target.clone(), at).seq)
    }

    async fn revocation_head(&self) -> StoreResult<i64> {
        Ok(self.lock().revocations.len() as i64)
    }

    async fn revocations(
        &self,
        after_seq: i64,
        min_at: i64,
        limit: i64,
    ) -> StoreResult<Vec<Revocation>> {
        self.revocation_reads
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Ok(self
            .lock()
            .revocations
            .iter()
            .filter(|r| r.seq > after_seq && r.at >= min_at)
            .take(limit.max(0) as usize)
            .cloned()
            .collect())
    }
}

#[async_trait]
impl KeyStore for MemoryStore {
    async fn keys(&self) -> StoreResult<Vec<KeyRecord>> {
        Ok(self.lock().keys.clone())
    }

    async fn init_keys(&self, alg: &str, keys: &[KeyRecord]) -> StoreResult<bool> {
        let mut s = self.lock();
        if s.keys
            .iter()
            .any(|k| k.alg == alg && k.state == KeyState::Current)
        {
            return Ok(false);
        }
        s.keys.extend_from_slice(keys);
        Ok(true)
    }

    async fn rotate_keys(
        &self,
        expected_current: &str,
        new_next: &KeyRecord,
        at: i64,
        event: &Event,
    ) -> StoreResult<bool> {
        let mut s = self.lock();
        let alg = new_next.alg.as_str();
        let current = s
            .keys
            .iter()
            .position(|k| k.alg == alg && k.state == KeyState::Current);
        let next = s
            .keys
            .iter()
            .position(|k| k.alg == alg && k.state == KeyState::Next);
        let (Some(c), Some(n)) = (current, next) else {
            return Ok(false);
        };
        if s.keys[c].kid != expected_current {
            return Ok(false);
        }
        s.keys[c].state = KeyState::Retiring;
        s.keys[c].retired_at = Some(at);
        s.keys[n].state = KeyState::Current;
        s.keys[n].activated_at = Some(at);
        s.keys.push(new_next.clone());
        s.events.push(event.clone());
        Ok(true)
    }
}

#[async_trait]
impl EventStore for MemoryStore {
    async fn record_event(&self, event: &Event) -> StoreResult<()> {
        self.lock().events.push(event.clone());
        Ok(())
    }

    async fn events(
        &self,
        user_id: Option<Uuid>,
        kind: Option<&str>,
        limit: i64,
    ) -> StoreResult<Vec<Event>> {
        let s = self.lock();
        let mut v: Vec<Event> = s
            .events
            .iter()
            .filter(|e| user_id.is_none_or(|u| e.user_id == Some(u)))
            .filter(|e| kind.is_none_or(|k| e.kind == k))
            .cloned()
            .collect();
        v.sort_by(|a, b| b.at.cmp(&a.at).then(b.id.cmp(&a.id)));
        v.truncate(limit.max(0) as usize);
        Ok(v)
    }
}

#[async_trait]
impl Store for MemoryStore {
    async fn ping(&self) -> StoreResult<()> {
        Ok(())
    }
}
