//! Conformance cases: passkeys (one credential id, one user; the signature counter's
//! compare-and-set) and WebAuthn ceremonies (single use, expiring) (API.md §9.3).
use std::sync::Arc;

use super::*;
use crate::mfa::{Ceremony, Factor, factor_kind};
use crate::store::{Store, StoreError};

fn passkey(user_id: Uuid, at: i64) -> Factor {
    Factor {
        id: new_id(),
        user_id,
        kind: factor_kind::PASSKEY.into(),
        name: "laptop".into(),
        sealed: vec![9; 64],
        confirmed: true,
        created_at: at,
        expires_at: None,
        last_used_at: None,
        last_step: 0,
    }
}

pub async fn a_credential_id_belongs_to_one_user_and_leaves_with_its_factor(store: Arc<dyn Store>) {
    let u = with_user(store.as_ref(), "passkey@example.com").await;
    let other = with_user(store.as_ref(), "passkey-other@example.com").await;
    let f = passkey(u.id, T0);
    let codes: Vec<Vec<u8>> = (0..10).map(|i| vec![3, i]).collect();
    let e = ev(event_kind::MFA_ENROLLED, T0);
    store
        .add_passkey(&f, b"cred-1", Some(&codes), &e)
        .await
        .unwrap();
    assert_eq!(store.recovery_codes_left(u.id).await.unwrap(), 10);
    assert_eq!(
        store.factor_by_credential(b"cred-1").await.unwrap(),
        Some(f.clone())
    );
    assert_eq!(store.factor_by_credential(b"cred-2").await.unwrap(), None);
    // The same credential id for another user (or the same one) is refused, with nothing
    // written.
    let stolen = passkey(other.id, T0);
    let e = ev(event_kind::MFA_ENROLLED, T0);
    let refused = store.add_passkey(&stolen, b"cred-1", None, &e).await;
    assert!(matches!(refused, Err(StoreError::Conflict)), "{refused:?}");
    assert!(store.factors(other.id, T0).await.unwrap().is_empty());
    // Removing the factor frees the id.
    let gone = ev(event_kind::MFA_REMOVED, T0 + 1);
    assert!(store.remove_factor(f.id, u.id, &gone).await.unwrap());
    assert_eq!(store.factor_by_credential(b"cred-1").await.unwrap(), None);
    assert_eq!(
        store.recovery_codes_left(u.id).await.unwrap(),
        0,
        "the last factor took the codes"
    );
    let e = ev(event_kind::MFA_ENROLLED, T0 + 2);
    store
        .add_passkey(&stolen, b"cred-1", None, &e)
        .await
        .unwrap();
    assert_eq!(
        store
            .factor_by_credential(b"cred-1")
            .await
            .unwrap()
            .map(|f| f.user_id),
        Some(other.id)
    );
}

pub async fn a_passkey_counter_only_moves_forward_even_when_raced(store: Arc<dyn Store>) {
    let u = with_user(store.as_ref(), "counter@example.com").await;
    // An authenticator without a counter: 0 after 0 is fine, every time.
    let zero = passkey(u.id, T0);
    let e = ev(event_kind::MFA_ENROLLED, T0);
    store.add_passkey(&zero, b"zero", None, &e).await.unwrap();
    assert!(store.use_passkey(zero.id, 0, b"z1", T0 + 1).await.unwrap());
    assert!(store.use_passkey(zero.id, 0, b"z2", T0 + 2).await.unwrap());
    // One with a counter: it must go up; once non-zero, never back to 0.
    let counted = passkey(u.id, T0);
    let e = ev(event_kind::MFA_ENROLLED, T0);
    store
        .add_passkey(&counted, b"counted", None, &e)
        .await
        .unwrap();
    assert!(
        store
            .use_passkey(counted.id, 5, b"c5", T0 + 1)
            .await
            .unwrap()
    );
    assert!(
        !store
            .use_passkey(counted.id, 5, b"again", T0 + 2)
            .await
            .unwrap()
    );
    assert!(
        !store
            .use_passkey(counted.id, 4, b"back", T0 + 2)
            .await
            .unwrap()
    );
    assert!(
        !store
            .use_passkey(counted.id, 0, b"reset", T0 + 2)
            .await
            .unwrap()
    );
    // Twelve clones present counter 6 at once: one wins.
    let tasks: Vec<_> = (0..12)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move {
                store
                    .use_passkey(counted.id, 6, b"c6", T0 + 3)
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut won = 0;
    for t in tasks {
        won += usize::from(t.await.unwrap());
    }
    assert_eq!(won, 1, "counter 6 accepted {won} times");
    let f = store
        .factor_by_credential(b"counted")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (f.last_step, f.sealed.as_slice(), f.last_used_at),
        (6, &b"c6"[..], Some(T0 + 3))
    );
}

pub async fn a_ceremony_is_taken_once_and_expires(store: Arc<dyn Store>) {
    let u = with_user(store.as_ref(), "ceremony@example.com").await;
    let c = Ceremony {
        id: new_id(),
        kind: "register".into(),
        user_id: Some(u.id),
        data: "{\"state\":1}".into(),
        expires_at: T0 + 300_000,
    };
    store.add_ceremony(&c, T0).await.unwrap();
    let anonymous = Ceremony {
        id: new_id(),
        kind: "login".into(),
        user_id: None,
        ..c.clone()
    };
    store.add_ceremony(&anonymous, T0).await.unwrap();
    // Twelve nodes finish it at once: one gets it.
    let tasks: Vec<_> = (0..12)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move { store.take_ceremony(c.id, T0 + 1).await.unwrap() })
        })
        .collect();
    let mut got = Vec::new();
    for t in tasks {
        got.extend(t.await.unwrap());
    }
    assert_eq!(got, vec![c.clone()]);
    // Expired: taken, but not given.
    assert_eq!(
        store
            .take_ceremony(anonymous.id, T0 + 300_000)
            .await
            .unwrap(),
        None
    );
    assert_eq!(store.take_ceremony(anonymous.id, T0).await.unwrap(), None);
    // Adding a ceremony drops the expired ones.
    let old = Ceremony {
        id: new_id(),
        expires_at: T0 + 10,
        ..c.clone()
    };
    store.add_ceremony(&old, T0).await.unwrap();
    let fresh = Ceremony {
        id: new_id(),
        ..c.clone()
    };
    store.add_ceremony(&fresh, T0 + 20).await.unwrap();
    assert_eq!(store.take_ceremony(old.id, T0).await.unwrap(), None);
}
