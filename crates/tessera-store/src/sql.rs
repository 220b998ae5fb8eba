//! Every statement both SQL stores run, written once. The PostgreSQL store (`postgres/store.rs`,
//! sqlx) and the SQLite store (`sqlite/store.rs`, rusqlite) bind the same text; only the binding
//! code is per backend.
//!
//! Statements use `$N` placeholders and constructs both databases accept (`IS DISTINCT FROM`,
//! `CASE`, `RETURNING`, `ON CONFLICT`, partial unique indexes). The dialects differ in one place
//! each:
//! - placeholders: SQLite reads `$1` as a *named* parameter and numbers those by first
//!   appearance, so `SET a = $2 WHERE b = $1` would bind backwards; every statement is therefore
//!   also compiled (at build time, by [`sqlite_form`]) with `?N`, which SQLite numbers as written;
//! - the rotation of every refresh: PostgreSQL writes the UPDATE and its event in one statement
//!   (a data-modifying CTE, one round trip: [`ROTATE_SESSION_WITH_EVENT`]); SQLite has no
//!   data-modifying CTEs, and runs [`ROTATE_SESSION`] and [`INSERT_EVENT`] in one transaction on
//!   its writer thread, where round trips cost nothing.
//!
//! The DDL (`migrations/`) is per dialect too.

/// One statement, in each dialect's placeholder form.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Stmt {
    /// `$N` placeholders.
    pub pg: &'static str,
    /// The same with `?N`.
    pub sqlite: &'static str,
}

/// `$N` → `?N`, byte for byte (the statements have no `$` anywhere else).
pub(crate) const fn sqlite_form<const N: usize>(sql: &str) -> [u8; N] {
    let b = sql.as_bytes();
    let mut out = [0u8; N];
    let mut i = 0;
    while i < N {
        out[i] = if b[i] == b'$' { b'?' } else { b[i] };
        i += 1;
    }
    out
}

