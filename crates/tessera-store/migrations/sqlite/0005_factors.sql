-- Second factors (API.md §9): one row per factor whatever its kind, the kind's secret data
-- sealed with the master key; recovery codes as hashes only; the first step of a two-step login.
CREATE TABLE factors (
    id           TEXT PRIMARY KEY,
    user_id      TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    kind         TEXT NOT NULL,
    name         TEXT NOT NULL,
    sealed       BLOB NOT NULL,
    confirmed    INTEGER NOT NULL DEFAULT 0,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER,
    last_used_at INTEGER,
    last_step    INTEGER NOT NULL DEFAULT -1
);
CREATE INDEX factors_by_user ON factors (user_id);

CREATE TABLE recovery_codes (
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    hash    BLOB NOT NULL,
    used_at INTEGER,
    PRIMARY KEY (user_id, hash)
);

CREATE TABLE mfa_tokens (
    hash       BLOB PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    attempts   INTEGER NOT NULL DEFAULT 0,
    namespace  TEXT NOT NULL,
    transport  TEXT NOT NULL
);

-- What each session proved: its assurance level, its methods (RFC 8176, a JSON array) and the
-- second factor it used. Sessions before this were opened with a password alone.
ALTER TABLE sessions ADD COLUMN acr TEXT NOT NULL DEFAULT 'aal1';
ALTER TABLE sessions ADD COLUMN amr TEXT NOT NULL DEFAULT '["pwd"]';
ALTER TABLE sessions ADD COLUMN factor_id TEXT;
