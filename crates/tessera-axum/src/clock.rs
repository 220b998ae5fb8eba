//! Time, for the verifier and its background work.
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Unix time in seconds.
pub(crate) fn unix_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// Unix time in milliseconds.
pub(crate) fn unix_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// Waits `d`; a helper so the background loops read plainly.
pub(crate) async fn pause(d: Duration) {
    tokio::time::sleep(d).await;
}
