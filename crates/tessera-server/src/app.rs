//! Assembling and running the server: the store and its revocation transports, the engine,
//! background work, HTTP.
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use sha2::{Digest, Sha256};
use tessera_core::{Clock, Engine, OffsetClock, SystemClock};
use tessera_store::{Backend, Connect};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::config::{Settings, parse_duration_ms};
use crate::metrics::HttpMetrics;
use crate::state::{AppState, StreamCounts};
use crate::{files, routes};

/// How often a node re-reads the key set (and rotates it when due).
const KEY_RELOAD: Duration = Duration::from_secs(10);

/// Test-only knobs, for tests that must see a mechanism work on its own: the fallback poll's
/// interval (slowed down, a broadcast test fails if no broadcast runs), and a clock offset (a
/// node whose clock is wrong). `TESSERA_TEST_*` variables are the harness's, never config.
fn test_knob_ms(name: &str) -> Option<i64> {
    let raw = std::env::var(name).ok()?;
    let (sign, digits) = match raw.strip_prefix('-') {
        Some(rest) => (-1, rest),
        None => (1, raw.as_str()),
    };
    match parse_duration_ms(digits) {
        Ok(ms) => Some(sign * ms),
        Err(e) => {
            tracing::warn!(variable = name, error = %e, "ignored");
            None
        }
    }
}

/// The engine on the configured database and transports: the same for the server and the CLI.
pub async fn engine(settings: &Settings) -> Result<Engine, String> {
    let backend = Backend::open(Connect {
        database: &settings.database,
        redis_url: settings.redis_url.as_ref().map(|u| u.expose().as_str()),
        scope: &settings.engine.issuer,
    })
    .await?;
    let master = files::master_key(settings)?;
    let clock: Arc<dyn Clock> = match test_knob_ms("TESSERA_TEST_CLOCK_OFFSET") {
        Some(offset_ms) => Arc::new(OffsetClock { offset_ms }),
        None => Arc::new(SystemClock),
    };
    backend
        .engine(clock, &master, settings.engine.clone())
        .await
}

/// Opens the store, loads or makes the keys, and builds the engine.
pub async fn build(settings: Settings) -> Result<Arc<AppState>, String> {
    let engine = engine(&settings).await?;
    let admin_key_hashes = files::admin_keys(&settings)?
        .iter()
        .map(|k| Sha256::digest(k.as_bytes()).into())
        .collect();
    let resource_key_hashes = settings
        .resource_server_keys
        .iter()
        .map(|k| Sha256::digest(k.expose().as_bytes()).into())
        .collect();
    Ok(Arc::new(AppState {
        engine,
        admin_key_hashes,
        resource_key_hashes,
        http_metrics: HttpMetrics::new(routes::endpoints().iter().map(|e| e.path)),
        closing: tokio::sync::watch::channel(false).0,
        streams: StreamCounts::new(settings.http.max_streams_per_key),
        settings,
    }))
}

/// Rotates the signing keys when they are due (one node wins; the others see it on reload), and
/// re-reads the key set so rotations made elsewhere are honoured.
fn spawn_key_maintenance(state: Arc<AppState>) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(KEY_RELOAD);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tick.tick().await;
        loop {
            tick.tick().await;
            let interval = state.settings.key_rotation_interval_ms;
            match state.engine.rotate_keys_if_due(interval).await {
                Ok(true) => tracing::info!("signing keys rotated (key_rotation_interval)"),
                Ok(false) => {}
                Err(e) => tracing::warn!(error = %e, "automatic key rotation failed; will retry"),
            }
            if let Err(e) = state.engine.reload_keys().await {
                tracing::warn!(error = %e, "key reload failed; will retry");
            }
        }
    })
}

/// Serves until `shutdown` resolves, following other nodes' revocations meanwhile.
pub async fn serve(
    state: Arc<AppState>,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let poll = test_knob_ms("TESSERA_TEST_REVOCATION_POLL")
        .filter(|ms| *ms > 0)
        .map_or(state.settings.revocation_poll, |ms| {
            Duration::from_millis(ms as u64)
        });
    let _revocations = state.engine.revocations().start(poll);
    let keys = spawn_key_maintenance(state.clone());
    let mail = crate::mail::spawn(state.clone());
    let closing = state.clone();
    let shutdown = async move {
        shutdown.await;
        let _ = closing.closing.send(true);
    };
    let limits = state.settings.http;
    let result = crate::http::serve(listener, routes::router(state), limits, shutdown).await;
    keys.abort();
    if let Some(mail) = mail {
        mail.abort();
    }
    result
}
