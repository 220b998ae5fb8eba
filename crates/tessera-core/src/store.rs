//! The storage contract. Every backend (memory, SQLite, PostgreSQL) implements these traits and
//! passes the same conformance suite. Operations are whole units of work: each one that changes
//! security state writes its event in the same transaction.
//!
//! **Issue stamps.** A session row's `last_active_at` is the high-water mark of the issue stamps
//! of every access token minted for it: opening (`created_at`), rotating (`rotated_at`) and the
//! grace replay (`touch_session`'s `at`) each raise it and never lower it, and the engine stamps
//! each token with exactly the value its write recorded. A cutoff (user, namespace, all, deleted
//! user) is then written as `max(at, highest last_active_at among the sessions it revoked)`, in
//! the same transaction, after the revoking UPDATE: every token of a revoked session falls under
//! it, whichever node's clock minted it (docs/architecture.md, "Revocation wins races").
use async_trait::async_trait;
use thiserror::Error;
use uuid::Uuid;

use crate::mfa::{Ceremony, Factor, MfaToken};
use crate::model::{
    BulkSelector, ClaimedMail, Claims, EmailToken, Event, KeyRecord, MailCounts, OutboxMail,
    Revocation, RevocationTarget, Revoked, Role, Rotation, Session, SessionLimit, SessionSelector,
    TokenMail, User,
};

#[derive(Debug, Error)]
pub enum StoreError {
    /// A unique constraint refused the write (an email already taken).
    #[error("conflict")]
    Conflict,
    /// The backend is unreachable or too busy; the caller may retry.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// A user's claims and a session's, merged, would not fit in a token (API.md §8).
    #[error("claims too large")]
    ClaimsTooLarge,
    /// Stored data could not be read back (a bug or a corrupted row).
    #[error("store data error: {0}")]
    Corrupt(String),
}

pub type StoreResult<T> = Result<T, StoreError>;

#[async_trait]
pub trait UserStore: Send + Sync {
    /// Creates the user, with its first verification token and mail if given, in one
    /// transaction; [`StoreError::Conflict`] (and nothing written) when the email is taken.
    async fn create_user(
        &self,
        user: &User,
        event: &Event,
        verification: Option<&TokenMail>,
    ) -> StoreResult<()>;
    async fn user_by_email(&self, email: &str) -> StoreResult<Option<User>>;
    async fn user_by_id(&self, id: Uuid) -> StoreResult<Option<User>>;
    /// Replaces the password hash. With `changed_at`, it is a password change (recorded by
    /// `event`); without, a transparent rehash that keeps the change time.
    async fn set_password_hash(
        &self,
        id: Uuid,
        hash: &str,
        changed_at: Option<i64>,
        event: Option<&Event>,
    ) -> StoreResult<bool>;
    /// Up to `limit` users, newest first.
    async fn users(&self, limit: i64) -> StoreResult<Vec<User>>;
    /// Deletes the user and its sessions, writing a user cutoff to the revocation feed (see the
    /// module docs for its value) and `event`, in one transaction. `None` if there was no such
    /// user.
    async fn delete_user(&self, id: Uuid, at: i64, event: &Event) -> StoreResult<Option<Revoked>>;
    /// Replaces the user's roles (the caller has checked they exist).
    async fn set_user_roles(&self, id: Uuid, roles: &[String]) -> StoreResult<bool>;
    /// Bans or unbans, with `event`. `false` if there was no such user.
    async fn set_banned(&self, id: Uuid, banned: bool, event: &Event) -> StoreResult<bool>;
    /// Replaces the app's claims of the user. `false` if there was no such user;
    /// [`StoreError::ClaimsTooLarge`] (and nothing written) if, merged with the claims of one
    /// of the user's sessions live at `now`, they would not fit in a token
    /// ([`crate::claims::claims_fit`]), checked with the user's row locked.
    async fn set_user_claims(&self, id: Uuid, claims: &Claims, now: i64) -> StoreResult<bool>;
}

#[async_trait]
pub trait RoleStore: Send + Sync {
    /// All roles, by name.
    async fn roles(&self) -> StoreResult<Vec<Role>>;
    /// Creates or replaces a role.
    async fn put_role(&self, role: &Role) -> StoreResult<()>;
    /// Deletes a role and removes it from every user. `false` if there was none.
    async fn delete_role(&self, name: &str) -> StoreResult<bool>;
}

