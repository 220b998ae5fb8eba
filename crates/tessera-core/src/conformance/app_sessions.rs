//! Conformance cases: the app's claims, `auth_time` and reauthentication, and the per-user
//! session limit (API.md §8).
use std::sync::Arc;

use serde_json::json;

use super::*;
use crate::store::{Store, StoreError};

fn claims(v: serde_json::Value) -> Claims {
    v.as_object().expect("an object").clone()
}

fn limit(max: u32) -> SessionLimit {
    SessionLimit {
        max,
        event: ev(event_kind::SESSION_LIMIT_EVICTED, T0),
    }
}

pub async fn app_claims_and_auth_time_round_trip(store: Arc<dyn Store>) {
    let mut u = user("claims@example.com");
    u.claims = claims(json!({"plan": "pro", "n": 3, "nested": {"a": [1, null, "é"]}}));
    store
        .create_user(&u, &ev(event_kind::USER_REGISTERED, T0), None)
        .await
        .unwrap();
    assert_eq!(
        store.user_by_id(u.id).await.unwrap().unwrap().claims,
        u.claims
    );

    let replaced = claims(json!({"tenant": "t-9"}));
    assert!(store.set_user_claims(u.id, &replaced, T0).await.unwrap());
    assert_eq!(
        store.user_by_id(u.id).await.unwrap().unwrap().claims,
        replaced
    );
    assert!(
        !store
            .set_user_claims(new_id(), &replaced, T0)
            .await
            .unwrap()
    );

    let mut s = session(u.id, T0);
    s.claims = claims(json!({"device": "kiosk"}));
    s.auth_time = T0 - 5_000;
    // What the session proved round-trips too (API.md §9).
    s.acr = crate::mfa::acr::AAL2.into();
    s.amr = vec!["pwd".into(), "otp".into(), "mfa".into()];
    s.factor_id = Some(new_id());
    let none = store
        .create_session(&s, &ev(event_kind::SESSION_CREATED, T0), None, None)
        .await
        .unwrap();
    assert_eq!(none, Revoked::default());
    assert_eq!(store.session(s.id).await.unwrap(), Some(s));
}

pub async fn reauthentication_moves_auth_time_only_while_live(store: Arc<dyn Store>) {
    let u = with_user(store.as_ref(), "reauth@example.com").await;
    let s = with_session(store.as_ref(), u.id, T0 + 10_000).await;
    let e = |at| Event {
        user_id: Some(u.id),
        ..ev(event_kind::SESSION_REAUTHENTICATED, at)
    };
    // Earlier than the last activity: auth_time moves, last_active_at stays (it only rises).
    assert!(
        store
            .reauthenticate_session(s.id, T0 + 5_000, &e(T0 + 5_000))
            .await
            .unwrap()
    );
    let got = store.session(s.id).await.unwrap().unwrap();
    assert_eq!(
        (got.auth_time, got.last_active_at),
        (T0 + 5_000, T0 + 10_000)
    );
    assert!(
        store
            .reauthenticate_session(s.id, T0 + 20_000, &e(T0 + 20_000))
            .await
            .unwrap()
    );
    let got = store.session(s.id).await.unwrap().unwrap();
    assert_eq!(
        (got.auth_time, got.last_active_at),
        (T0 + 20_000, T0 + 20_000)
    );
    let recorded = store
        .events(Some(u.id), Some(event_kind::SESSION_REAUTHENTICATED), 10)
        .await
        .unwrap();
    assert_eq!(recorded.len(), 2);

    store
        .revoke_sessions(
            &SessionSelector::One(s.id),
            T0 + 30_000,
            "logout",
            &ev(event_kind::SESSION_REVOKED, T0),
        )
        .await
        .unwrap();
    assert!(
        !store
            .reauthenticate_session(s.id, T0 + 40_000, &e(T0 + 40_000))
            .await
            .unwrap()
    );
    assert_eq!(
        store.session(s.id).await.unwrap().unwrap().auth_time,
        T0 + 20_000
    );
    assert!(
        !store
            .reauthenticate_session(new_id(), T0, &e(T0))
            .await
            .unwrap()
    );
}

