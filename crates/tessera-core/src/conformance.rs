//! The store conformance suite: every backend runs these same cases.
//!
//! A store crate invokes [`store_conformance!`](crate::store_conformance) with an async
//! expression that yields a fresh, empty store; one `#[tokio::test]` is generated per case, so
//! cases run in parallel and fail by name.
use std::sync::Arc;

use uuid::Uuid;

use crate::model::*;
use crate::store::{Store, StoreError};

/// Generates one test per conformance case. `$make` is an async expression returning
/// `Option<Arc<dyn Store>>`, evaluated once per test; `None` skips the case (a backend that is
/// not available here, which must say so loudly itself).
#[macro_export]
macro_rules! store_conformance {
    ($make:expr) => {
        $crate::store_conformance!(@cases $make;
            users_round_trip_and_emails_are_unique,
            password_changes_keep_or_move_the_change_time,
            sessions_round_trip,
            rotation_is_conditional_on_generation_and_liveness,
            touch_is_conditional,
            revocation_covers_one_or_all_but_one_and_is_recorded,
            live_sessions_exclude_revoked_and_expired_and_sort_newest_first,
            revocation_feed_is_ordered_and_filtered,
            keys_are_initialised_once_per_algorithm,
            keys_rotate_once_and_in_order,
            events_are_filtered_and_newest_first,
            concurrent_rotations_have_one_winner,
            users_list_roles_bans_and_deletion,
            roles_are_upserted_and_deleting_one_strips_it_from_users,
            bulk_revocation_marks_sessions_and_writes_one_cutoff,
            ping_answers
        );
    };
    (@cases $make:expr; $($case:ident),*) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let store: Option<::std::sync::Arc<dyn $crate::store::Store>> = $make.await;
                if let Some(store) = store {
                    $crate::conformance::$case(store).await;
                }
            }
        )*
    };
}

const T0: i64 = 1_800_000_000_000;

fn user(email: &str) -> User {
    User {
        id: new_id(),
        email: email.into(),
        password_hash: "$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$aGFzaA".into(),
        roles: vec![],
        banned: false,
        created_at: T0,
        password_changed_at: T0,
    }
}

fn session(user_id: Uuid, last_active: i64) -> Session {
    Session {
        id: new_id(),
        user_id,
        namespace: "default".into(),
        created_at: T0,
        last_active_at: last_active,
        expires_at: T0 + 3_600_000,
        absolute_expires_at: T0 + 7_200_000,
        ip: Some("127.0.0.1".into()),
        user_agent: Some("test-agent/1.0".into()),
        refresh_count: 0,
        generation: 1,
        secret_hash: vec![1; 32],
        prev_secret_hash: None,
        rotated_at: None,
        revoked_at: None,
        revoke_reason: None,
    }
}

fn ev(kind: &str, at: i64) -> Event {
    Event::new(kind, at)
}

async fn with_user(store: &dyn Store, email: &str) -> User {
    let u = user(email);
    store
        .create_user(&u, &ev(event_kind::USER_REGISTERED, T0))
        .await
        .unwrap();
    u
}

async fn with_session(store: &dyn Store, user_id: Uuid, last_active: i64) -> Session {
    let s = session(user_id, last_active);
    store
        .create_session(&s, &ev(event_kind::LOGIN_SUCCEEDED, T0))
        .await
        .unwrap();
    s
}

fn rotation(generation: i64, at: i64) -> Rotation {
    Rotation {
        generation,
        secret_hash: vec![generation as u8; 32],
        prev_secret_hash: vec![(generation - 1) as u8; 32],
        rotated_at: at,
        expires_at: at + 3_600_000,
        refresh_count: generation - 1,
    }
}

pub async fn users_round_trip_and_emails_are_unique(store: Arc<dyn Store>) {
    let u = with_user(store.as_ref(), "a@example.com").await;
    assert_eq!(store.user_by_id(u.id).await.unwrap(), Some(u.clone()));
    assert_eq!(
        store.user_by_email("a@example.com").await.unwrap(),
        Some(u.clone())
    );
    assert_eq!(store.user_by_email("b@example.com").await.unwrap(), None);
    assert_eq!(store.user_by_id(new_id()).await.unwrap(), None);
    let dup = user("a@example.com");
    let err = store
        .create_user(&dup, &ev(event_kind::USER_REGISTERED, T0))
        .await;
    assert!(matches!(err, Err(StoreError::Conflict)), "{err:?}");
    let events = store.events(Some(u.id), None, 10).await.unwrap();
    assert_eq!(
        events.len(),
        0,
        "the registration event here carried no user id"
    );
}