#[async_trait]
pub trait SessionStore: Send + Sync {
    /// Creates the session, with `event`. With `limit`, in the same transaction and one at a
    /// time per user (so concurrent logins cannot both squeeze in), the user's live sessions
    /// beyond the `limit.max` most recently active, the new one counted, are revoked: a record
    /// and an event each, returned like [`SessionStore::revoke_sessions`]'s.
    ///
    /// `notice` (a new-device mail) is queued in the same transaction. A session with claims
    /// is checked against its user's claims with the user's row locked:
    /// [`StoreError::ClaimsTooLarge`] (and nothing written) if they would not fit in a token.
    async fn create_session(
        &self,
        session: &Session,
        event: &Event,
        limit: Option<&SessionLimit>,
        notice: Option<&OutboxMail>,
    ) -> StoreResult<Revoked>;
    /// Whether a session of the user with this user agent (`None`: none sent) was active at or
    /// after `since`, revoked or not.
    async fn seen_device(
        &self,
        user_id: Uuid,
        user_agent: Option<&str>,
        since: i64,
    ) -> StoreResult<bool>;
    async fn session(&self, id: Uuid) -> StoreResult<Option<Session>>;
    /// Applies `rotation` only if the session is still at `from_generation` and not revoked:
    /// one conditional write. `false` means someone else got there first (or it was revoked).
    /// `last_active_at` becomes the larger of itself and `rotated_at`. `event`, if any, is
    /// recorded with the write, and only if it wins.
    async fn rotate_session(
        &self,
        id: Uuid,
        from_generation: i64,
        rotation: &Rotation,
        event: Option<&Event>,
    ) -> StoreResult<bool>;
    /// Marks the grace replay as activity, only if the session is still at `generation` and not
    /// revoked.
    async fn touch_session(&self, id: Uuid, generation: i64, at: i64) -> StoreResult<bool>;
    /// A fresh proof of a credential in the session: `auth_time` becomes `at` and
    /// `last_active_at` rises to it (it is the new token's issue stamp), with `event`; only if
    /// the session is not revoked.
    async fn reauthenticate_session(&self, id: Uuid, at: i64, event: &Event) -> StoreResult<bool>;
    /// Sets what a live session proved (`acr`, `amr`, its second factor), with `event`: a
    /// session that has just added its user's first factor. `false` if it is not live.
    async fn set_session_proof(
        &self,
        id: Uuid,
        acr: &str,
        amr: &[String],
        factor_id: Option<Uuid>,
        event: &Event,
    ) -> StoreResult<bool>;
    /// Revokes the live (unrevoked) sessions that `selector` names, writing a revocation record
    /// and an event (from `event`, with `session_id` filled in) for each, and returns the
    /// records, ordered by session id; sessions already revoked are left alone.
    async fn revoke_sessions(
        &self,
        selector: &SessionSelector,
        at: i64,
        reason: &str,
        event: &Event,
    ) -> StoreResult<Revoked>;
    /// Unrevoked, unexpired sessions of a user, most recently active first.
    async fn live_sessions(&self, user_id: Uuid, now: i64) -> StoreResult<Vec<Session>>;
    /// Revokes every unrevoked session `selector` names, writing one cutoff record (not one per
    /// session; its value per the module docs) and one `event` (with the count in its detail).
    async fn revoke_bulk(
        &self,
        selector: &BulkSelector,
        at: i64,
        reason: &str,
        event: &Event,
    ) -> StoreResult<Revoked>;
}

#[async_trait]
pub trait RevocationStore: Send + Sync {
    /// Writes a revocation record that is not tied to one session row (a user, namespace or
    /// global cutoff) and returns its sequence number.
    async fn record_revocation(&self, target: &RevocationTarget, at: i64) -> StoreResult<i64>;
    /// The highest sequence number in the feed (0 when empty).
    async fn revocation_head(&self) -> StoreResult<i64>;
    /// Records with `seq > after_seq` and `at >= min_at`, oldest first, at most `limit`. Records
    /// become visible in sequence order: once a reader sees `seq` N, no record below N can
    /// appear later (so a cursor can never skip one).
    async fn revocations(
        &self,
        after_seq: i64,
        min_at: i64,
        limit: i64,
    ) -> StoreResult<Vec<Revocation>>;
}

