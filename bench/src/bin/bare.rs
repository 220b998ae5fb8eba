//! The ceiling: a bare axum server answering a constant 200, on the same machine and loopback.
//!
//!     bare 127.0.0.1:PORT
use axum::Router;
use axum::routing::{get, post};

#[tokio::main]
async fn main() {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:18099".into());
    let app = Router::new()
        .route("/", get(|| async { "ok" }))
        .route("/post", post(|| async { "ok" }));
    let listener = tokio::net::TcpListener::bind(&addr).await.expect("bind");
    axum::serve(listener, app).await.expect("serve");
}
