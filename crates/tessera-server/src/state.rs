//! What every handler can reach.
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

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
    /// Open revocation streams per key.
    pub streams: StreamCounts,
}

/// Open revocation streams per key (`http.max_streams_per_key`), so one key cannot take every
/// connection with streams that never end.
pub struct StreamCounts {
    max: usize,
    open: Arc<Mutex<HashMap<[u8; 32], usize>>>,
}

/// One open stream's place in its key's count; given back when dropped (the stream ended or its
/// connection closed).
pub struct StreamSlot {
    key: [u8; 32],
    open: Arc<Mutex<HashMap<[u8; 32], usize>>>,
}

impl StreamCounts {
    /// At most `max` streams per key; 0: no bound.
    pub fn new(max: usize) -> Self {
        StreamCounts {
            max,
            open: Arc::default(),
        }
    }

    /// A slot for one more stream of the key (its SHA-256), or `None` if it has `max` open.
    pub fn open(&self, key: [u8; 32]) -> Option<StreamSlot> {
        let mut open = self.open.lock().expect("stream counts lock");
        let n = open.entry(key).or_insert(0);
        if self.max > 0 && *n >= self.max {
            return None;
        }
        *n += 1;
        Some(StreamSlot {
            key,
            open: self.open.clone(),
        })
    }
}

impl Drop for StreamSlot {
    fn drop(&mut self) {
        let mut open = self.open.lock().expect("stream counts lock");
        if let Some(n) = open.get_mut(&self.key) {
            *n -= 1;
            if *n == 0 {
                open.remove(&self.key);
            }
        }
    }
}
