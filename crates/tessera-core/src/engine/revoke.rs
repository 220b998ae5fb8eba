//! The one revoke pipeline every kind of revocation goes through: the store writes the
//! revocation (it is the system of record, and it returns the feed records it wrote, cutoffs
//! included), this node applies exactly those records, and the transports broadcast them. A
//! revocation the store writes as part of another change (the session limit's evictions, in
//! the transaction that opens the new session) joins at [`Engine::revoked`].
use uuid::Uuid;

use super::accounts::event;
use super::{Engine, RequestMeta};
use crate::error::Error;
use crate::model::{BulkSelector, Event, Revoked, SessionSelector, event_kind};

/// What a revocation ends.
pub(super) enum Scope {
    /// Sessions by id: each revoked session becomes a record of its own.
    Sessions(SessionSelector),
    /// Every session of a user, a namespace, or all: one cutoff record.
    Bulk(BulkSelector),
    /// A user, deleted with its sessions: one user cutoff.
    DeletedUser(Uuid),
}

impl Engine {
    /// Revokes what `scope` names, recording `event` (whose time is the revocation's). Returns
    /// how many live sessions ended.
    pub(super) async fn revoke(
        &self,
        scope: Scope,
        reason: &'static str,
        event: Event,
    ) -> Result<u64, Error> {
        let at = event.at;
        let done = match &scope {
            Scope::Sessions(sel) => self.store.revoke_sessions(sel, at, reason, &event).await?,
            Scope::Bulk(sel) => self.store.revoke_bulk(sel, at, reason, &event).await?,
            Scope::DeletedUser(id) => self
                .store
                .delete_user(*id, at, &event)
                .await?
                .ok_or(Error::NotFound)?,
        };
        Ok(self.revoked(reason, done))
    }

    /// The last steps of every revocation, once the store has written it: counted, refused
    /// here from now on, broadcast. Returns how many live sessions ended.
    pub(super) fn revoked(&self, reason: &'static str, done: Revoked) -> u64 {
        self.stats.revoked(reason, done.sessions);
        self.revocations.announce(done.records);
        done.sessions
    }

    /// Ends sessions by id on behalf of `user_id`, with a `session.revoked` event for each.
    pub(super) async fn end_sessions(
        &self,
        selector: SessionSelector,
        user_id: Uuid,
        reason: &'static str,
        meta: &RequestMeta,
    ) -> Result<u64, Error> {
        let now = self.clock.now_ms();
        let e = event(event_kind::SESSION_REVOKED, now, meta, Some(user_id), None);
        self.revoke(Scope::Sessions(selector), reason, e).await
    }
}
