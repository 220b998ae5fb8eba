-- The database's ceiling for one refresh: a single-row UPDATE and SELECT in one transaction.
\set id random(1, 64)
BEGIN;
UPDATE bench_rows SET v = v + 1 WHERE id = :id;
SELECT v FROM bench_rows WHERE id = :id;
END;
