//! Conformance cases: sessions.
use std::sync::Arc;

use uuid::Uuid;

use super::*;
use crate::store::Store;

pub async fn sessions_round_trip(store: Arc<dyn Store>) {
    let u = with_user(store.as_ref(), "s@example.com").await;
    let s = with_session(store.as_ref(), u.id, T0).await;
    assert_eq!(store.session(s.id).await.unwrap(), Some(s.clone()));
    assert_eq!(store.session(new_id()).await.unwrap(), None);
    let mut bare = session(u.id, T0);
    bare.ip = None;
    bare.user_agent = None;
    store
        .create_session(&bare, &ev(event_kind::LOGIN_SUCCEEDED, T0), None, None)
        .await
        .unwrap();
    assert_eq!(store.session(bare.id).await.unwrap(), Some(bare));
    // Read together, the same rows as read apart.
    assert_eq!(
        store.session_with_user(s.id).await.unwrap(),
        Some((s.clone(), store.user_by_id(u.id).await.unwrap()))
    );
    assert!(
        store
            .session_with_user(s.id)
            .await
            .unwrap()
            .is_some_and(|(_, user)| user.is_some_and(|user| user.id == u.id))
    );
    assert_eq!(store.session_with_user(new_id()).await.unwrap(), None);
}

pub async fn rotation_is_conditional_on_generation_and_liveness(store: Arc<dyn Store>) {
    let u = with_user(store.as_ref(), "r@example.com").await;
    let s = with_session(store.as_ref(), u.id, T0).await;
    // A fresh event per attempt, so a loser that wrote its event could not hide behind a
    // duplicate id; only the winner's may be stored.
    let refreshed = || {
        let mut e = ev(event_kind::SESSION_REFRESHED, T0 + 1);
        e.user_id = Some(u.id);
        e.session_id = Some(s.id);
        e
    };
    let e = refreshed();
    assert!(
        store
            .rotate_session(s.id, 1, &rotation(2, T0 + 1), Some(&e))
            .await
            .unwrap()
    );
    assert!(
        !store
            .rotate_session(s.id, 1, &rotation(2, T0 + 2), Some(&refreshed()))
            .await
            .unwrap(),
        "stale generation"
    );
    let got = store.session(s.id).await.unwrap().unwrap();
    assert_eq!(got.generation, 2);
    assert_eq!(got.secret_hash, vec![2; 32]);
    assert_eq!(got.prev_secret_hash, Some(vec![1; 32]));
    assert_eq!(got.rotated_at, Some(T0 + 1));
    assert_eq!(got.last_active_at, T0 + 1);
    assert_eq!(got.expires_at, T0 + 1 + 3_600_000);
    assert_eq!(got.refresh_count, 1);
    let revoke = ev(event_kind::SESSION_REVOKED, T0 + 3);
    store
        .revoke_sessions(&SessionSelector::One(s.id), T0 + 3, "test", &revoke)
        .await
        .unwrap();
    assert!(
        !store
            .rotate_session(s.id, 2, &rotation(3, T0 + 4), Some(&refreshed()))
            .await
            .unwrap(),
        "revoked"
    );
    assert!(
        !store
            .rotate_session(new_id(), 1, &rotation(2, T0), Some(&refreshed()))
            .await
            .unwrap(),
        "missing"
    );
    // Without an event (`[events] refreshes = false`): the same conditional write, no event.
    let quiet = with_session(store.as_ref(), u.id, T0).await;
    assert!(
        store
            .rotate_session(quiet.id, 1, &rotation(2, T0 + 5), None)
            .await
            .unwrap()
    );
    assert!(
        !store
            .rotate_session(quiet.id, 1, &rotation(2, T0 + 6), None)
            .await
            .unwrap(),
        "stale generation, without an event too"
    );
    assert_eq!(
        store.session(quiet.id).await.unwrap().unwrap().generation,
        2
    );
    let written = store
        .events(Some(u.id), Some(event_kind::SESSION_REFRESHED), 10)
        .await
        .unwrap();
    assert_eq!(
        written.iter().map(|w| w.id).collect::<Vec<_>>(),
        vec![e.id],
        "exactly the winning rotation's event, and none for a rotation without one"
    );
}

