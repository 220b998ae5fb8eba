-- DPoP (API.md §10): the thumbprint of the key a session is bound to, for life. Sessions before
-- this, and sessions opened without a proof, are not bound.
ALTER TABLE sessions ADD COLUMN dpop_jkt TEXT;
