//! Conformance cases: second factors, recovery codes and the two-step login's state (API.md §9).
use std::sync::Arc;

use super::*;
use crate::mfa::{Factor, MfaToken, factor_kind};
use crate::store::Store;

fn pending(user_id: Uuid, at: i64) -> Factor {
    Factor {
        id: new_id(),
        user_id,
        kind: factor_kind::TOTP.into(),
        name: "phone".into(),
        sealed: vec![7; 48],
        confirmed: false,
        created_at: at,
        expires_at: Some(at + 600_000),
        last_used_at: None,
        last_step: -1,
    }
}

fn codes(byte: u8) -> Vec<Vec<u8>> {
    (0..10).map(|i| vec![byte, i]).collect()
}

async fn confirmed(store: &dyn Store, user_id: Uuid, at: i64) -> Factor {
    let f = pending(user_id, at);
    store.add_factor(&f).await.unwrap();
    let e = ev(event_kind::MFA_ENROLLED, at);
    assert!(
        store
            .confirm_factor(f.id, user_id, 100, at, Some(&codes(1)), &e)
            .await
            .unwrap()
    );
    f
}

pub async fn pending_factors_expire_and_confirming_one_writes_its_recovery_codes(
    store: Arc<dyn Store>,
) {
    let u = with_user(store.as_ref(), "factors@example.com").await;
    let other = with_user(store.as_ref(), "other-factors@example.com").await;
    let f = pending(u.id, T0);
    store.add_factor(&f).await.unwrap();
    assert_eq!(store.factors(u.id, T0 + 1).await.unwrap(), vec![f.clone()]);
    assert!(
        store.factors(u.id, T0 + 600_000).await.unwrap().is_empty(),
        "an expired pending factor is gone"
    );
    let e = ev(event_kind::MFA_ENROLLED, T0 + 1);
    // Not another user's, not after it expired.
    assert!(
        !store
            .confirm_factor(f.id, other.id, 5, T0 + 1, None, &e)
            .await
            .unwrap()
    );
    assert!(
        !store
            .confirm_factor(f.id, u.id, 5, T0 + 600_000, None, &e)
            .await
            .unwrap()
    );
    assert_eq!(store.recovery_codes_left(u.id).await.unwrap(), 0);
    assert!(
        store
            .confirm_factor(f.id, u.id, 5, T0 + 1, Some(&codes(1)), &e)
            .await
            .unwrap()
    );
    assert!(
        !store
            .confirm_factor(f.id, u.id, 6, T0 + 2, None, &e)
            .await
            .unwrap(),
        "confirmed once"
    );
    let listed = store.factors(u.id, T0 + 10 * 600_000).await.unwrap();
    assert_eq!(listed.len(), 1, "a confirmed factor does not expire");
    let c = &listed[0];
    assert!(c.confirmed && c.expires_at.is_none());
    assert_eq!((c.last_step, c.last_used_at), (5, Some(T0 + 1)));
    assert_eq!(c.sealed, f.sealed);
    assert_eq!(store.recovery_codes_left(u.id).await.unwrap(), 10);
    assert!(store.factors(other.id, T0).await.unwrap().is_empty());
}

pub async fn each_totp_step_is_accepted_once_even_when_raced(store: Arc<dyn Store>) {
    let u = with_user(store.as_ref(), "steps@example.com").await;
    let f = confirmed(store.as_ref(), u.id, T0).await;
    assert!(
        !store.claim_step(f.id, 100, T0).await.unwrap(),
        "the confirming step"
    );
    assert!(
        !store.claim_step(f.id, 99, T0).await.unwrap(),
        "an earlier step"
    );
    // Twelve nodes present the same code at once: one wins.
    let tasks: Vec<_> = (0..12)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move { store.claim_step(f.id, 101, T0 + 5).await.unwrap() })
        })
        .collect();
    let mut won = 0;
    for t in tasks {
        won += usize::from(t.await.unwrap());
    }
    assert_eq!(won, 1, "step 101 accepted {won} times");
    assert!(store.claim_step(f.id, 103, T0 + 6).await.unwrap());
    assert!(!store.claim_step(f.id, 102, T0 + 6).await.unwrap());
    // A pending factor accepts no step at all.
    let p = pending(u.id, T0);
    store.add_factor(&p).await.unwrap();
    assert!(!store.claim_step(p.id, 200, T0).await.unwrap());
    let last = store.factors(u.id, T0).await.unwrap();
    assert_eq!(last[0].last_step, 103);
    assert_eq!(last[0].last_used_at, Some(T0 + 6));
}

