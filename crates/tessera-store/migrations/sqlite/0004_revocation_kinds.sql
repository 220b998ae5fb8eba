-- One spelling per revocation kind, on the wire and in storage (tessera-revocation's): the
-- records of a user in a namespace were stored as 'user_ns'.
UPDATE revocations SET kind = 'user_namespace' WHERE kind = 'user_ns';
