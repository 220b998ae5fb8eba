//! Conformance cases: users.
use std::sync::Arc;

use uuid::Uuid;

use super::*;
use crate::store::{Store, StoreError};

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
        .create_user(&dup, &ev(event_kind::USER_REGISTERED, T0), None)
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

pub async fn users_list_roles_bans_and_deletion(store: Arc<dyn Store>) {
    let mut older = user("old@example.com");
    older.created_at = T0 - 10;
    store
        .create_user(&older, &ev(event_kind::USER_REGISTERED, T0), None)
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
    assert!(
        store
            .delete_user(u.id, T0 + 2, &del)
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        store
            .delete_user(u.id, T0 + 3, &del)
            .await
            .unwrap()
            .is_none()
    );
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
