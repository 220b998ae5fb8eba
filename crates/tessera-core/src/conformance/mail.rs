//! Conformance cases: email tokens and the outbox (API.md §7).
use std::collections::HashSet;
use std::sync::Arc;

use super::*;
use crate::store::Store;

fn token(user_id: Uuid, kind: &str, byte: u8, expires_at: i64) -> EmailToken {
    EmailToken {
        hash: vec![byte; 32],
        user_id,
        kind: kind.into(),
        created_at: T0,
        expires_at,
    }
}

fn mail(user_id: Option<Uuid>, kind: &str, at: i64) -> OutboxMail {
    OutboxMail {
        id: new_id(),
        user_id,
        kind: kind.into(),
        sealed: vec![7; 40],
        created_at: at,
    }
}

pub async fn email_tokens_are_single_use_of_their_kind_and_expire(store: Arc<dyn Store>) {
    let u = with_user(store.as_ref(), "verify@example.com").await;
    let live = token(u.id, email_kind::VERIFY, 1, T0 + 60_000);
    let m = mail(Some(u.id), email_kind::VERIFY, T0);
    assert!(
        store
            .issue_email_token(
                &live,
                Some(&m),
                &ev(event_kind::PASSWORD_RESET_REQUESTED, T0),
                None
            )
            .await
            .unwrap()
    );
    let expired = token(u.id, email_kind::VERIFY, 2, T0 + 10);
    assert!(
        store
            .issue_email_token(
                &expired,
                None,
                &ev(event_kind::PASSWORD_RESET_REQUESTED, T0),
                None
            )
            .await
            .unwrap()
    );

    let at = T0 + 1_000;
    assert_eq!(
        store
            .email_token_user(&[1; 32], email_kind::VERIFY, at)
            .await
            .unwrap(),
        Some(u.id)
    );
    assert_eq!(
        store
            .email_token_user(&[1; 32], email_kind::RESET, at)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store
            .email_token_user(&[2; 32], email_kind::VERIFY, at)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store
            .email_token_user(&[9; 32], email_kind::VERIFY, at)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store
            .verify_email(&[2; 32], at, &ev(event_kind::EMAIL_VERIFIED, at))
            .await
            .unwrap(),
        None,
        "expired"
    );
    assert!(
        !store
            .user_by_id(u.id)
            .await
            .unwrap()
            .unwrap()
            .email_verified
    );
    assert_eq!(
        store
            .verify_email(&[1; 32], at, &ev(event_kind::EMAIL_VERIFIED, at))
            .await
            .unwrap(),
        Some(u.id)
    );
    assert!(
        store
            .user_by_id(u.id)
            .await
            .unwrap()
            .unwrap()
            .email_verified
    );
    assert_eq!(
        store
            .verify_email(&[1; 32], at, &ev(event_kind::EMAIL_VERIFIED, at))
            .await
            .unwrap(),
        None,
        "used"
    );
    let events = store
        .events(Some(u.id), Some(event_kind::EMAIL_VERIFIED), 10)
        .await
        .unwrap();
    assert_eq!(events.len(), 1);
}

