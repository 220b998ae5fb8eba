//! What every handler can reach.
use tessera_core::Engine;

use crate::config::Settings;

pub struct AppState {
    pub engine: Engine,
    pub settings: Settings,
    /// SHA-256 of each accepted admin API key.
    pub admin_key_hashes: Vec<[u8; 32]>,
    /// SHA-256 of each resource-server key (introspection and the revocation feed only).
    pub resource_key_hashes: Vec<[u8; 32]>,
    pub http_metrics: crate::metrics::HttpMetrics,
    /// Becomes true when the server shuts down, so long-lived responses (the revocation stream)
    /// end and the graceful shutdown is not held up by them.
    pub closing: tokio::sync::watch::Sender<bool>,
}
