//! The embedded SQLite store: one file in WAL mode, `synchronous = NORMAL`, `BEGIN IMMEDIATE`
//! for every read-modify-write.
//!
//! It talks to SQLite through rusqlite rather than sqlx, because of where the time went: sqlx
//! runs each SQLite connection on its own thread and hands every statement (and `BEGIN`,
//! `COMMIT`, the pool's ping) over to it and back, two context switches each. A refresh is six
//! such hand-overs, and under load 44 % of the server's CPU was those threads waking and
//! sleeping (docs/performance.md). Here:
//! - reads run on the calling thread, on a connection taken from a small pool: a read from a
//!   WAL database never waits for the writer, and takes microseconds once pages are cached;
//! - every write (a whole transaction) is one job for the single writer thread, so a refresh
//!   crosses threads once, and writers queue in order instead of sleeping in SQLite's busy
//!   handler;
//! - the writer commits in groups: it takes every job that is waiting (up to [`GROUP`]), runs
//!   each in its own savepoint inside one `BEGIN IMMEDIATE`, commits once and only then answers
//!   them. A job sees the writes of the jobs before it, exactly as if each had committed in
//!   turn; one that fails or returns without committing rolls back its savepoint alone; if the
//!   group's `COMMIT` fails, every job in it is answered with that failure. Under load a commit
//!   (the WAL append, the wake-up of the writer) is shared by the group instead of paid per
//!   write: the largest cost of a refresh on SQLite (docs/performance.md).
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, Savepoint};
use tessera_core::store::{StoreError, StoreResult};

use crate::unix_ms;

mod factors;
#[cfg(test)]
mod group_tests;
mod mail;
mod sessions;
mod store;

/// Embedded migrations: (version, SQL). Applied in order, each once, in its own transaction.
const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("../../migrations/sqlite/0001_init.sql")),
    (
        2,
        include_str!("../../migrations/sqlite/0002_app_sessions.sql"),
    ),
    (3, include_str!("../../migrations/sqlite/0003_email.sql")),
    (
        4,
        include_str!("../../migrations/sqlite/0004_revocation_kinds.sql"),
    ),
    (5, include_str!("../../migrations/sqlite/0005_factors.sql")),
    (6, include_str!("../../migrations/sqlite/0006_passkeys.sql")),
    (7, include_str!("../../migrations/sqlite/0007_dpop.sql")),
];

/// Idle read connections kept for reuse.
const READERS: usize = 8;
/// At most this many writes share one commit.
const GROUP: usize = 64;

/// A write waiting for the writer: given the connection inside the group's transaction (or why
/// there is none), it runs in its own savepoint and returns how to answer its caller once the
/// group's `COMMIT` has succeeded (`None`) or failed.
type Job = Box<dyn FnOnce(Result<&mut Connection, &str>) -> Answer + Send>;
type Answer = Box<dyn FnOnce(Option<&str>) + Send>;

/// See the module docs. Clones share the connections and the writer.
#[derive(Clone)]
pub struct SqliteStore {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    readers: Mutex<Vec<Connection>>,
    /// The writer thread's queue; the thread ends when the last store clone is dropped.
    writer: mpsc::Sender<Job>,
}

fn connect(path: &Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(Duration::from_secs(5))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.set_prepared_statement_cache_capacity(64);
    Ok(conn)
}

/// The database holds password hashes and sealed keys: its file is the owner's alone, also in a
/// folder that existed before (made 0600 before SQLite first opens it, which then gives its
/// `-wal` and `-shm` files the same mode; files left by an earlier version are corrected).
fn owner_only(path: &Path) -> StoreResult<()> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let fail = |e: std::io::Error| {
        StoreError::Unavailable(format!("cannot secure {}: {e}", path.display()))
    };
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(path)
        .map_err(fail)?;
    for suffix in ["", "-wal", "-shm"] {
        let file = PathBuf::from(format!("{}{suffix}", path.display()));
        if let Ok(meta) = std::fs::metadata(&file)
            && meta.permissions().mode() & 0o077 != 0
        {
            std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600))
                .map_err(fail)?;
        }
    }
    Ok(())
}

impl SqliteStore {
    /// Opens (creating if needed) the database file. Call [`SqliteStore::migrate`] before use.
    pub async fn open(path: &Path) -> StoreResult<Self> {
        if let Some(dir) = path
            .parent()
            .filter(|d| !d.as_os_str().is_empty() && !d.exists())
        {
            // The directory holds password hashes and sealed keys: owner only.
            use std::os::unix::fs::DirBuilderExt;
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .map_err(|e| {
                    StoreError::Unavailable(format!("cannot create {}: {e}", dir.display()))
                })?;
        }
        owner_only(path)?;
        let mut writer = connect(path).map_err(map_err)?;
        let (tx, rx) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("tessera-sqlite-writer".into())
            .spawn(move || {
                while let Ok(first) = rx.recv() {
                    let mut group = vec![first];
                    while group.len() < GROUP
                        && let Ok(job) = rx.try_recv()
                    {
                        group.push(job);
                    }
                    commit_group(&mut writer, group);
                }
            })
            .map_err(|e| StoreError::Unavailable(format!("cannot start the writer: {e}")))?;
        Ok(SqliteStore {
            inner: Arc::new(Inner {
                path: path.to_owned(),
                readers: Mutex::new(Vec::new()),
                writer: tx,
            }),
        })
    }

