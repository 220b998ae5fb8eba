//! Every integration test of tessera-store, in one test binary (one link of the crate graph):
//! the conformance suite on SQLite and on PostgreSQL, and the SQLite files' permissions. `pg`
//! makes a fresh PostgreSQL schema per test (skipped with a notice without a database, never
//! under `CI=true`).
mod pg;

mod postgres_conformance;
mod sqlite_conformance;
mod sqlite_files;
