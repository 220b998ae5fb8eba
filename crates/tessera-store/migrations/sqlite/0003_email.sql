-- Account recovery and email verification (API.md §7).
ALTER TABLE users ADD COLUMN email_verified INTEGER NOT NULL DEFAULT 0;

-- Reset and verification tokens: only their SHA-256 is kept.
CREATE TABLE email_tokens (
    hash       BLOB PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    kind       TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at    INTEGER
);
CREATE INDEX email_tokens_by_user ON email_tokens (user_id, kind);

-- Mail to send, written in the transaction that causes it. The message (recipient, subject,
-- bodies) is sealed with the master key, since it may carry a token; it is dropped once sent.
CREATE TABLE outbox (
    id              TEXT PRIMARY KEY,
    user_id         TEXT,
    kind            TEXT NOT NULL,
    sealed          BLOB NOT NULL,
    created_at      INTEGER NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    locked_until    INTEGER NOT NULL DEFAULT 0,
    sent_at         INTEGER,
    failed_at       INTEGER,
    last_error      TEXT
);
CREATE INDEX outbox_due ON outbox (next_attempt_at);
CREATE INDEX outbox_by_user ON outbox (user_id, kind, created_at);
