-- Account recovery and email verification (API.md §7).
ALTER TABLE users ADD COLUMN email_verified BOOLEAN NOT NULL DEFAULT FALSE;

-- Reset and verification tokens: only their SHA-256 is kept.
CREATE TABLE email_tokens (
    hash       BYTEA PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    kind       TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at    BIGINT
);
CREATE INDEX email_tokens_by_user ON email_tokens (user_id, kind);

-- Mail to send, written in the transaction that causes it. The message (recipient, subject,
-- bodies) is sealed with the master key, since it may carry a token; it is dropped once sent.
CREATE TABLE outbox (
    id              TEXT PRIMARY KEY,
    user_id         TEXT,
    kind            TEXT NOT NULL,
    sealed          BYTEA NOT NULL,
    created_at      BIGINT NOT NULL,
    attempts        BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    locked_until    BIGINT NOT NULL DEFAULT 0,
    sent_at         BIGINT,
    failed_at       BIGINT,
    last_error      TEXT
);
CREATE INDEX outbox_due ON outbox (next_attempt_at);
CREATE INDEX outbox_by_user ON outbox (user_id, kind, created_at);
