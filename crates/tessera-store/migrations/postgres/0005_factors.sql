-- Second factors (API.md §9): one row per factor whatever its kind, the kind's secret data
-- sealed with the master key; recovery codes as hashes only; the first step of a two-step login.
CREATE TABLE factors (
    id           TEXT PRIMARY KEY,
    user_id      TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    kind         TEXT NOT NULL,
    name         TEXT NOT NULL,
    sealed       BYTEA NOT NULL,
    confirmed    BOOLEAN NOT NULL DEFAULT FALSE,
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT,
    last_used_at BIGINT,
    last_step    BIGINT NOT NULL DEFAULT -1
);
CREATE INDEX factors_by_user ON factors (user_id);

CREATE TABLE recovery_codes (
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    hash    BYTEA NOT NULL,
    used_at BIGINT,
    PRIMARY KEY (user_id, hash)
);

CREATE TABLE mfa_tokens (
    hash       BYTEA PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    attempts   BIGINT NOT NULL DEFAULT 0,
    namespace  TEXT NOT NULL,
    transport  TEXT NOT NULL
);

-- What each session proved: its assurance level, its methods (RFC 8176, a JSON array) and the
-- second factor it used. Sessions before this were opened with a password alone.
ALTER TABLE sessions ADD COLUMN acr TEXT NOT NULL DEFAULT 'aal1';
ALTER TABLE sessions ADD COLUMN amr TEXT NOT NULL DEFAULT '["pwd"]';
ALTER TABLE sessions ADD COLUMN factor_id TEXT;