pub async fn a_new_user_and_its_verification_mail_are_written_together(store: Arc<dyn Store>) {
    let u = user("new@example.com");
    let welcome = |user_id, byte| TokenMail {
        token: token(user_id, email_kind::VERIFY, byte, T0 + 60_000),
        mail: mail(Some(user_id), email_kind::VERIFY, T0),
        event: Event {
            user_id: Some(user_id),
            ..ev(event_kind::EMAIL_VERIFICATION_SENT, T0)
        },
    };
    store
        .create_user(
            &u,
            &ev(event_kind::USER_REGISTERED, T0),
            Some(&welcome(u.id, 1)),
        )
        .await
        .unwrap();
    let at = T0 + 1;
    let found = store.email_token_user(&[1; 32], email_kind::VERIFY, at);
    assert_eq!(found.await.unwrap(), Some(u.id));
    assert_eq!(store.mail_counts().await.unwrap().queued, 1);
    let sent = store
        .events(Some(u.id), Some(event_kind::EMAIL_VERIFICATION_SENT), 10)
        .await
        .unwrap();
    assert_eq!(sent.len(), 1);

    // The email is taken: neither the user nor its token, mail or event is written.
    let dup = user("new@example.com");
    let err = store
        .create_user(
            &dup,
            &ev(event_kind::USER_REGISTERED, T0),
            Some(&welcome(dup.id, 2)),
        )
        .await;
    assert!(
        matches!(err, Err(crate::store::StoreError::Conflict)),
        "{err:?}"
    );
    let found = store.email_token_user(&[2; 32], email_kind::VERIFY, at);
    assert_eq!(found.await.unwrap(), None);
    assert_eq!(store.mail_counts().await.unwrap().queued, 1);
    let none = store.events(Some(dup.id), None, 10).await.unwrap();
    assert!(none.is_empty(), "{none:?}");
}

pub async fn a_reset_uses_every_reset_token_and_queues_its_notice(store: Arc<dyn Store>) {
    let u = with_user(store.as_ref(), "reset@example.com").await;
    let other = with_user(store.as_ref(), "bystander@example.com").await;
    for (user, byte) in [(u.id, 1), (u.id, 2), (other.id, 3)] {
        let t = token(user, email_kind::RESET, byte, T0 + 60_000);
        assert!(
            store
                .issue_email_token(
                    &t,
                    None,
                    &ev(event_kind::PASSWORD_RESET_REQUESTED, T0),
                    None
                )
                .await
                .unwrap()
        );
    }
    let notice = mail(None, "password_changed", T0 + 5);
    let who = store
        .reset_password(
            &[1; 32],
            T0 + 5,
            "$argon2id$new",
            &notice,
            &ev(event_kind::PASSWORD_RESET, T0 + 5),
        )
        .await
        .unwrap();
    assert_eq!(who, Some(u.id));
    let user = store.user_by_id(u.id).await.unwrap().unwrap();
    assert_eq!(
        (user.password_hash.as_str(), user.password_changed_at),
        ("$argon2id$new", T0 + 5)
    );
    assert!(user.email_verified, "a reset proves the mailbox");
    for byte in [1, 2] {
        let again = store
            .reset_password(
                &[byte; 32],
                T0 + 6,
                "x",
                &notice,
                &ev(event_kind::PASSWORD_RESET, T0 + 5),
            )
            .await
            .unwrap();
        assert_eq!(again, None, "every reset token of the user is used");
    }
    assert_eq!(
        store
            .email_token_user(&[3; 32], email_kind::RESET, T0 + 6)
            .await
            .unwrap(),
        Some(other.id)
    );
    assert_eq!(store.mail_counts().await.unwrap().queued, 1);
    let events = store
        .events(Some(u.id), Some(event_kind::PASSWORD_RESET), 10)
        .await
        .unwrap();
    assert_eq!(events.len(), 1);
}