pub async fn password_changes_keep_or_move_the_change_time(store: Arc<dyn Store>) {
    let u = with_user(store.as_ref(), "p@example.com").await;
    assert!(
        store
            .set_password_hash(u.id, "rehash", None, None)
            .await
            .unwrap()
    );
    let got = store.user_by_id(u.id).await.unwrap().unwrap();
    assert_eq!(
        (got.password_hash.as_str(), got.password_changed_at),
        ("rehash", T0)
    );
    let e = Event {
        user_id: Some(u.id),
        ..ev(event_kind::PASSWORD_CHANGED, T0 + 5)
    };
    assert!(
        store
            .set_password_hash(u.id, "new", Some(T0 + 5), Some(&e))
            .await
            .unwrap()
    );
    let got = store.user_by_id(u.id).await.unwrap().unwrap();
    assert_eq!(
        (got.password_hash.as_str(), got.password_changed_at),
        ("new", T0 + 5)
    );
    let events = store
        .events(Some(u.id), Some(event_kind::PASSWORD_CHANGED), 10)
        .await
        .unwrap();
    assert_eq!(events, vec![e]);
    assert!(
        !store
            .set_password_hash(new_id(), "x", None, None)
            .await
            .unwrap()
    );
}

pub async fn sessions_round_trip(store: Arc<dyn Store>) {
    let u = with_user(store.as_ref(), "s@example.com").await;
    let s = with_session(store.as_ref(), u.id, T0).await;
    assert_eq!(store.session(s.id).await.unwrap(), Some(s.clone()));
    assert_eq!(store.session(new_id()).await.unwrap(), None);
    let mut bare = session(u.id, T0);
    bare.ip = None;
    bare.user_agent = None;
    store
        .create_session(&bare, &ev(event_kind::LOGIN_SUCCEEDED, T0))
        .await
        .unwrap();
    assert_eq!(store.session(bare.id).await.unwrap(), Some(bare));
}