pub async fn touch_is_conditional(store: Arc<dyn Store>) {
    let u = with_user(store.as_ref(), "t@example.com").await;
    let s = with_session(store.as_ref(), u.id, T0).await;
    assert!(store.touch_session(s.id, 1, T0 + 10).await.unwrap());
    assert_eq!(
        store.session(s.id).await.unwrap().unwrap().last_active_at,
        T0 + 10
    );
    assert!(!store.touch_session(s.id, 2, T0 + 20).await.unwrap());
    let revoke = ev(event_kind::SESSION_REVOKED, T0);
    store
        .revoke_sessions(&SessionSelector::One(s.id), T0 + 30, "test", &revoke)
        .await
        .unwrap();
    assert!(!store.touch_session(s.id, 1, T0 + 40).await.unwrap());
}

pub async fn revocation_covers_one_or_all_but_one_and_is_recorded(store: Arc<dyn Store>) {
    let u = with_user(store.as_ref(), "v@example.com").await;
    let other = with_user(store.as_ref(), "w@example.com").await;
    let a = with_session(store.as_ref(), u.id, T0).await;
    let b = with_session(store.as_ref(), u.id, T0).await;
    let c = with_session(store.as_ref(), u.id, T0).await;
    let theirs = with_session(store.as_ref(), other.id, T0).await;
    let e = Event {
        user_id: Some(u.id),
        ..ev(event_kind::SESSION_REVOKED, T0 + 1)
    };
    let one = store
        .revoke_sessions(&SessionSelector::One(a.id), T0 + 1, "logout", &e)
        .await
        .unwrap();
    assert_eq!(revoked_ids(&one), vec![a.id]);
    assert_eq!(
        one.records,
        store.revocations(0, 0, 100).await.unwrap(),
        "the records returned are the ones written"
    );
    let again = store
        .revoke_sessions(&SessionSelector::One(a.id), T0 + 2, "logout", &e)
        .await
        .unwrap();
    assert_eq!(
        again,
        Revoked::default(),
        "already revoked sessions are left alone"
    );
    let got = store.session(a.id).await.unwrap().unwrap();
    assert_eq!(
        (got.revoked_at, got.revoke_reason.as_deref()),
        (Some(T0 + 1), Some("logout"))
    );
    let sel = SessionSelector::User {
        user_id: u.id,
        except: Some(c.id),
    };
    let rest = store
        .revoke_sessions(&sel, T0 + 3, "password_changed", &e)
        .await
        .unwrap();
    assert_eq!(revoked_ids(&rest), vec![b.id]);
    assert!(
        store
            .session(c.id)
            .await
            .unwrap()
            .unwrap()
            .revoked_at
            .is_none()
    );
    assert!(
        store
            .session(theirs.id)
            .await
            .unwrap()
            .unwrap()
            .revoked_at
            .is_none()
    );
    let feed = store.revocations(0, 0, 100).await.unwrap();
    let targets: Vec<_> = feed.iter().map(|r| r.target.clone()).collect();
    assert_eq!(
        targets,
        vec![
            RevocationTarget::Session { session_id: a.id },
            RevocationTarget::Session { session_id: b.id },
        ]
    );
    let events = store
        .events(Some(u.id), Some(event_kind::SESSION_REVOKED), 10)
        .await
        .unwrap();
    let mut ids: Vec<_> = events.iter().map(|e| e.session_id).collect();
    ids.sort();
    let mut want = vec![Some(a.id), Some(b.id)];
    want.sort();
    assert_eq!(
        ids, want,
        "one event per revoked session, in the same write"
    );
}

pub async fn live_sessions_exclude_revoked_and_expired_and_sort_newest_first(
    store: Arc<dyn Store>,
) {
    let u = with_user(store.as_ref(), "l@example.com").await;
    let old = with_session(store.as_ref(), u.id, T0 + 1).await;
    let new = with_session(store.as_ref(), u.id, T0 + 2).await;
    let revoked = with_session(store.as_ref(), u.id, T0 + 3).await;
    let mut expired = session(u.id, T0 + 4);
    expired.expires_at = T0 + 50;
    store
        .create_session(&expired, &ev(event_kind::LOGIN_SUCCEEDED, T0), None, None)
        .await
        .unwrap();
    let e = ev(event_kind::SESSION_REVOKED, T0);
    store
        .revoke_sessions(&SessionSelector::One(revoked.id), T0 + 5, "x", &e)
        .await
        .unwrap();
    let live: Vec<Uuid> = store
        .live_sessions(u.id, T0 + 100)
        .await
        .unwrap()
        .iter()
        .map(|s| s.id)
        .collect();
    assert_eq!(live, vec![new.id, old.id]);
    assert!(store.live_sessions(new_id(), T0).await.unwrap().is_empty());
}