pub async fn a_password_change_or_a_ban_ends_the_reset_tokens(store: Arc<dyn Store>) {
    let issue = |t: EmailToken| {
        let store = store.clone();
        async move {
            let e = ev(event_kind::PASSWORD_RESET_REQUESTED, T0);
            assert!(store.issue_email_token(&t, None, &e, None).await.unwrap());
        }
    };
    let live = |byte: u8, kind: &'static str| {
        let store = store.clone();
        async move {
            store
                .email_token_user(&[byte; 32], kind, T0 + 2_000)
                .await
                .unwrap()
                .is_some()
        }
    };
    let changed = with_user(store.as_ref(), "changed@example.com").await;
    issue(token(changed.id, email_kind::RESET, 11, T0 + 600_000)).await;
    issue(token(changed.id, email_kind::VERIFY, 12, T0 + 600_000)).await;
    let rehashed = with_user(store.as_ref(), "rehashed@example.com").await;
    issue(token(rehashed.id, email_kind::RESET, 13, T0 + 600_000)).await;
    let banned = with_user(store.as_ref(), "banned@example.com").await;
    issue(token(banned.id, email_kind::RESET, 14, T0 + 600_000)).await;

    // A transparent rehash is no password change: the reset link still works.
    assert!(
        store
            .set_password_hash(rehashed.id, "$rehashed", None, None)
            .await
            .unwrap()
    );
    assert!(live(13, email_kind::RESET).await);

    let e = ev(event_kind::PASSWORD_CHANGED, T0 + 1_000);
    assert!(
        store
            .set_password_hash(changed.id, "$new", Some(T0 + 1_000), Some(&e))
            .await
            .unwrap()
    );
    assert!(
        !live(11, email_kind::RESET).await,
        "a change ends reset links"
    );
    assert!(
        live(12, email_kind::VERIFY).await,
        "verification links stay"
    );

    let e = ev(event_kind::USER_BANNED, T0 + 1_000);
    assert!(store.set_banned(banned.id, true, &e).await.unwrap());
    assert!(!live(14, email_kind::RESET).await, "a ban ends reset links");
    assert!(live(13, email_kind::RESET).await, "other users' links stay");
}

pub async fn mail_is_throttled_per_user_and_kind(store: Arc<dyn Store>) {
    let u = with_user(store.as_ref(), "throttle@example.com").await;
    let first = token(u.id, email_kind::RESET, 1, T0 + 60_000);
    let m1 = mail(Some(u.id), email_kind::RESET, T0);
    assert!(
        store
            .issue_email_token(
                &first,
                Some(&m1),
                &ev(event_kind::PASSWORD_RESET_REQUESTED, T0),
                Some(T0 - 60_000)
            )
            .await
            .unwrap()
    );
    let second = token(u.id, email_kind::RESET, 2, T0 + 60_000);
    let m2 = mail(Some(u.id), email_kind::RESET, T0 + 30_000);
    assert!(
        !store
            .issue_email_token(
                &second,
                Some(&m2),
                &ev(event_kind::PASSWORD_RESET_REQUESTED, T0),
                Some(T0 - 30_000)
            )
            .await
            .unwrap()
    );
    assert_eq!(
        store
            .email_token_user(&[2; 32], email_kind::RESET, T0)
            .await
            .unwrap(),
        None,
        "nothing written"
    );
    // Another kind is not throttled by it; later, the same kind goes again.
    let verify = token(u.id, email_kind::VERIFY, 3, T0 + 60_000);
    let m3 = mail(Some(u.id), email_kind::VERIFY, T0 + 30_000);
    assert!(
        store
            .issue_email_token(
                &verify,
                Some(&m3),
                &ev(event_kind::PASSWORD_RESET_REQUESTED, T0),
                Some(T0 - 30_000)
            )
            .await
            .unwrap()
    );
    assert!(
        store
            .issue_email_token(
                &second,
                Some(&m2),
                &ev(event_kind::PASSWORD_RESET_REQUESTED, T0),
                Some(T0 + 1)
            )
            .await
            .unwrap()
    );
    assert_eq!(store.mail_counts().await.unwrap().queued, 3);
}