pub async fn recovery_codes_work_once_and_leave_with_the_last_factor(store: Arc<dyn Store>) {
    let u = with_user(store.as_ref(), "codes@example.com").await;
    let first = confirmed(store.as_ref(), u.id, T0).await;
    let second = confirmed(store.as_ref(), u.id, T0 + 1).await;
    let used = ev(event_kind::MFA_RECOVERY_CODE_USED, T0 + 2);
    assert!(
        store
            .use_recovery_code(u.id, &[1, 3], T0 + 2, &used)
            .await
            .unwrap()
    );
    assert!(
        !store
            .use_recovery_code(u.id, &[1, 3], T0 + 3, &used)
            .await
            .unwrap(),
        "a code works once"
    );
    assert!(
        !store
            .use_recovery_code(u.id, &[9, 9], T0 + 3, &used)
            .await
            .unwrap()
    );
    assert_eq!(store.recovery_codes_left(u.id).await.unwrap(), 9);
    let e = ev(event_kind::MFA_RECOVERY_CODES_REPLACED, T0 + 4);
    store
        .replace_recovery_codes(u.id, &codes(2), &e)
        .await
        .unwrap();
    assert!(
        !store
            .use_recovery_code(u.id, &[1, 4], T0 + 5, &used)
            .await
            .unwrap(),
        "the old set stops working"
    );
    assert_eq!(store.recovery_codes_left(u.id).await.unwrap(), 10);

    let removed = ev(event_kind::MFA_REMOVED, T0 + 6);
    let other = with_user(store.as_ref(), "not-yours@example.com").await;
    assert!(
        !store
            .remove_factor(first.id, other.id, &removed)
            .await
            .unwrap()
    );
    assert!(store.remove_factor(first.id, u.id, &removed).await.unwrap());
    assert_eq!(
        store.recovery_codes_left(u.id).await.unwrap(),
        10,
        "a confirmed factor remains"
    );
    // Every event is its own row (one id each).
    let removed = ev(event_kind::MFA_REMOVED, T0 + 6);
    assert!(
        store
            .remove_factor(second.id, u.id, &removed)
            .await
            .unwrap()
    );
    assert_eq!(
        store.recovery_codes_left(u.id).await.unwrap(),
        0,
        "the last factor takes the codes with it"
    );
    assert!(
        !store
            .use_recovery_code(u.id, &[2, 0], T0 + 7, &used)
            .await
            .unwrap()
    );
    let kinds: Vec<String> = store
        .events(None, None, 1000)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.kind)
        .collect();
    for k in [
        event_kind::MFA_RECOVERY_CODE_USED,
        event_kind::MFA_RECOVERY_CODES_REPLACED,
        event_kind::MFA_REMOVED,
    ] {
        assert!(kinds.iter().any(|x| x == k), "{k} not recorded: {kinds:?}");
    }
}

pub async fn mfa_tokens_count_failures_end_at_the_limit_and_are_taken_once(store: Arc<dyn Store>) {
    let u = with_user(store.as_ref(), "two-step@example.com").await;
    let token = |byte: u8| MfaToken {
        hash: vec![byte; 32],
        user_id: u.id,
        created_at: T0,
        expires_at: T0 + 300_000,
        attempts: 0,
        namespace: "web".into(),
        transport: "cookie".into(),
    };
    store.add_mfa_token(&token(1)).await.unwrap();
    assert_eq!(
        store.mfa_token(&[1; 32], T0 + 1).await.unwrap(),
        Some(token(1))
    );
    assert_eq!(store.mfa_token(&[1; 32], T0 + 300_000).await.unwrap(), None);
    for n in 1..5 {
        assert_eq!(store.mfa_token_failed(&[1; 32], 5).await.unwrap(), n);
    }
    assert_eq!(
        store
            .mfa_token(&[1; 32], T0 + 1)
            .await
            .unwrap()
            .map(|t| t.attempts),
        Some(4)
    );
    assert_eq!(store.mfa_token_failed(&[1; 32], 5).await.unwrap(), 5);
    assert_eq!(
        store.mfa_token(&[1; 32], T0 + 1).await.unwrap(),
        None,
        "five wrong codes end it"
    );
    assert_eq!(store.mfa_token_failed(&[1; 32], 5).await.unwrap(), 0);

    // Finished on two nodes at once: one login.
    store.add_mfa_token(&token(2)).await.unwrap();
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move { store.take_mfa_token(&[2; 32], T0 + 1).await.unwrap() })
        })
        .collect();
    let mut taken = 0;
    for t in tasks {
        taken += usize::from(t.await.unwrap().is_some());
    }
    assert_eq!(taken, 1, "taken {taken} times");
    // An expired one is taken by no one.
    store.add_mfa_token(&token(3)).await.unwrap();
    assert_eq!(
        store.take_mfa_token(&[3; 32], T0 + 300_000).await.unwrap(),
        None
    );
}

pub async fn a_session_proof_is_raised_and_a_factors_sessions_end_with_it(store: Arc<dyn Store>) {
    let u = with_user(store.as_ref(), "proof@example.com").await;
    let f = confirmed(store.as_ref(), u.id, T0).await;
    let plain = with_session(store.as_ref(), u.id, T0).await;
    let second = with_session(store.as_ref(), u.id, T0).await;
    let amr: Vec<String> = ["pwd", "otp", "mfa"].map(String::from).to_vec();
    let raised = ev(event_kind::MFA_ENROLLED, T0 + 1);
    assert!(
        store
            .set_session_proof(second.id, "aal2", &amr, Some(f.id), &raised)
            .await
            .unwrap()
    );
    let s = store.session(second.id).await.unwrap().unwrap();
    assert_eq!(
        (s.acr.as_str(), &s.amr, s.factor_id),
        ("aal2", &amr, Some(f.id))
    );

    let sel = SessionSelector::Factor {
        user_id: u.id,
        factor_id: f.id,
    };
    let done = store
        .revoke_sessions(
            &sel,
            T0 + 2,
            "mfa_removed",
            &ev(event_kind::SESSION_REVOKED, T0 + 2),
        )
        .await
        .unwrap();
    assert_eq!(done.sessions, 1, "only the session whose factor it was");
    assert!(
        store
            .session(second.id)
            .await
            .unwrap()
            .unwrap()
            .revoked_at
            .is_some()
    );
    assert!(
        store
            .session(plain.id)
            .await
            .unwrap()
            .unwrap()
            .revoked_at
            .is_none()
    );
    // A revoked session's proof no longer changes.
    let again = ev(event_kind::MFA_ENROLLED, T0 + 3);
    assert!(
        !store
            .set_session_proof(second.id, "aal1", &[], None, &again)
            .await
            .unwrap()
    );
}
