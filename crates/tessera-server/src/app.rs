//! Assembling and running the server: store, keys, engine, background sync, HTTP.
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use sha2::{Digest, Sha256};
use tessera_core::{Engine, SystemClock};
use tessera_store::bus::redis::{RedisBus, subscribe};
use tessera_store::ratelimit::RedisLimiter;
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tokio::task::JoinHandle;

use crate::config::Settings;
use crate::state::AppState;
use crate::{files, routes};

/// How often a node reads the revocation feed: the bound on how late a revocation written
/// elsewhere (another node, the CLI) is seen here.
pub const REVOCATION_POLL: Duration = Duration::from_millis(500);
const KEY_RELOAD_EVERY_POLLS: u32 = 20;

/// Opens the store, loads or makes the keys, and builds the engine.
pub async fn build(settings: Settings) -> Result<Arc<AppState>, String> {
    let backend = tessera_store::open(&settings.database)
        .await
        .map_err(|e| format!("cannot open the database: {e}"))?;
    let master = files::master_key(&settings)?;
    let admin_key_hashes = files::admin_keys(&settings)?
        .iter()
        .map(|k| Sha256::digest(k.as_bytes()).into())
        .collect();
    let engine = Engine::start(
        backend.store,
        Arc::new(SystemClock),
        &master,
        settings.engine.clone(),
    )
    .await
    .map_err(|e| format!("cannot start the engine: {e}"))?;
    let engine = match &settings.redis_url {
        Some(url) => {
            let scope = settings.engine.issuer.as_str();
            engine.set_bus(Arc::new(RedisBus::new(url.expose(), scope)?));
            engine.with_rate_limiter(Arc::new(RedisLimiter::new(url.expose(), scope)?))
        }
        None => engine,
    };
    Ok(Arc::new(AppState {
        engine,
        settings,
        admin_key_hashes,
        wake: Arc::new(Notify::new()),
        http_metrics: Default::default(),
        pg_notifications: backend.notifications,
    }))
}

/// Keeps this node's revocation set and key set in step with the store: a poll every
/// [`REVOCATION_POLL`], and at once whenever a broadcast says another node revoked something.
/// Listens on PostgreSQL NOTIFY (when the store is PostgreSQL) and on Redis (when `redis_url` is
/// set); with both, either path delivers.
pub fn spawn_background(state: Arc<AppState>) -> Vec<JoinHandle<()>> {
    let mut tasks = vec![spawn_sync(state.clone())];
    if let Some(pool) = state.pg_notifications.clone() {
        tasks.push(tokio::spawn(tessera_store::postgres::listen(
            pool,
            state.wake.clone(),
        )));
    }
    if let Some(url) = state.settings.redis_url.clone() {
        let applier = state.clone();
        let wake = state.wake.clone();
        tasks.push(tokio::spawn(async move {
            let scope = applier.settings.engine.issuer.clone();
            let apply = move |r: &tessera_core::model::Revocation| applier.engine.apply_remote(r);
            if let Err(e) = subscribe(url.expose(), &scope, apply, wake).await {
                tracing::error!(error = %e, "Redis subscription stopped");
            }
        }));
    }
    tasks
}

fn spawn_sync(state: Arc<AppState>) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(REVOCATION_POLL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut n: u32 = 0;
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = state.wake.notified() => {}
            }
            if let Err(e) = state.engine.sync_revocations().await {
                tracing::warn!(error = %e, "revocation sync failed; will retry");
            }
            n = n.wrapping_add(1);
            if n.is_multiple_of(KEY_RELOAD_EVERY_POLLS) {
                refresh_keys(&state).await;
            }
        }
    })
}

/// Rotates the signing keys if they are due (one node wins; the others see it on reload), then
/// re-reads the key set so rotations made elsewhere are honoured.
async fn refresh_keys(state: &AppState) {
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

/// The engine alone, for CLI commands that work on the database directly.
pub async fn engine_for_cli(settings: &Settings) -> Result<Engine, String> {
    let backend = tessera_store::open(&settings.database)
        .await
        .map_err(|e| format!("cannot open the database: {e}"))?;
    let master = files::master_key(settings)?;
    Engine::start(
        backend.store,
        Arc::new(SystemClock),
        &master,
        settings.engine.clone(),
    )
    .await
    .map_err(|e| format!("cannot start the engine: {e}"))
}

/// Serves until `shutdown` resolves.
pub async fn serve(
    state: Arc<AppState>,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let sync = spawn_sync(state.clone());
    let app = routes::router(state).into_make_service_with_connect_info::<SocketAddr>();
    let result = axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await;
    sync.abort();
    result
}