#[async_trait]
pub trait KeyStore: Send + Sync {
    async fn keys(&self) -> StoreResult<Vec<KeyRecord>>;
    /// Inserts `keys` only if no key of their algorithm is `current` yet, atomically, so nodes
    /// that start together end with one key set. Returns whether they were inserted.
    async fn init_keys(&self, alg: &str, keys: &[KeyRecord]) -> StoreResult<bool>;
    /// Rotates the keys of `new_next.alg`, only if `expected_current` is still the current key:
    /// it becomes `retiring` (at `at`), the `next` key becomes `current`, and `new_next` is
    /// added. One transaction, with `event`; `false` if another rotation got there first.
    async fn rotate_keys(
        &self,
        expected_current: &str,
        new_next: &KeyRecord,
        at: i64,
        event: &Event,
    ) -> StoreResult<bool>;
}

#[async_trait]
pub trait EventStore: Send + Sync {
    async fn record_event(&self, event: &Event) -> StoreResult<()>;
    /// Newest first, optionally filtered.
    async fn events(
        &self,
        user_id: Option<Uuid>,
        kind: Option<&str>,
        limit: i64,
    ) -> StoreResult<Vec<Event>>;
}

/// Email tokens and the outbox (API.md §7). A mail is written in the transaction of the change
/// that causes it, and workers on any number of nodes claim each one for themselves.
#[async_trait]
pub trait MailStore: Send + Sync {
    /// Writes `token` and, if given, its `mail`, with `event`, in one transaction; unless
    /// `throttle_since` is given and a mail of the same kind was queued for the user at or after
    /// it: then nothing is written, and `false`.
    async fn issue_email_token(
        &self,
        token: &EmailToken,
        mail: Option<&OutboxMail>,
        event: &Event,
        throttle_since: Option<i64>,
    ) -> StoreResult<bool>;
    /// The user of the unused, unexpired token with this hash and kind.
    async fn email_token_user(
        &self,
        hash: &[u8],
        kind: &str,
        now: i64,
    ) -> StoreResult<Option<Uuid>>;
    /// A password reset, in one transaction: the token is used (if it still was live), every
    /// other reset token of the user dies, the password hash and change time are set, the
    /// email counts as verified, `mail` is queued and `event` written. `None` if the token was
    /// not live.
    async fn reset_password(
        &self,
        hash: &[u8],
        now: i64,
        password_hash: &str,
        mail: &OutboxMail,
        event: &Event,
    ) -> StoreResult<Option<Uuid>>;
    /// Uses a live verification token and marks the user's email verified, with `event`.
    async fn verify_email(&self, hash: &[u8], now: i64, event: &Event)
    -> StoreResult<Option<Uuid>>;
    /// Queues a notice (no token goes with it).
    async fn enqueue_mail(&self, mail: &OutboxMail) -> StoreResult<()>;
    /// Claims up to `limit` due mails until `now + lease_ms`; no other caller gets them before
    /// that (PostgreSQL: `FOR UPDATE SKIP LOCKED`).
    async fn claim_mail(
        &self,
        now: i64,
        lease_ms: i64,
        limit: i64,
    ) -> StoreResult<Vec<ClaimedMail>>;
    /// Sent: the message is dropped from the row.
    async fn mail_sent(&self, id: Uuid, now: i64) -> StoreResult<()>;
    /// Not sent: tried again at `retry_at`, or given up (`None`, the message dropped).
    async fn mail_failed(
        &self,
        id: Uuid,
        now: i64,
        retry_at: Option<i64>,
        error: &str,
    ) -> StoreResult<()>;
    async fn mail_counts(&self) -> StoreResult<MailCounts>;
}