pub async fn the_session_limit_evicts_the_least_recently_active(store: Arc<dyn Store>) {
    let u = with_user(store.as_ref(), "limit@example.com").await;
    let other = with_user(store.as_ref(), "other@example.com").await;
    let oldest = with_session(store.as_ref(), u.id, T0 + 1).await;
    let middle = with_session(store.as_ref(), u.id, T0 + 2).await;
    let newest = with_session(store.as_ref(), u.id, T0 + 3).await;
    let mut expired = session(u.id, T0);
    expired.expires_at = T0 + 500;
    store
        .create_session(&expired, &ev(event_kind::LOGIN_SUCCEEDED, T0), None, None)
        .await
        .unwrap();
    let theirs = with_session(store.as_ref(), other.id, T0).await;

    // A new session at T0 + 1000 (the old ones live until T0 + 1h; `expired` has ended).
    let mut fresh = session(u.id, T0 + 1_000);
    fresh.created_at = T0 + 1_000;
    let evicted = store
        .create_session(
            &fresh,
            &ev(event_kind::LOGIN_SUCCEEDED, T0 + 1_000),
            Some(&limit(2)),
            None,
        )
        .await
        .unwrap();
    assert_eq!(evicted.sessions, 2);
    let mut want = vec![oldest.id, middle.id];
    want.sort();
    let got: Vec<Uuid> = evicted
        .records
        .iter()
        .map(|r| match r.target {
            RevocationTarget::Session { session_id } => session_id,
            ref t => panic!("{t:?}"),
        })
        .collect();
    assert_eq!(got, want);
    assert!(evicted.records.iter().all(|r| r.at == T0 + 1_000));
    for id in [oldest.id, middle.id] {
        let s = store.session(id).await.unwrap().unwrap();
        assert_eq!(s.revoke_reason.as_deref(), Some("limit"));
    }
    let live: Vec<Uuid> = store
        .live_sessions(u.id, T0 + 1_000)
        .await
        .unwrap()
        .iter()
        .map(|s| s.id)
        .collect();
    assert_eq!(live, vec![fresh.id, newest.id]);
    assert_eq!(
        store.session(expired.id).await.unwrap().unwrap().revoked_at,
        None
    );
    assert_eq!(
        store.session(theirs.id).await.unwrap().unwrap().revoked_at,
        None
    );
    let events = store
        .events(Some(u.id), Some(event_kind::SESSION_LIMIT_EVICTED), 10)
        .await
        .unwrap();
    assert_eq!(events.len(), 2);
    assert!(events.iter().all(|e| e.detail["reason"] == "limit"));

    // Under the limit, nothing is evicted.
    let mut another = session(other.id, T0 + 2_000);
    another.created_at = T0 + 2_000;
    let none = store
        .create_session(
            &another,
            &ev(event_kind::LOGIN_SUCCEEDED, T0),
            Some(&limit(2)),
            None,
        )
        .await
        .unwrap();
    assert_eq!(none, Revoked::default());
}

pub async fn concurrent_openings_never_exceed_the_limit(store: Arc<dyn Store>) {
    let u = with_user(store.as_ref(), "burst@example.com").await;
    let tasks: Vec<_> = (0..12)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                let mut s = session(u.id, T0 + i);
                s.created_at = T0 + i;
                store
                    .create_session(
                        &s,
                        &ev(event_kind::LOGIN_SUCCEEDED, T0 + i),
                        Some(&limit(3)),
                        None,
                    )
                    .await
                    .unwrap()
                    .sessions
            })
        })
        .collect();
    let mut evicted = 0;
    for t in tasks {
        evicted += t.await.unwrap();
    }
    assert_eq!(store.live_sessions(u.id, T0 + 100).await.unwrap().len(), 3);
    assert_eq!(
        evicted, 9,
        "every session beyond the limit was evicted exactly once"
    );
}

/// `n` bytes of claims JSON under `key`, give or take the punctuation.
fn sized(key: &str, n: usize) -> Claims {
    claims(json!({ key: "x".repeat(n) }))
}

pub async fn merged_claims_stay_within_the_limit_even_when_raced(store: Arc<dyn Store>) {
    // Each side alone fits; both together (6 KB) do not.
    let u = with_user(store.as_ref(), "race-claims@example.com").await;
    let mut s = session(u.id, T0);
    s.claims = sized("s", 3_000);
    store
        .create_session(&s, &ev(event_kind::SESSION_CREATED, T0), None, None)
        .await
        .unwrap();
    let refused = store.set_user_claims(u.id, &sized("u", 3_000), T0).await;
    assert!(
        matches!(refused, Err(StoreError::ClaimsTooLarge)),
        "{refused:?}"
    );
    assert!(
        store
            .user_by_id(u.id)
            .await
            .unwrap()
            .unwrap()
            .claims
            .is_empty()
    );
    // A session that is no longer live does not count.
    assert!(
        store
            .set_user_claims(u.id, &sized("u", 3_000), s.expires_at)
            .await
            .unwrap()
    );
    let mut late = session(u.id, T0);
    late.claims = sized("s", 3_000);
    let refused = store
        .create_session(&late, &ev(event_kind::SESSION_CREATED, T0), None, None)
        .await;
    assert!(
        matches!(refused, Err(StoreError::ClaimsTooLarge)),
        "{refused:?}"
    );
    assert_eq!(
        store.session(late.id).await.unwrap(),
        None,
        "nothing written"
    );

    // The race: a claims change and new sessions of another user, at once, many times over.
    // Whatever the order, never both a live session and user claims that do not fit together.
    for round in 0..20 {
        let u = with_user(store.as_ref(), &format!("race{round}@example.com")).await;
        let mut s = session(u.id, T0);
        s.claims = sized("s", 3_000);
        let (a, b) = {
            let (st1, st2) = (store.clone(), store.clone());
            let s = s.clone();
            let put =
                tokio::spawn(
                    async move { st1.set_user_claims(u.id, &sized("u", 3_000), T0).await },
                );
            let open = tokio::spawn(async move {
                st2.create_session(&s, &ev(event_kind::SESSION_CREATED, T0), None, None)
                    .await
            });
            (put.await.unwrap(), open.await.unwrap())
        };
        assert!(
            a.is_err() || b.is_err(),
            "round {round}: both the claims change and the session went through"
        );
        assert!(
            a.is_ok() || b.is_ok(),
            "round {round}: one of them must pass"
        );
    }
}
