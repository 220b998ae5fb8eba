//! Conformance cases: keys.
use std::sync::Arc;

use super::*;
use crate::store::Store;

pub async fn keys_are_initialised_once_per_algorithm(store: Arc<dyn Store>) {
    let key = |kid: &str, alg: &str, state| KeyRecord {
        kid: kid.into(),
        alg: alg.into(),
        state,
        created_at: T0,
        activated_at: None,
        retired_at: None,
        private_sealed: vec![1, 2, 3],
    };
    let first = [
        key("k1", "EdDSA", KeyState::Current),
        key("k2", "EdDSA", KeyState::Next),
    ];
    assert!(store.init_keys("EdDSA", &first).await.unwrap());
    assert!(
        !store
            .init_keys("EdDSA", &[key("k3", "EdDSA", KeyState::Current)])
            .await
            .unwrap()
    );
    assert!(
        store
            .init_keys("ES256", &[key("k4", "ES256", KeyState::Current)])
            .await
            .unwrap()
    );
    let mut keys = store.keys().await.unwrap();
    keys.sort_by(|a, b| a.kid.cmp(&b.kid));
    assert_eq!(
        keys.iter().map(|k| k.kid.as_str()).collect::<Vec<_>>(),
        vec!["k1", "k2", "k4"]
    );
    assert_eq!(keys[0], first[0]);
}

pub async fn keys_rotate_once_and_in_order(store: Arc<dyn Store>) {
    let key = |kid: &str, state| KeyRecord {
        kid: kid.into(),
        alg: "EdDSA".into(),
        state,
        created_at: T0,
        activated_at: None,
        retired_at: None,
        private_sealed: vec![9],
    };
    store
        .init_keys(
            "EdDSA",
            &[key("k1", KeyState::Current), key("k2", KeyState::Next)],
        )
        .await
        .unwrap();
    let e = ev(event_kind::KEY_ROTATED, T0 + 1);
    assert!(
        !store
            .rotate_keys("k2", &key("k3", KeyState::Next), T0 + 1, &e)
            .await
            .unwrap(),
        "k2 is not current"
    );
    assert!(
        store
            .rotate_keys("k1", &key("k3", KeyState::Next), T0 + 1, &e)
            .await
            .unwrap()
    );
    assert!(
        !store
            .rotate_keys("k1", &key("k4", KeyState::Next), T0 + 2, &e)
            .await
            .unwrap(),
        "a second rotation from the same state loses"
    );
    let mut keys = store.keys().await.unwrap();
    keys.sort_by(|a, b| a.kid.cmp(&b.kid));
    let states: Vec<_> = keys.iter().map(|k| (k.kid.as_str(), k.state)).collect();
    assert_eq!(
        states,
        vec![
            ("k1", KeyState::Retiring),
            ("k2", KeyState::Current),
            ("k3", KeyState::Next)
        ]
    );
    assert_eq!(keys[0].retired_at, Some(T0 + 1));
    assert_eq!(keys[1].activated_at, Some(T0 + 1));
    let events = store
        .events(None, Some(event_kind::KEY_ROTATED), 10)
        .await
        .unwrap();
    assert_eq!(events.len(), 1, "only the winning rotation is recorded");
    // Concurrent rotations from the same state: exactly one wins.
    let tasks: Vec<_> = (0..6)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                let e = ev(event_kind::KEY_ROTATED, T0 + 10 + i);
                store
                    .rotate_keys("k2", &key(&format!("n{i}"), KeyState::Next), T0 + 10, &e)
                    .await
            })
        })
        .collect();
    let mut wins = 0;
    for t in tasks {
        if let Ok(true) = t.await.unwrap() {
            wins += 1;
        }
    }
    assert_eq!(wins, 1);
    let keys = store.keys().await.unwrap();
    assert_eq!(
        keys.iter().filter(|k| k.state == KeyState::Current).count(),
        1
    );
    assert_eq!(keys.iter().filter(|k| k.state == KeyState::Next).count(), 1);
}
