//! The floor of a refresh (issue 26): what any server that rotates a refresh token must spend at
//! least, apart from HTTP. One Ed25519 signature, and one single-row write in its own
//! transaction on the same database settings Tessera uses (SQLite: WAL, `synchronous = NORMAL`;
//! PostgreSQL: the client's side of one `UPDATE`, which is what Tessera's process pays). Each is
//! the process's own CPU time per operation over a 2 s loop on one thread. The bare HTTP
//! request's share is measured by `bench/run.sh` under wrk, in the same run.
//!
//!     floor [POSTGRES_URL]
//! Prints `name microseconds` lines.
use std::time::{Duration, Instant};

use tessera_bench::load::cpu_seconds;

const LOOP: Duration = Duration::from_secs(2);

/// CPU microseconds per call of `op`, run on this thread for `LOOP`.
fn per_op(mut op: impl FnMut(u64)) -> f64 {
    let pid = std::process::id();
    let before = cpu_seconds(pid).expect("/proc");
    let started = Instant::now();
    let mut n = 0u64;
    while started.elapsed() < LOOP {
        op(n);
        n += 1;
    }
    let after = cpu_seconds(pid).expect("/proc");
    (after - before) * 1e6 / n as f64
}

fn sign_us() -> f64 {
    use tessera_token::*;
    let key = SigningKey::generate(Algorithm::EdDSA).unwrap();
    let mut claims = AccessClaims {
        iss: "http://127.0.0.1:8080".into(),
        aud: None,
        sub: uuid::Uuid::now_v7().to_string(),
        sid: uuid::Uuid::now_v7().to_string(),
        jti: String::new(),
        iat: 1_900_000_000,
        exp: 1_900_000_900,
        nbf: None,
        ns: "default".into(),
        roles: vec![],
        perms: vec![],
        auth_time: Some(1_900_000_000),
        ext: None,
        acr: Some("aal1".into()),
        amr: Some(vec!["pwd".into()]),
        cnf: None,
    };
    per_op(|_| {
        claims.jti = uuid::Uuid::now_v7().to_string();
        std::hint::black_box(sign(&claims, &key));
    })
}

const ROWS: u64 = 10_000;

fn sqlite_write_us() -> f64 {
    let dir = std::env::temp_dir().join(format!("tessera-floor-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let conn = rusqlite::Connection::open(dir.join("floor.db")).unwrap();
    conn.pragma_update(None, "journal_mode", "WAL").unwrap();
    conn.pragma_update(None, "synchronous", "NORMAL").unwrap();
    conn.execute_batch(
        "CREATE TABLE t (id INTEGER PRIMARY KEY, generation INTEGER NOT NULL, \
         secret_hash BLOB NOT NULL, rotated_at INTEGER NOT NULL)",
    )
    .unwrap();
    {
        let mut insert = conn
            .prepare("INSERT INTO t VALUES (?1, 0, zeroblob(32), 0)")
            .unwrap();
        conn.execute_batch("BEGIN").unwrap();
        for id in 0..ROWS {
            insert.execute([id as i64]).unwrap();
        }
        conn.execute_batch("COMMIT").unwrap();
    }
    let hash = [7u8; 32];
    let us = per_op(|n| {
        let tx =
            rusqlite::Transaction::new_unchecked(&conn, rusqlite::TransactionBehavior::Immediate)
                .unwrap();
        tx.prepare_cached(
            "UPDATE t SET generation = generation + 1, secret_hash = ?1, rotated_at = ?2 \
             WHERE id = ?3",
        )
        .unwrap()
        .execute(rusqlite::params![
            &hash[..],
            n as i64,
            (n * 7919 % ROWS) as i64
        ])
        .unwrap();
        tx.commit().unwrap();
    });
    drop(conn);
    let _ = std::fs::remove_dir_all(&dir);
    us
}

fn postgres_write_us(url: &str) -> f64 {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        use sqlx::Connection;
        let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
        // A fixed name: sqlx takes only literal SQL (one bench at a time per database).
        sqlx::raw_sql(
            "DROP TABLE IF EXISTS tessera_bench_floor; \
             CREATE TABLE tessera_bench_floor (id BIGINT PRIMARY KEY, \
             generation BIGINT NOT NULL, secret_hash BYTEA NOT NULL, rotated_at BIGINT NOT NULL); \
             INSERT INTO tessera_bench_floor SELECT g, 0, '\\x00', 0 \
             FROM generate_series(0, 9999) g",
        )
        .execute(&mut conn)
        .await
        .unwrap();
        let sql = "UPDATE tessera_bench_floor SET generation = generation + 1, \
                   secret_hash = $1, rotated_at = $2 WHERE id = $3";
        let hash = vec![7u8; 32];
        let pid = std::process::id();
        let before = cpu_seconds(pid).unwrap();
        let started = Instant::now();
        let mut n = 0i64;
        while started.elapsed() < LOOP {
            sqlx::query(sql)
                .bind(&hash)
                .bind(n)
                .bind(n * 7919 % ROWS as i64)
                .execute(&mut conn)
                .await
                .unwrap();
            n += 1;
        }
        let us = (cpu_seconds(pid).unwrap() - before) * 1e6 / n as f64;
        sqlx::raw_sql("DROP TABLE tessera_bench_floor")
            .execute(&mut conn)
            .await
            .unwrap();
        us
    })
}

fn main() {
    println!("ed25519_sign {:.1}", sign_us());
    println!("sqlite_write {:.1}", sqlite_write_us());
    if let Some(url) = std::env::args().nth(1) {
        println!("postgres_write {:.1}", postgres_write_us(&url));
    }
}
