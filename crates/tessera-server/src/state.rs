//! What every handler can reach.
use std::sync::Arc;

use tessera_core::Engine;
use tokio::sync::Notify;

use crate::config::Settings;

pub struct AppState {
    pub engine: Engine,
    pub settings: Settings,
    /// SHA-256 of each accepted admin API key.
    pub admin_key_hashes: Vec<[u8; 32]>,
    /// Rung when another node announces a revocation: sync with the store now.
    pub wake: Arc<Notify>,
    pub http_metrics: crate::metrics::HttpMetrics,
    /// The PostgreSQL pool to LISTEN on for revocation notices, if the store is PostgreSQL.
    pub pg_notifications: Option<tessera_store::postgres::PgPool>,
}
