//! Conformance cases: events.
use std::sync::Arc;

use uuid::Uuid;

use super::*;
use crate::store::Store;

pub async fn events_are_filtered_and_newest_first(store: Arc<dyn Store>) {
    let u = new_id();
    let mk = |kind: &str, at: i64, user: Option<Uuid>| Event {
        user_id: user,
        ip: Some("10.0.0.1".into()),
        detail: serde_json::json!({"k": at}),
        ..ev(kind, at)
    };
    for e in [
        mk("login.failed", T0, Some(u)),
        mk("login.succeeded", T0 + 1, Some(u)),
        mk("login.failed", T0 + 2, None),
    ] {
        store.record_event(&e).await.unwrap();
    }
    let all = store.events(None, None, 10).await.unwrap();
    assert_eq!(
        all.iter().map(|e| e.at).collect::<Vec<_>>(),
        vec![T0 + 2, T0 + 1, T0]
    );
    assert_eq!(all[0].detail, serde_json::json!({"k": T0 + 2}));
    assert_eq!(store.events(Some(u), None, 10).await.unwrap().len(), 2);
    assert_eq!(
        store
            .events(Some(u), Some("login.failed"), 10)
            .await
            .unwrap()
            .len(),
        1
    );
    assert_eq!(store.events(None, None, 1).await.unwrap().len(), 1);
}

pub async fn ping_answers(store: Arc<dyn Store>) {
    store.ping().await.unwrap();
}