pub async fn revocation_feed_is_ordered_and_filtered(store: Arc<dyn Store>) {
    assert_eq!(store.revocation_head().await.unwrap(), 0, "an empty feed");
    let u = new_id();
    let s1 = store
        .record_revocation(&RevocationTarget::User { user_id: u }, T0)
        .await
        .unwrap();
    let s2 = store
        .record_revocation(
            &RevocationTarget::Namespace {
                namespace: "ns".into(),
            },
            T0 + 10,
        )
        .await
        .unwrap();
    let s3 = store
        .record_revocation(&RevocationTarget::All, T0 + 20)
        .await
        .unwrap();
    assert!(s1 < s2 && s2 < s3);
    assert_eq!(store.revocation_head().await.unwrap(), s3);
    let all = store.revocations(0, 0, 10).await.unwrap();
    assert_eq!(
        all.iter().map(|r| r.seq).collect::<Vec<_>>(),
        vec![s1, s2, s3]
    );
    assert_eq!(all[0].target, RevocationTarget::User { user_id: u });
    assert_eq!(
        all[1].target,
        RevocationTarget::Namespace {
            namespace: "ns".into()
        }
    );
    assert_eq!(
        all[2],
        Revocation {
            seq: s3,
            target: RevocationTarget::All,
            at: T0 + 20
        }
    );
    assert_eq!(store.revocations(s1, 0, 10).await.unwrap().len(), 2);
    assert_eq!(store.revocations(0, T0 + 5, 10).await.unwrap().len(), 2);
    assert_eq!(store.revocations(0, 0, 1).await.unwrap().len(), 1);
}

pub async fn concurrent_rotations_have_one_winner(store: Arc<dyn Store>) {
    let u = with_user(store.as_ref(), "c@example.com").await;
    let s = with_session(store.as_ref(), u.id, T0).await;
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                let e = ev(event_kind::SESSION_REFRESHED, T0 + i);
                store
                    .rotate_session(s.id, 1, &rotation(2, T0 + i), Some(&e))
                    .await
            })
        })
        .collect();
    let mut wins = 0;
    for t in tasks {
        // A busy backend may refuse with Unavailable; it must never double-apply.
        if let Ok(true) = t.await.unwrap() {
            wins += 1;
        }
    }
    assert_eq!(wins, 1);
    assert_eq!(store.session(s.id).await.unwrap().unwrap().refresh_count, 1);
}

pub async fn bulk_revocation_marks_sessions_and_writes_one_cutoff(store: Arc<dyn Store>) {
    let u = with_user(store.as_ref(), "b1@example.com").await;
    let v = with_user(store.as_ref(), "b2@example.com").await;
    let mk = |user: Uuid, ns: &str| {
        let mut s = session(user, T0);
        s.namespace = ns.into();
        s
    };
    let sessions = [mk(u.id, "a"), mk(u.id, "b"), mk(v.id, "a"), mk(v.id, "b")];
    for s in &sessions {
        store
            .create_session(s, &ev(event_kind::LOGIN_SUCCEEDED, T0), None, None)
            .await
            .unwrap();
    }
    let e = |at: i64| ev(event_kind::SESSIONS_REVOKED, at);
    let before = store.revocations(0, 0, 100).await.unwrap().len();
    let n = store
        .revoke_bulk(
            &BulkSelector::User {
                user_id: u.id,
                namespace: Some("a".into()),
            },
            T0 + 1,
            "admin",
            &e(T0 + 1),
        )
        .await
        .unwrap()
        .sessions;
    assert_eq!(n, 1);
    assert!(
        store
            .session(sessions[0].id)
            .await
            .unwrap()
            .unwrap()
            .revoked_at
            .is_some()
    );
    assert!(
        store
            .session(sessions[1].id)
            .await
            .unwrap()
            .unwrap()
            .revoked_at
            .is_none()
    );
    assert_eq!(
        store
            .revoke_bulk(
                &BulkSelector::Namespace("a".into()),
                T0 + 2,
                "admin",
                &e(T0 + 2)
            )
            .await
            .unwrap()
            .sessions,
        1,
        "already revoked ones are not counted"
    );
    assert_eq!(
        store
            .revoke_bulk(
                &BulkSelector::User {
                    user_id: u.id,
                    namespace: None
                },
                T0 + 3,
                "ban",
                &e(T0 + 3)
            )
            .await
            .unwrap()
            .sessions,
        1
    );
    assert_eq!(
        store
            .revoke_bulk(&BulkSelector::All, T0 + 4, "admin", &e(T0 + 4))
            .await
            .unwrap()
            .sessions,
        1
    );
    assert_eq!(
        store
            .revoke_bulk(&BulkSelector::All, T0 + 5, "admin", &e(T0 + 5))
            .await
            .unwrap()
            .sessions,
        0
    );
    let feed = store.revocations(0, 0, 100).await.unwrap();
    let targets: Vec<_> = feed[before..].iter().map(|r| r.target.clone()).collect();
    assert_eq!(
        targets,
        vec![
            RevocationTarget::UserNamespace {
                user_id: u.id,
                namespace: "a".into()
            },
            RevocationTarget::Namespace {
                namespace: "a".into()
            },
            RevocationTarget::User { user_id: u.id },
            RevocationTarget::All,
            RevocationTarget::All,
        ],
        "one cutoff per bulk revocation"
    );
    let events = store
        .events(None, Some(event_kind::SESSIONS_REVOKED), 10)
        .await
        .unwrap();
    assert_eq!(events.len(), 5);
    assert_eq!(events[0].detail["revoked"], 0);
    assert_eq!(events[4].detail["revoked"], 1);
}

