//! Start-up on an existing database: time from spawning `tessera serve` to its first 200 on
//! `/healthz`, over several restarts of one SQLite data directory that already holds users and
//! sessions. Loopback only, bounded.
//!
//!     cargo build --release --locked -p tessera-server
//!     cargo run --release -p tessera-bench --bin startup [restarts]
use serde_json::json;
use tessera_bench::{Node, summary};

#[tokio::main]
async fn main() {
    let restarts: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(10)
        .min(100);
    let dir =
        std::env::temp_dir().join(format!("tessera_startup_{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let c = reqwest::Client::new();
    // First start: creates the database, keys and some data.
    let first = Node::spawn(&dir, &[]);
    let cold = first.ready(&c).await;
    for i in 0..50 {
        c.post(format!("{}/auth/register", first.base))
            .json(&json!({"email": format!("user{i}@example.com"), "password": "a long and unusual passphrase 9"}))
            .send()
            .await
            .unwrap();
    }
    first.stop();
    let mut samples = Vec::new();
    for _ in 0..restarts {
        let node = Node::spawn(&dir, &[]);
        samples.push(node.ready(&c).await);
        node.stop();
    }
    println!(
        "first start (new database, key generation): {:.2}ms",
        cold.as_secs_f64() * 1000.0
    );
    println!(
        "restart on the existing database: {}",
        summary(&mut samples)
    );
    let _ = std::fs::remove_dir_all(&dir);
}