macro_rules! statements {
    ($($(#[$doc:meta])* $name:ident = $text:expr;)*) => {
        $(
            $(#[$doc])*
            pub(crate) const $name: Stmt = {
                const TEXT: &str = $text;
                const SQLITE: [u8; TEXT.len()] = sqlite_form(TEXT);
                Stmt {
                    pg: TEXT,
                    sqlite: match std::str::from_utf8(&SQLITE) {
                        Ok(s) => s,
                        Err(_) => panic!("a statement is not UTF-8"),
                    },
                }
            };
        )*
    };
}

/// The columns of a session row, in `Session` field order.
macro_rules! session_columns {
    () => {
        "id, user_id, namespace, created_at, last_active_at, expires_at, absolute_expires_at, ip, user_agent, refresh_count, generation, secret_hash, prev_secret_hash, rotated_at, revoked_at, revoke_reason, claims, auth_time, acr, amr, factor_id, dpop_jkt"
    };
}

statements! {
    INSERT_USER = "INSERT INTO users (id, email, password_hash, roles, banned, created_at, password_changed_at, claims, email_verified) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)";
    USER_BY_EMAIL = "SELECT * FROM users WHERE email = $1";
    USER_BY_ID = "SELECT * FROM users WHERE id = $1";
    SET_PASSWORD_HASH = "UPDATE users SET password_hash = $1, password_changed_at = COALESCE($2, password_changed_at) WHERE id = $3";
    USERS = "SELECT * FROM users ORDER BY created_at DESC, id DESC LIMIT $1";
    /// Before the user row (whose deletion would cascade to them unseen): what the cutoff needs.
    DELETE_USER_SESSIONS = "DELETE FROM sessions WHERE user_id = $1 RETURNING last_active_at, revoked_at";
    DELETE_USER = "DELETE FROM users WHERE id = $1";
    SET_USER_ROLES = "UPDATE users SET roles = $1 WHERE id = $2";
    SET_BANNED = "UPDATE users SET banned = $1 WHERE id = $2";
    SET_USER_CLAIMS = "UPDATE users SET claims = $1 WHERE id = $2";
    /// The user's claims, its row locked until the transaction ends (PostgreSQL; SQLite's
    /// writes are one at a time already), so claims and sessions are checked against each other.
    LOCK_USER_CLAIMS = "SELECT claims FROM users WHERE id = $1 FOR UPDATE";
    USER_CLAIMS = "SELECT claims FROM users WHERE id = $1";
    LIVE_SESSION_CLAIMS = "SELECT claims FROM sessions WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > $2";
    /// Opening sessions one at a time per user (PostgreSQL; SQLite's single writer already
    /// serialises), so concurrent logins cannot both fit under the session limit.
    LOCK_USER = "SELECT id FROM users WHERE id = $1 FOR UPDATE";

    ROLES = "SELECT name, permissions FROM roles ORDER BY name";
    PUT_ROLE = "INSERT INTO roles (name, permissions) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET permissions = excluded.permissions";
    DELETE_ROLE = "DELETE FROM roles WHERE name = $1";
    /// Roles are a JSON array per user: the users that may carry one (`$1` is its JSON string).
    ROLE_HOLDERS = "SELECT id, roles FROM users WHERE roles LIKE '%' || $1 || '%'";

    INSERT_SESSION = concat!("INSERT INTO sessions (", session_columns!(), ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22)");
    SESSION = concat!("SELECT ", session_columns!(), " FROM sessions WHERE id = $1");
    /// A session and its user in one statement (PostgreSQL's refresh: one round trip, not two).
    /// The user's columns are named `u_…` (all NULL when the user is gone).
    SESSION_WITH_USER = concat!("SELECT * FROM (SELECT ", session_columns!(), " FROM sessions WHERE id = $1) s LEFT JOIN LATERAL (SELECT id AS u_id, email AS u_email, password_hash AS u_password_hash, roles AS u_roles, banned AS u_banned, created_at AS u_created_at, password_changed_at AS u_password_changed_at, claims AS u_claims, email_verified AS u_email_verified FROM users WHERE id = s.user_id) u ON true");
    LIVE_SESSIONS = concat!("SELECT ", session_columns!(), " FROM sessions WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > $2 ORDER BY last_active_at DESC, id DESC");
    /// The one conditional write of a refresh: whoever loses re-reads; a revocation makes it
    /// fail. `last_active_at` only rises: it is the newest token stamp of the session.
    ROTATE_SESSION = "UPDATE sessions SET generation = $1, secret_hash = $2, prev_secret_hash = $3, rotated_at = $4, last_active_at = CASE WHEN last_active_at < $4 THEN $4 ELSE last_active_at END, expires_at = $5, refresh_count = $6 WHERE id = $7 AND generation = $8 AND revoked_at IS NULL";
    /// [`ROTATE_SESSION`] and its event in one statement (PostgreSQL): the event is written only
    /// for the row the UPDATE changed.
    ROTATE_SESSION_WITH_EVENT = "WITH won AS (UPDATE sessions SET generation = $1, secret_hash = $2, prev_secret_hash = $3, rotated_at = $4, last_active_at = CASE WHEN last_active_at < $4 THEN $4 ELSE last_active_at END, expires_at = $5, refresh_count = $6 WHERE id = $7 AND generation = $8 AND revoked_at IS NULL RETURNING id) \
        INSERT INTO events (id, type, at, user_id, session_id, ip, user_agent, detail) SELECT $9, $10, $11, $12, $13, $14, $15, $16 FROM won";
    /// `[sessions] max_per_user`: revokes the user's live sessions (at `$1`) beyond the `$4`
    /// most recently active. (A LIMIT is there because SQLite accepts OFFSET only after one.)
    EVICT_SESSIONS = "UPDATE sessions SET revoked_at = $1, revoke_reason = $2 WHERE id IN (SELECT id FROM sessions WHERE user_id = $3 AND revoked_at IS NULL AND expires_at > $1 ORDER BY last_active_at DESC, id DESC LIMIT 1000000000 OFFSET $4) RETURNING id, user_id";
    /// A device (user agent) this user had in a session active since `$3`.
    SEEN_DEVICE = "SELECT 1 FROM sessions WHERE user_id = $1 AND user_agent IS NOT DISTINCT FROM $2 AND last_active_at >= $3 LIMIT 1";
    /// A reauthentication: `auth_time` moves, and `last_active_at` rises to the new token's stamp.
    REAUTHENTICATE_SESSION = "UPDATE sessions SET auth_time = $1, last_active_at = CASE WHEN last_active_at < $1 THEN $1 ELSE last_active_at END WHERE id = $2 AND revoked_at IS NULL";
    TOUCH_SESSION = "UPDATE sessions SET last_active_at = CASE WHEN last_active_at < $1 THEN $1 ELSE last_active_at END WHERE id = $2 AND generation = $3 AND revoked_at IS NULL";
    /// Marks and returns exactly the sessions this call revoked, so two concurrent revocations
    /// never both record the same session.
    REVOKE_SESSION = "UPDATE sessions SET revoked_at = $1, revoke_reason = $2 WHERE id = $3 AND revoked_at IS NULL RETURNING id, user_id";
    REVOKE_USER_SESSIONS = "UPDATE sessions SET revoked_at = $1, revoke_reason = $2 WHERE user_id = $3 AND revoked_at IS NULL AND id IS DISTINCT FROM $4 RETURNING id, user_id";
    REVOKE_FACTOR_SESSIONS = "UPDATE sessions SET revoked_at = $1, revoke_reason = $2 WHERE user_id = $3 AND factor_id = $4 AND revoked_at IS NULL RETURNING id, user_id";
    /// What a live session proved, raised after a second factor (its next token says so).
    SET_SESSION_PROOF = "UPDATE sessions SET acr = $1, amr = $2, factor_id = $3 WHERE id = $4 AND revoked_at IS NULL";
    /// A bulk revocation: a namespace (`$3`), a user (`$4`, optionally in namespace `$3`), or
    /// all (both NULL). Returns each revoked session's newest token stamp, for the cutoff.
    REVOKE_BULK = "UPDATE sessions SET revoked_at = $1, revoke_reason = $2 WHERE revoked_at IS NULL AND ($3 IS NULL OR namespace = $3) AND ($4 IS NULL OR user_id = $4) RETURNING last_active_at";

    INSERT_REVOCATION = "INSERT INTO revocations (kind, target, at) VALUES ($1, $2, $3) RETURNING seq";
    REVOCATION_HEAD = "SELECT COALESCE(MAX(seq), 0) FROM revocations";
    REVOCATIONS = "SELECT seq, kind, target, at FROM revocations WHERE seq > $1 AND at >= $2 ORDER BY seq LIMIT $3";

    KEYS = "SELECT kid, alg, state, created_at, activated_at, retired_at, private_sealed FROM signing_keys";
    CURRENT_KEY = "SELECT kid FROM signing_keys WHERE alg = $1 AND state = 'current'";
    INSERT_KEY = "INSERT INTO signing_keys (kid, alg, state, created_at, activated_at, retired_at, private_sealed) VALUES ($1, $2, $3, $4, $5, $6, $7)";
    /// Each step of a rotation is conditional on the state it expects, so of two concurrent
    /// rotations the second finds nothing to change and rolls back.
    RETIRE_KEY = "UPDATE signing_keys SET state = 'retiring', retired_at = $1 WHERE kid = $2 AND alg = $3 AND state = 'current'";
    PROMOTE_KEY = "UPDATE signing_keys SET state = 'current', activated_at = $1 WHERE alg = $2 AND state = 'next'";

    INSERT_EVENT = "INSERT INTO events (id, type, at, user_id, session_id, ip, user_agent, detail) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";
    EVENTS = "SELECT * FROM events WHERE ($1 IS NULL OR user_id = $1) AND ($2 IS NULL OR type = $2) ORDER BY at DESC, id DESC LIMIT $3";

    PING = "SELECT 1";

    INSERT_EMAIL_TOKEN = "INSERT INTO email_tokens (hash, user_id, kind, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)";
    /// Whether a mail of this kind was queued for the user since `$3` (one a minute).
    RECENT_MAIL = "SELECT 1 FROM outbox WHERE user_id = $1 AND kind = $2 AND created_at >= $3 LIMIT 1";
    INSERT_MAIL = "INSERT INTO outbox (id, user_id, kind, sealed, created_at, next_attempt_at) VALUES ($1, $2, $3, $4, $5, $5)";
    EMAIL_TOKEN_USER = "SELECT user_id FROM email_tokens WHERE hash = $1 AND kind = $2 AND used_at IS NULL AND expires_at > $3";
    /// Uses a token, only if it is still live: of two concurrent uses, one wins.
    USE_EMAIL_TOKEN = "UPDATE email_tokens SET used_at = $1 WHERE hash = $2 AND kind = $3 AND used_at IS NULL AND expires_at > $1 RETURNING user_id";
    USE_USER_EMAIL_TOKENS = "UPDATE email_tokens SET used_at = $1 WHERE user_id = $2 AND kind = $3 AND used_at IS NULL";
    INSERT_FACTOR = "INSERT INTO factors (id, user_id, kind, name, sealed, confirmed, created_at, expires_at, last_used_at, last_step) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)";
    FACTORS = "SELECT id, user_id, kind, name, sealed, confirmed, created_at, expires_at, last_used_at, last_step FROM factors WHERE user_id = $1 AND (confirmed OR expires_at > $2) ORDER BY created_at, id";
    CONFIRM_FACTOR = "UPDATE factors SET confirmed = TRUE, expires_at = NULL, last_step = $1, last_used_at = $2 WHERE id = $3 AND user_id = $4 AND NOT confirmed AND expires_at > $2";
    /// The compare-and-set that accepts each TOTP time step once, on every node.
    CLAIM_STEP = "UPDATE factors SET last_step = $1, last_used_at = $2 WHERE id = $3 AND confirmed AND last_step < $1";
    DELETE_FACTOR = "DELETE FROM factors WHERE id = $1 AND user_id = $2";
    /// A credential id belongs to one user only: the primary key refuses a second.
    INSERT_PASSKEY_CREDENTIAL = "INSERT INTO passkey_credentials (credential_id, factor_id) VALUES ($1, $2)";
    FACTOR_BY_CREDENTIAL = "SELECT f.id, f.user_id, f.kind, f.name, f.sealed, f.confirmed, f.created_at, f.expires_at, f.last_used_at, f.last_step FROM factors f JOIN passkey_credentials p ON p.factor_id = f.id WHERE p.credential_id = $1 AND f.confirmed";
    /// The compare-and-set of a passkey's signature counter ($1): it must exceed the stored one
    /// whenever either is non-zero (WebAuthn §6.1.1), so a cloned authenticator loses the race.
    USE_PASSKEY = "UPDATE factors SET last_step = $1, sealed = $2, last_used_at = $3 WHERE id = $4 AND confirmed AND (last_step < $1 OR ($1 = 0 AND last_step <= 0))";
    INSERT_CEREMONY = "INSERT INTO ceremonies (id, kind, user_id, data, expires_at) VALUES ($1, $2, $3, $4, $5)";
    DELETE_EXPIRED_CEREMONIES = "DELETE FROM ceremonies WHERE expires_at <= $1";
    TAKE_CEREMONY = "DELETE FROM ceremonies WHERE id = $1 RETURNING id, kind, user_id, data, expires_at";
    DELETE_USER_FACTORS = "DELETE FROM factors WHERE user_id = $1";
    /// Recovery codes outlive no confirmed factor.
    DELETE_ORPHAN_RECOVERY_CODES = "DELETE FROM recovery_codes WHERE user_id = $1 AND NOT EXISTS (SELECT 1 FROM factors WHERE user_id = $1 AND confirmed)";
    DELETE_RECOVERY_CODES = "DELETE FROM recovery_codes WHERE user_id = $1";
    INSERT_RECOVERY_CODE = "INSERT INTO recovery_codes (user_id, hash) VALUES ($1, $2)";
    USE_RECOVERY_CODE = "UPDATE recovery_codes SET used_at = $1 WHERE user_id = $2 AND hash = $3 AND used_at IS NULL";
    RECOVERY_CODES_LEFT = "SELECT COUNT(*) FROM recovery_codes WHERE user_id = $1 AND used_at IS NULL";
    INSERT_MFA_TOKEN = "INSERT INTO mfa_tokens (hash, user_id, created_at, expires_at, attempts, namespace, transport) VALUES ($1, $2, $3, $4, $5, $6, $7)";
    MFA_TOKEN = "SELECT hash, user_id, created_at, expires_at, attempts, namespace, transport FROM mfa_tokens WHERE hash = $1 AND expires_at > $2";
    MFA_TOKEN_FAILED = "UPDATE mfa_tokens SET attempts = attempts + 1 WHERE hash = $1 RETURNING attempts";
    DELETE_MFA_TOKEN = "DELETE FROM mfa_tokens WHERE hash = $1";
    TAKE_MFA_TOKEN = "DELETE FROM mfa_tokens WHERE hash = $1 RETURNING hash, user_id, created_at, expires_at, attempts, namespace, transport";
    RESET_USER_PASSWORD = "UPDATE users SET password_hash = $1, password_changed_at = $2, email_verified = TRUE WHERE id = $3";
    VERIFY_USER_EMAIL = "UPDATE users SET email_verified = TRUE WHERE id = $1";
    /// A worker claims due mails for a lease (SQLite: its single writer makes this atomic).
    CLAIM_MAIL = "UPDATE outbox SET locked_until = $1 + $2, attempts = attempts + 1 WHERE id IN (SELECT id FROM outbox WHERE sent_at IS NULL AND failed_at IS NULL AND next_attempt_at <= $1 AND locked_until <= $1 ORDER BY next_attempt_at, id LIMIT $3) RETURNING id, kind, sealed, attempts";
    /// The same on PostgreSQL: rows another worker is claiming are skipped, not waited for.
    CLAIM_MAIL_PG = "UPDATE outbox SET locked_until = $1 + $2, attempts = attempts + 1 WHERE id IN (SELECT id FROM outbox WHERE sent_at IS NULL AND failed_at IS NULL AND next_attempt_at <= $1 AND locked_until <= $1 ORDER BY next_attempt_at, id LIMIT $3 FOR UPDATE SKIP LOCKED) RETURNING id, kind, sealed, attempts";
    MAIL_SENT = "UPDATE outbox SET sent_at = $1, sealed = $2, locked_until = 0 WHERE id = $3";
    MAIL_RETRY = "UPDATE outbox SET next_attempt_at = $1, locked_until = 0, last_error = $2 WHERE id = $3";
    MAIL_GIVEN_UP = "UPDATE outbox SET failed_at = $1, sealed = $2, locked_until = 0, last_error = $3 WHERE id = $4";
    MAIL_COUNTS = "SELECT COALESCE(SUM(CASE WHEN sent_at IS NULL AND failed_at IS NULL THEN 1 ELSE 0 END), 0), COALESCE(SUM(CASE WHEN sent_at IS NOT NULL THEN 1 ELSE 0 END), 0), COALESCE(SUM(CASE WHEN failed_at IS NOT NULL THEN 1 ELSE 0 END), 0) FROM outbox";
}

/// The cutoff of a bulk revocation that revoked sessions whose newest token stamps are `stamps`:
/// the revocation's time, or the newest stamp if later (a node whose clock runs ahead stamped
/// it). Every token of those sessions falls under it (see `tessera_core::store`).
pub(crate) fn cutoff(at: i64, stamps: impl IntoIterator<Item = i64>) -> i64 {
    stamps.into_iter().fold(at, i64::max)
}

/// The `$3` (namespace) and `$4` (user id) of [`REVOKE_BULK`].
pub(crate) fn bulk_params(
    selector: &tessera_core::model::BulkSelector,
) -> (Option<String>, Option<String>) {
    use tessera_core::model::BulkSelector as B;
    match selector {
        B::Namespace(ns) => (Some(ns.clone()), None),
        B::User { user_id, namespace } => (namespace.clone(), Some(user_id.to_string())),
        B::All => (None, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_statements_number_their_placeholders() {
        assert_eq!(
            SET_USER_ROLES.sqlite,
            "UPDATE users SET roles = ?1 WHERE id = ?2"
        );
        assert_eq!(
            SET_USER_ROLES.pg,
            "UPDATE users SET roles = $1 WHERE id = $2"
        );
        assert!(!ROTATE_SESSION_WITH_EVENT.sqlite.contains('$'));
        assert!(SESSION.pg.starts_with("SELECT id, user_id, namespace"));
    }

    #[test]
    fn the_cutoff_covers_the_newest_stamp() {
        assert_eq!(cutoff(10, []), 10);
        assert_eq!(cutoff(10, [3, 7]), 10);
        assert_eq!(cutoff(10, [3, 13, 7]), 13);
    }
}