/// The whole family, as the engine holds it.
/// Second factors, recovery codes and the two-step login (API.md §9). Every one-time thing (a
/// TOTP time step, a recovery code, an mfa token's attempts) is claimed with one statement, so
/// two nodes can never both accept it.
#[async_trait]
pub trait FactorStore: Send + Sync {
    /// Adds a pending factor.
    async fn add_factor(&self, factor: &Factor) -> StoreResult<()>;
    /// The user's factors, oldest first: confirmed ones, and pending ones unexpired at `now`.
    async fn factors(&self, user_id: Uuid, now: i64) -> StoreResult<Vec<Factor>>;
    /// Confirms the user's pending factor `id` (unexpired at `now`), accepting its TOTP time step
    /// `step` (-1: none), with `event`; with `recovery`, the user's recovery codes become these
    /// hashes in the same transaction. `false` if there was no such pending factor.
    async fn confirm_factor(
        &self,
        id: Uuid,
        user_id: Uuid,
        step: i64,
        now: i64,
        recovery: Option<&[Vec<u8>]>,
        event: &Event,
    ) -> StoreResult<bool>;
    /// Accepts TOTP time step `step` of the confirmed factor `id`: one compare-and-set, so a step
    /// (or an earlier one) is accepted once, whichever node asks. `false` if it was already.
    async fn claim_step(&self, id: Uuid, step: i64, now: i64) -> StoreResult<bool>;
    /// Removes the user's factor `id`, with `event`; removing the last confirmed factor takes the
    /// recovery codes with it. `false` if there was no such factor.
    async fn remove_factor(&self, id: Uuid, user_id: Uuid, event: &Event) -> StoreResult<bool>;
    /// Removes every factor and recovery code of the user, with `event` (an admin's reset for a
    /// user who lost their devices); how many factors went.
    async fn remove_all_factors(&self, user_id: Uuid, event: &Event) -> StoreResult<u64>;
    /// Replaces the user's recovery codes with these hashes, with `event`.
    async fn replace_recovery_codes(
        &self,
        user_id: Uuid,
        hashes: &[Vec<u8>],
        event: &Event,
    ) -> StoreResult<()>;
    /// Uses the user's unused recovery code with this hash, with `event`. `false` if none.
    async fn use_recovery_code(
        &self,
        user_id: Uuid,
        hash: &[u8],
        now: i64,
        event: &Event,
    ) -> StoreResult<bool>;
    /// How many of the user's recovery codes are unused.
    async fn recovery_codes_left(&self, user_id: Uuid) -> StoreResult<i64>;
    /// Keeps the first step of a login.
    async fn add_mfa_token(&self, token: &MfaToken) -> StoreResult<()>;
    /// The mfa token with this hash, if unexpired at `now`.
    async fn mfa_token(&self, hash: &[u8], now: i64) -> StoreResult<Option<MfaToken>>;
    /// Counts a wrong code against the token; the attempts after it (0: no such token). At `max`
    /// the token is deleted in the same statement's transaction.
    async fn mfa_token_failed(&self, hash: &[u8], max: i64) -> StoreResult<i64>;
    /// Takes (deletes and returns) the token with this hash if unexpired at `now`: single use,
    /// whichever node finishes the login.
    async fn take_mfa_token(&self, hash: &[u8], now: i64) -> StoreResult<Option<MfaToken>>;
    /// Adds a confirmed passkey factor with its credential id, in one transaction with `event`
    /// and, for the user's first factor, these recovery code hashes. [`StoreError::Conflict`]
    /// (and nothing written) when the credential id is anyone's already.
    async fn add_passkey(
        &self,
        factor: &Factor,
        credential_id: &[u8],
        recovery: Option<&[Vec<u8>]>,
        event: &Event,
    ) -> StoreResult<()>;
    /// The confirmed passkey factor with this credential id.
    async fn factor_by_credential(&self, credential_id: &[u8]) -> StoreResult<Option<Factor>>;
    /// Records a passkey's use: its signature counter (which must exceed the stored one whenever
    /// either is non-zero: one compare-and-set, so a clone loses on every node) and its updated
    /// credential. `false` if the counter did not advance.
    async fn use_passkey(
        &self,
        id: Uuid,
        counter: i64,
        sealed: &[u8],
        now: i64,
    ) -> StoreResult<bool>;
    /// Keeps a ceremony (and drops the ones expired at `now`).
    async fn add_ceremony(&self, ceremony: &Ceremony, now: i64) -> StoreResult<()>;
    /// Takes (deletes and returns) ceremony `id` if unexpired at `now`: single use.
    async fn take_ceremony(&self, id: Uuid, now: i64) -> StoreResult<Option<Ceremony>>;
}

#[async_trait]
pub trait Store:
    UserStore
    + RoleStore
    + SessionStore
    + RevocationStore
    + KeyStore
    + EventStore
    + MailStore
    + FactorStore
{
    /// Cheap round trip for readiness checks.
    async fn ping(&self) -> StoreResult<()>;

    /// A session and its user (`None` if the user is gone), as one read where the backend can
    /// make it one: a refresh needs both. `None` if there is no such session.
    async fn session_with_user(&self, id: Uuid) -> StoreResult<Option<(Session, Option<User>)>> {
        let Some(session) = self.session(id).await? else {
            return Ok(None);
        };
        let user = self.user_by_id(session.user_id).await?;
        Ok(Some((session, user)))
    }
}
