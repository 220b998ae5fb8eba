//! The SQLite files hold password hashes and sealed keys: 0600, also in a folder that existed
//! before with a permissive mode, also when an earlier version left them 0644.
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use tessera_store::sqlite::SqliteStore;

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

#[tokio::test]
async fn database_wal_and_shm_files_are_the_owners_alone() {
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let db = dir.path().join("tessera.db");
    {
        let store = SqliteStore::open(&db).await.unwrap();
        store.migrate().await.unwrap();
        for f in ["tessera.db", "tessera.db-wal", "tessera.db-shm"] {
            let p = dir.path().join(f);
            assert!(p.exists(), "{f} exists while the store is open");
            assert_eq!(mode(&p), 0o600, "{f}");
        }
    }
    // An earlier version's 0644 files are corrected at the next open.
    for f in ["tessera.db", "tessera.db-wal", "tessera.db-shm"] {
        let p = dir.path().join(f);
        if p.exists() {
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
        }
    }
    let store = SqliteStore::open(&db).await.unwrap();
    store.migrate().await.unwrap();
    for f in ["tessera.db", "tessera.db-wal", "tessera.db-shm"] {
        let p = dir.path().join(f);
        if p.exists() {
            assert_eq!(mode(&p), 0o600, "{f} after reopening");
        }
    }
}
