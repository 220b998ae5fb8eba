-- Tessera schema v1 (SQLite). Ids are UUID strings; times are unix milliseconds.
CREATE TABLE users (
    id                  TEXT PRIMARY KEY,
    email               TEXT NOT NULL UNIQUE,
    password_hash       TEXT NOT NULL,
    roles               TEXT NOT NULL DEFAULT '[]',
    banned              INTEGER NOT NULL DEFAULT 0,
    created_at          INTEGER NOT NULL,
    password_changed_at INTEGER NOT NULL
);

-- Roles and the permissions they grant (a JSON array of strings).
CREATE TABLE roles (
    name        TEXT PRIMARY KEY,
    permissions TEXT NOT NULL DEFAULT '[]'
);

CREATE TABLE sessions (
    id                  TEXT PRIMARY KEY,
    user_id             TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    namespace           TEXT NOT NULL,
    created_at          INTEGER NOT NULL,
    last_active_at      INTEGER NOT NULL,
    expires_at          INTEGER NOT NULL,
    absolute_expires_at INTEGER NOT NULL,
    ip                  TEXT,
    user_agent          TEXT,
    refresh_count       INTEGER NOT NULL,
    generation          INTEGER NOT NULL,
    secret_hash         BLOB NOT NULL,
    prev_secret_hash    BLOB,
    rotated_at          INTEGER,
    revoked_at          INTEGER,
    revoke_reason       TEXT
);
CREATE INDEX sessions_by_user ON sessions (user_id, last_active_at);
CREATE INDEX sessions_by_namespace ON sessions (namespace);

-- The feed every node polls: one row per revocation, ordered by seq.
CREATE TABLE revocations (
    seq    INTEGER PRIMARY KEY AUTOINCREMENT,
    kind   TEXT NOT NULL,
    target TEXT,
    at     INTEGER NOT NULL
);
CREATE INDEX revocations_by_at ON revocations (at);

CREATE TABLE signing_keys (
    kid            TEXT PRIMARY KEY,
    alg            TEXT NOT NULL,
    state          TEXT NOT NULL,
    created_at     INTEGER NOT NULL,
    activated_at   INTEGER,
    retired_at     INTEGER,
    private_sealed BLOB NOT NULL
);
-- One signing key per algorithm: nodes that start together end up with one key set.
CREATE UNIQUE INDEX one_current_key_per_alg ON signing_keys (alg) WHERE state = 'current';

CREATE TABLE events (
    id         TEXT PRIMARY KEY,
    type       TEXT NOT NULL,
    at         INTEGER NOT NULL,
    user_id    TEXT,
    session_id TEXT,
    ip         TEXT,
    user_agent TEXT,
    detail     TEXT NOT NULL
);
CREATE INDEX events_by_at ON events (at);
CREATE INDEX events_by_user ON events (user_id, at);