    /// Applies the embedded migrations that are not applied yet. Idempotent and quick.
    pub async fn migrate(&self) -> StoreResult<()> {
        for (version, sql) in MIGRATIONS {
            let applied = self
                .write(move |t| {
                    t.execute("CREATE TABLE IF NOT EXISTS tessera_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)", [])?;
                    let done = t
                        .prepare("SELECT 1 FROM tessera_migrations WHERE version = ?1")?
                        .exists([version])?;
                    if done {
                        return Ok(false);
                    }
                    t.execute_batch(sql)?;
                    t.execute(
                        "INSERT INTO tessera_migrations (version, applied_at) VALUES (?1, ?2)",
                        (version, unix_ms()),
                    )?;
                    t.commit()?;
                    Ok(true)
                })
                .await?;
            if applied {
                tracing::info!(version, "applied SQLite migration");
            }
        }
        Ok(())
    }

    /// Nothing to close: connections close when the last clone is dropped.
    pub async fn close(&self) {}

    /// Runs `f` on a read connection, on this thread.
    fn read<T>(&self, f: impl FnOnce(&Connection) -> rusqlite::Result<T>) -> StoreResult<T> {
        let pooled = self.inner.readers.lock().ok().and_then(|mut r| r.pop());
        let conn = match pooled {
            Some(c) => c,
            None => connect(&self.inner.path).map_err(map_err)?,
        };
        let out = f(&conn).map_err(map_err);
        if let Ok(mut idle) = self.inner.readers.lock()
            && idle.len() < READERS
        {
            idle.push(conn);
        }
        out
    }

    /// Runs `f` on the writer thread, in its own savepoint of a group's `BEGIN IMMEDIATE`
    /// transaction (module docs). `f` commits; returning early (or an error) rolls back. The
    /// answer comes once the group has committed.
    async fn write<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(Savepoint<'_>) -> rusqlite::Result<T> + Send + 'static,
    {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move |conn| {
            let out = match conn {
                Ok(conn) => conn.savepoint().and_then(f).map_err(map_err),
                Err(why) => Err(StoreError::Unavailable(why.to_owned())),
            };
            Box::new(move |failed: Option<&str>| {
                let out = match failed {
                    Some(why) => Err(StoreError::Unavailable(why.to_owned())),
                    None => out,
                };
                let _ = tx.send(out);
            })
        });
        self.inner
            .writer
            .send(job)
            .map_err(|_| StoreError::Unavailable("the SQLite writer stopped".into()))?;
        rx.await
            .map_err(|_| StoreError::Unavailable("the SQLite writer stopped".into()))?
    }
}

/// Runs a group of jobs in one transaction and answers each once it has committed (or not).
fn commit_group(conn: &mut Connection, group: Vec<Job>) {
    if let Err(e) = conn.execute_batch("BEGIN IMMEDIATE") {
        let why = e.to_string();
        for job in group {
            job(Err(&why))(Some(&why));
        }
        return;
    }
    let answers: Vec<Answer> = group.into_iter().map(|job| job(Ok(conn))).collect();
    let failed = conn.execute_batch("COMMIT").err().map(|e| {
        // A failed COMMIT may leave the transaction open; the next group starts clean.
        if !conn.is_autocommit() {
            let _ = conn.execute_batch("ROLLBACK");
        }
        e.to_string()
    });
    for answer in answers {
        answer(failed.as_deref());
    }
}

/// Unique violations are conflicts; values that do not convert are corrupt; the rest (busy, I/O)
/// is the store being unavailable, which the server answers with a retryable 503.
fn map_err(e: rusqlite::Error) -> StoreError {
    use rusqlite::Error as E;
    match &e {
        E::SqliteFailure(f, _)
            if f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
                || f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY =>
        {
            StoreError::Conflict
        }
        E::FromSqlConversionFailure(..)
        | E::InvalidColumnType(..)
        | E::InvalidColumnName(_)
        | E::IntegralValueOutOfRange(..)
        | E::ToSqlConversionFailure(_) => StoreError::Corrupt(e.to_string()),
        _ => StoreError::Unavailable(e.to_string()),
    }
}
