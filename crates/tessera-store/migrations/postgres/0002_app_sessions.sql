-- Sessions for apps (API.md §8): the app's claims per user and per session, and when the user
-- last proved a credential in a session (the tokens' auth_time; for existing sessions, their start).
ALTER TABLE users ADD COLUMN claims TEXT NOT NULL DEFAULT '{}';
ALTER TABLE sessions ADD COLUMN claims TEXT NOT NULL DEFAULT '{}';
ALTER TABLE sessions ADD COLUMN auth_time BIGINT NOT NULL DEFAULT 0;
UPDATE sessions SET auth_time = created_at;