pub async fn rotation_is_conditional_on_generation_and_liveness(store: Arc<dyn Store>) {
    let u = with_user(store.as_ref(), "r@example.com").await;
    let s = with_session(store.as_ref(), u.id, T0).await;
    let e = ev(event_kind::SESSION_REFRESHED, T0 + 1);
    assert!(
        store
            .rotate_session(s.id, 1, &rotation(2, T0 + 1), &e)
            .await
            .unwrap()
    );
    assert!(
        !store
            .rotate_session(s.id, 1, &rotation(2, T0 + 2), &e)
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
            .rotate_session(s.id, 2, &rotation(3, T0 + 4), &e)
            .await
            .unwrap(),
        "revoked"
    );
    assert!(
        !store
            .rotate_session(new_id(), 1, &rotation(2, T0), &e)
            .await
            .unwrap(),
        "missing"
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
    assert_eq!(one, vec![a.id]);
    let again = store
        .revoke_sessions(&SessionSelector::One(a.id), T0 + 2, "logout", &e)
        .await
        .unwrap();
    assert!(again.is_empty(), "already revoked sessions are left alone");
    let got = store.session(a.id).await.unwrap().unwrap();
    assert_eq!(
        (got.revoked_at, got.revoke_reason.as_deref()),
        (Some(T0 + 1), Some("logout"))
    );
    let sel = SessionSelector::User {
        user_id: u.id,
        except: Some(c.id),
    };
    let mut rest = store
        .revoke_sessions(&sel, T0 + 3, "password_changed", &e)
        .await
        .unwrap();
    rest.sort();
    assert_eq!(rest, vec![b.id]);
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
        .create_session(&expired, &ev(event_kind::LOGIN_SUCCEEDED, T0))
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

pub async fn concurrent_rotations_have_one_winner(store: Arc<dyn Store>) {
    let u = with_user(store.as_ref(), "c@example.com").await;
    let s = with_session(store.as_ref(), u.id, T0).await;
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                let e = ev(event_kind::SESSION_REFRESHED, T0 + i);
                store
                    .rotate_session(s.id, 1, &rotation(2, T0 + i), &e)
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

pub async fn users_list_roles_bans_and_deletion(store: Arc<dyn Store>) {
    let mut older = user("old@example.com");
    older.created_at = T0 - 10;
    store
        .create_user(&older, &ev(event_kind::USER_REGISTERED, T0))
        .await
        .unwrap();
    let u = with_user(store.as_ref(), "new@example.com").await;
    let listed: Vec<Uuid> = store
        .users(10)
        .await
        .unwrap()
        .iter()
        .map(|u| u.id)
        .collect();
    assert_eq!(listed, vec![u.id, older.id], "newest first");
    assert_eq!(store.users(1).await.unwrap().len(), 1);
    let roles = vec!["admin".to_string(), "ops".to_string()];
    assert!(store.set_user_roles(u.id, &roles).await.unwrap());
    assert_eq!(store.user_by_id(u.id).await.unwrap().unwrap().roles, roles);
    assert!(!store.set_user_roles(new_id(), &roles).await.unwrap());
    let ban = Event {
        user_id: Some(u.id),
        ..ev(event_kind::USER_BANNED, T0 + 1)
    };
    assert!(store.set_banned(u.id, true, &ban).await.unwrap());
    assert!(store.user_by_id(u.id).await.unwrap().unwrap().banned);
    assert!(!store.set_banned(new_id(), true, &ban).await.unwrap());
    assert_eq!(
        store
            .events(Some(u.id), Some(event_kind::USER_BANNED), 10)
            .await
            .unwrap()
            .len(),
        1
    );
    let s = with_session(store.as_ref(), u.id, T0).await;
    let before = store.revocations(0, 0, 100).await.unwrap().len();
    let del = ev(event_kind::USER_DELETED, T0 + 2);
    assert!(store.delete_user(u.id, T0 + 2, &del).await.unwrap());
    assert!(!store.delete_user(u.id, T0 + 3, &del).await.unwrap());
    assert_eq!(store.user_by_id(u.id).await.unwrap(), None);
    assert_eq!(
        store.session(s.id).await.unwrap(),
        None,
        "sessions go with the user"
    );
    let feed = store.revocations(0, 0, 100).await.unwrap();
    assert_eq!(feed.len(), before + 1);
    assert_eq!(
        feed.last().unwrap().target,
        RevocationTarget::User { user_id: u.id }
    );
    assert!(
        store
            .user_by_email("new@example.com")
            .await
            .unwrap()
            .is_none()
    );
    with_user(store.as_ref(), "new@example.com").await; // the email is free again
}

pub async fn roles_are_upserted_and_deleting_one_strips_it_from_users(store: Arc<dyn Store>) {
    let admin = Role {
        name: "admin".into(),
        permissions: vec!["users:write".into(), "users:read".into()],
    };
    store.put_role(&admin).await.unwrap();
    store
        .put_role(&Role {
            name: "ops".into(),
            permissions: vec![],
        })
        .await
        .unwrap();
    let updated = Role {
        name: "admin".into(),
        permissions: vec!["all".into()],
    };
    store.put_role(&updated).await.unwrap();
    assert_eq!(
        store.roles().await.unwrap(),
        vec![
            updated,
            Role {
                name: "ops".into(),
                permissions: vec![]
            }
        ]
    );
    let u = with_user(store.as_ref(), "r1@example.com").await;
    let v = with_user(store.as_ref(), "r2@example.com").await;
    store
        .set_user_roles(u.id, &["admin".into(), "ops".into()])
        .await
        .unwrap();
    store
        .set_user_roles(v.id, &["administrator".into()])
        .await
        .unwrap();
    assert!(store.delete_role("admin").await.unwrap());
    assert!(!store.delete_role("admin").await.unwrap());
    assert_eq!(
        store.user_by_id(u.id).await.unwrap().unwrap().roles,
        vec!["ops".to_string()]
    );
    assert_eq!(
        store.user_by_id(v.id).await.unwrap().unwrap().roles,
        vec!["administrator".to_string()],
        "a similar name is untouched"
    );
    assert_eq!(store.roles().await.unwrap().len(), 1);
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
            .create_session(s, &ev(event_kind::LOGIN_SUCCEEDED, T0))
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
        .unwrap();
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
            .unwrap(),
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
            .unwrap(),
        1
    );
    assert_eq!(
        store
            .revoke_bulk(&BulkSelector::All, T0 + 4, "admin", &e(T0 + 4))
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        store
            .revoke_bulk(&BulkSelector::All, T0 + 5, "admin", &e(T0 + 5))
            .await
            .unwrap(),
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

pub async fn ping_answers(store: Arc<dyn Store>) {
    store.ping().await.unwrap();
}
