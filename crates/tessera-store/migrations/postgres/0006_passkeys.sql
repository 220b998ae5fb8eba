-- Passkeys (API.md §9.3). A passkey is a factor (kind 'passkey': the WebAuthn library's
-- credential sealed in `sealed`, its signature counter in `last_step`); its credential id
-- belongs to one user only. A ceremony is the server's half of a WebAuthn exchange: single use
-- (taken by the statement that finishes it), five minutes.
CREATE TABLE passkey_credentials (
    credential_id BYTEA PRIMARY KEY,
    factor_id     TEXT NOT NULL UNIQUE REFERENCES factors(id) ON DELETE CASCADE
);

CREATE TABLE ceremonies (
    id         TEXT PRIMARY KEY,
    kind       TEXT NOT NULL,
    user_id    TEXT REFERENCES users(id) ON DELETE CASCADE,
    data       TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX ceremonies_by_expiry ON ceremonies (expires_at);
