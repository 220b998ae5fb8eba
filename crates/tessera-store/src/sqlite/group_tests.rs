//! Group commit (module docs of `sqlite`): the writes queued while the writer is busy share one
//! transaction, each in its own savepoint, and are answered only after the group's `COMMIT`.
use std::future::Future;
use std::pin::Pin;
use std::sync::mpsc;
use std::task::{Context, Waker};

use rusqlite::OptionalExtension;
use tessera_core::store::{StoreError, StoreResult};

use super::SqliteStore;

type Pending<'a, T> = Pin<Box<dyn Future<Output = StoreResult<T>> + Send + 'a>>;

/// Polls a write once, which queues its job for the writer, and hands it back to be awaited.
fn queue<T>(write: Pending<'_, T>) -> Pending<'_, T> {
    let mut write = write;
    let mut cx = Context::from_waker(Waker::noop());
    assert!(
        write.as_mut().poll(&mut cx).is_pending(),
        "the writer is held"
    );
    write
}

/// A store with tables of its own.
async fn test_store(dir: &std::path::Path) -> SqliteStore {
    let store = SqliteStore::open(&dir.join("group.db")).await.unwrap();
    store
        .write(|t| {
            t.execute_batch(
                "CREATE TABLE item (v TEXT PRIMARY KEY);
                 CREATE TABLE parent (id INTEGER PRIMARY KEY);
                 CREATE TABLE child (p INTEGER REFERENCES parent (id) DEFERRABLE INITIALLY DEFERRED);",
            )?;
            t.commit()
        })
        .await
        .unwrap();
    store
}

/// The writer held by a job until the sender is used: what is queued meanwhile is one group.
fn hold(store: &SqliteStore) -> (mpsc::Sender<()>, Pending<'_, ()>) {
    let (release, held) = mpsc::channel::<()>();
    let hold = queue(Box::pin(store.write(move |_| {
        let _ = held.recv();
        Ok(())
    })));
    (release, hold)
}

fn insert<'a>(store: &'a SqliteStore, v: &'static str, commit: bool) -> Pending<'a, ()> {
    queue(Box::pin(store.write(move |t| {
        t.execute("INSERT INTO item (v) VALUES (?1)", [v])?;
        if commit {
            t.commit()?;
        }
        Ok(())
    })))
}

async fn has(store: &SqliteStore, v: &'static str) -> bool {
    store
        .read(|c| {
            c.query_row("SELECT 1 FROM item WHERE v = ?1", [v], |_| Ok(()))
                .optional()
        })
        .unwrap()
        .is_some()
}

#[tokio::test]
async fn a_failed_or_uncommitted_write_in_a_group_rolls_back_alone() {
    let dir = tempfile::tempdir().unwrap();
    let store = test_store(dir.path()).await;
    let (release, hold) = hold(&store);
    let a = insert(&store, "a", true);
    let dup = insert(&store, "a", true);
    let uncommitted = insert(&store, "c", false);
    let count = queue(Box::pin(store.write(|t| {
        t.query_row("SELECT count(*) FROM item", [], |r| r.get::<_, i64>(0))
    })));
    let d = insert(&store, "d", true);
    release.send(()).unwrap();
    hold.await.unwrap();
    a.await.unwrap();
    assert!(matches!(dup.await, Err(StoreError::Conflict)));
    uncommitted.await.unwrap();
    assert_eq!(
        count.await.unwrap(),
        1,
        "a later write sees the earlier ones"
    );
    d.await.unwrap();
    assert!(has(&store, "a").await && has(&store, "d").await);
    assert!(
        !has(&store, "c").await,
        "a write that did not commit left a row"
    );
}

/// The proof that the writes share one transaction: a write that only the group's `COMMIT` can
/// refuse (a deferred foreign key) fails every write of its group, and nothing of them stays.
#[tokio::test]
async fn a_group_commits_once_and_a_failed_commit_fails_every_write_in_it() {
    let dir = tempfile::tempdir().unwrap();
    let store = test_store(dir.path()).await;
    let (release, hold) = hold(&store);
    let before = insert(&store, "before", true);
    let orphan = queue(Box::pin(store.write(|t| {
        t.execute("INSERT INTO child (p) VALUES (42)", [])?;
        t.commit()
    })));
    let after = insert(&store, "after", true);
    release.send(()).unwrap();
    let _ = hold.await;
    for (name, answer) in [
        ("before", before.await),
        ("orphan", orphan.await),
        ("after", after.await),
    ] {
        assert!(
            matches!(answer, Err(StoreError::Unavailable(_))),
            "{name}: {answer:?}, though its group did not commit"
        );
    }
    assert!(!has(&store, "before").await && !has(&store, "after").await);
    // The writer is not left inside the failed transaction.
    store
        .write(|t| {
            t.execute("INSERT INTO item (v) VALUES ('next')", [])?;
            t.commit()
        })
        .await
        .unwrap();
    assert!(has(&store, "next").await);
}