pub async fn claimed_mail_is_leased_then_sent_retried_or_given_up(store: Arc<dyn Store>) {
    let mails: Vec<OutboxMail> = (0..3).map(|i| mail(None, "notice", T0 + i)).collect();
    for m in &mails {
        store.enqueue_mail(m).await.unwrap();
    }
    let now = T0 + 100;
    let first = store.claim_mail(now, 1_000, 2).await.unwrap();
    // The two due first, in any order (RETURNING promises none).
    let mut ids: Vec<Uuid> = first.iter().map(|c| c.id).collect();
    ids.sort();
    let mut want = vec![mails[0].id, mails[1].id];
    want.sort();
    assert_eq!(ids, want);
    assert!(
        first
            .iter()
            .all(|c| c.attempts == 1 && c.sealed == vec![7; 40])
    );
    let rest = store.claim_mail(now, 1_000, 10).await.unwrap();
    assert_eq!(
        rest.iter().map(|c| c.id).collect::<Vec<_>>(),
        vec![mails[2].id]
    );
    assert!(
        store.claim_mail(now, 1_000, 10).await.unwrap().is_empty(),
        "all leased"
    );

    store.mail_sent(mails[0].id, now + 10).await.unwrap();
    store
        .mail_failed(mails[1].id, now + 10, Some(now + 5_000), "451 try later")
        .await
        .unwrap();
    store
        .mail_failed(mails[2].id, now + 10, None, "550 no such user")
        .await
        .unwrap();
    assert_eq!(
        store.mail_counts().await.unwrap(),
        MailCounts {
            queued: 1,
            sent: 1,
            failed: 1
        }
    );
    assert!(
        store
            .claim_mail(now + 4_999, 1_000, 10)
            .await
            .unwrap()
            .is_empty()
    );
    let retried = store.claim_mail(now + 5_000, 1_000, 10).await.unwrap();
    assert_eq!(retried.len(), 1);
    assert_eq!((retried[0].id, retried[0].attempts), (mails[1].id, 2));
    // A lease that runs out (a worker that died mid-send) frees the mail again.
    let again = store.claim_mail(now + 6_000, 1_000, 10).await.unwrap();
    assert_eq!((again[0].id, again[0].attempts), (mails[1].id, 3));
}

pub async fn concurrent_claims_never_share_a_mail(store: Arc<dyn Store>) {
    for i in 0..24 {
        store
            .enqueue_mail(&mail(None, "notice", T0 + i))
            .await
            .unwrap();
    }
    let workers: Vec<_> = (0..6)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move {
                let mut got = vec![];
                loop {
                    let batch = store.claim_mail(T0 + 100, 60_000, 3).await.unwrap();
                    if batch.is_empty() {
                        return got;
                    }
                    got.extend(batch.into_iter().map(|c| c.id));
                }
            })
        })
        .collect();
    let mut all = vec![];
    for w in workers {
        all.extend(w.await.unwrap());
    }
    let unique: HashSet<Uuid> = all.iter().copied().collect();
    assert_eq!((all.len(), unique.len()), (24, 24));
}

pub async fn devices_are_known_for_the_window_revoked_or_not(store: Arc<dyn Store>) {
    let u = with_user(store.as_ref(), "device@example.com").await;
    let s = with_session(store.as_ref(), u.id, T0).await; // user agent "test-agent/1.0"
    store
        .revoke_sessions(
            &SessionSelector::One(s.id),
            T0 + 1,
            "logout",
            &ev(event_kind::SESSION_REVOKED, T0),
        )
        .await
        .unwrap();
    let seen = |ua: Option<&'static str>, since| {
        let store = store.clone();
        async move { store.seen_device(u.id, ua, since).await.unwrap() }
    };
    assert!(seen(Some("test-agent/1.0"), T0).await);
    assert!(!seen(Some("test-agent/1.0"), T0 + 1).await, "too long ago");
    assert!(!seen(Some("other/2.0"), T0 - 1).await);
    assert!(!seen(None, T0 - 1).await);
    let mut bare = session(u.id, T0);
    bare.user_agent = None;
    let notice = mail(Some(u.id), "new_device", T0);
    store
        .create_session(
            &bare,
            &ev(event_kind::LOGIN_SUCCEEDED, T0),
            None,
            Some(&notice),
        )
        .await
        .unwrap();
    assert!(seen(None, T0).await);
    assert_eq!(
        store.mail_counts().await.unwrap().queued,
        1,
        "the notice is queued with it"
    );
}