fn revoked_ids(r: &Revoked) -> Vec<Uuid> {
    r.records
        .iter()
        .map(|r| match r.target {
            RevocationTarget::Session { session_id } => session_id,
            ref other => panic!("not a session record: {other:?}"),
        })
        .collect()
}

/// `last_active_at` only ever rises, and a cutoff covers the newest token stamp of every session
/// it revoked, even one stamped by a node whose clock runs ahead (see the store module docs).
pub async fn cutoffs_cover_every_token_stamp_of_the_sessions_they_revoke(store: Arc<dyn Store>) {
    let u = with_user(store.as_ref(), "stamps@example.com").await;
    let ahead = with_session(store.as_ref(), u.id, T0 + 9_000).await;
    let plain = with_session(store.as_ref(), u.id, T0).await;
    let e = |at: i64| ev(event_kind::SESSIONS_REVOKED, at);
    // A rotation stamped by a node whose clock is behind does not lower the mark.
    assert!(
        store
            .rotate_session(ahead.id, 1, &rotation(2, T0 + 1_000), Some(&e(T0 + 1_000)))
            .await
            .unwrap()
    );
    let got = store.session(ahead.id).await.unwrap().unwrap();
    assert_eq!(
        (got.last_active_at, got.rotated_at),
        (T0 + 9_000, Some(T0 + 1_000))
    );
    // A grace replay stamped later raises it.
    assert!(store.touch_session(plain.id, 1, T0 + 4_000).await.unwrap());
    let sel = BulkSelector::User {
        user_id: u.id,
        namespace: None,
    };
    let done = store
        .revoke_bulk(&sel, T0 + 2_000, "admin", &e(T0 + 2_000))
        .await
        .unwrap();
    assert_eq!(done.sessions, 2);
    assert_eq!(done.records.len(), 1);
    assert_eq!(
        done.records[0].at,
        T0 + 9_000,
        "the highest stamp, not the clock"
    );
    assert_eq!(
        store.revocations(0, 0, 100).await.unwrap().last(),
        done.records.last(),
        "the record returned is the one written"
    );
    // Nothing left to revoke: the cutoff is the time given.
    let again = store
        .revoke_bulk(&sel, T0 + 3_000, "admin", &e(T0 + 3_000))
        .await
        .unwrap();
    assert_eq!((again.sessions, again.records[0].at), (0, T0 + 3_000));
    // Deleting a user: the same rule over the sessions deleted with it.
    let v = with_user(store.as_ref(), "stamps2@example.com").await;
    with_session(store.as_ref(), v.id, T0 + 7_000).await;
    let del = store
        .delete_user(v.id, T0 + 5_000, &ev(event_kind::USER_DELETED, T0 + 5_000))
        .await
        .unwrap()
        .expect("the user existed");
    assert_eq!((del.sessions, del.records[0].at), (1, T0 + 7_000));
    assert_eq!(
        store.revocations(0, 0, 100).await.unwrap().last(),
        del.records.last()
    );
}
