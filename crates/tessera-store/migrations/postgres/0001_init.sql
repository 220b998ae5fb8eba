-- Tessera schema v1 (PostgreSQL). Ids are UUID strings; times are unix milliseconds, as in SQLite,
-- so one set of statements serves both.
CREATE TABLE users (
    id                  TEXT PRIMARY KEY,
    email               TEXT NOT NULL UNIQUE,
    password_hash       TEXT NOT NULL,
    roles               TEXT NOT NULL DEFAULT '[]',
    banned              BOOLEAN NOT NULL DEFAULT FALSE,
    created_at          BIGINT NOT NULL,
    password_changed_at BIGINT NOT NULL
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
    created_at          BIGINT NOT NULL,
    last_active_at      BIGINT NOT NULL,
    expires_at          BIGINT NOT NULL,
    absolute_expires_at BIGINT NOT NULL,
    ip                  TEXT,
    user_agent          TEXT,
    refresh_count       BIGINT NOT NULL,
    generation          BIGINT NOT NULL,
    secret_hash         BYTEA NOT NULL,
    prev_secret_hash    BYTEA,
    rotated_at          BIGINT,
    revoked_at          BIGINT,
    revoke_reason       TEXT
);
CREATE INDEX sessions_by_user ON sessions (user_id, last_active_at);
CREATE INDEX sessions_by_namespace ON sessions (namespace);

-- The feed every node polls: one row per revocation, ordered by seq.
CREATE TABLE revocations (
    seq    BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind   TEXT NOT NULL,
    target TEXT,
    at     BIGINT NOT NULL
);
CREATE INDEX revocations_by_at ON revocations (at);

CREATE TABLE signing_keys (
    kid            TEXT PRIMARY KEY,
    alg            TEXT NOT NULL,
    state          TEXT NOT NULL,
    created_at     BIGINT NOT NULL,
    activated_at   BIGINT,
    retired_at     BIGINT,
    private_sealed BYTEA NOT NULL
);
-- One signing key per algorithm: nodes that start together end up with one key set.
CREATE UNIQUE INDEX one_current_key_per_alg ON signing_keys (alg) WHERE state = 'current';

CREATE TABLE events (
    id         TEXT PRIMARY KEY,
    type       TEXT NOT NULL,
    at         BIGINT NOT NULL,
    user_id    TEXT,
    session_id TEXT,
    ip         TEXT,
    user_agent TEXT,
    detail     TEXT NOT NULL
);
CREATE INDEX events_by_at ON events (at);
CREATE INDEX events_by_user ON events (user_id, at);
