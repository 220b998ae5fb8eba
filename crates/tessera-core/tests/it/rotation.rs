//! The rotation rules of API.md §4.3, on the engine with a controllable clock.

use crate::common::*;
use tessera_core::store::{EventStore, SessionStore};
use tessera_core::{Error, RequestMeta};

fn meta() -> RequestMeta {
    RequestMeta::default()
}

#[tokio::test]
async fn refresh_rotates_and_a_replay_in_grace_returns_the_same_successor() {
    let h = harness(config()).await;
    let first = register(&h, "a@example.com").await;
    h.clock.advance_ms(1_000);
    let second = h
        .engine
        .refresh(first.refresh_token.expose(), &meta())
        .await
        .unwrap();
    assert_ne!(second.refresh_token, first.refresh_token);
    assert_eq!(second.session_id, first.session_id);
    h.clock.advance_ms(10_000);
    let replay = h
        .engine
        .refresh(first.refresh_token.expose(), &meta())
        .await
        .unwrap();
    assert_eq!(replay.refresh_token, second.refresh_token, "byte for byte");
    assert_ne!(
        replay.access_token, second.access_token,
        "a new access token each time"
    );
    let s = h.store.session(first.session_id).await.unwrap().unwrap();
    assert_eq!(s.refresh_count, 1, "the grace replay does not count again");
    // The successor itself still rotates normally.
    let third = h
        .engine
        .refresh(second.refresh_token.expose(), &meta())
        .await
        .unwrap();
    assert_ne!(third.refresh_token, second.refresh_token);
    assert_eq!(
        h.store
            .session(first.session_id)
            .await
            .unwrap()
            .unwrap()
            .refresh_count,
        2
    );
}

#[tokio::test]
async fn a_replay_after_the_grace_is_reuse_and_revokes_everything() {
    let h = harness(config()).await;
    let first = register(&h, "b@example.com").await;
    let second = h
        .engine
        .refresh(first.refresh_token.expose(), &meta())
        .await
        .unwrap();
    h.clock.advance_ms(30_001);
    let err = h
        .engine
        .refresh(first.refresh_token.expose(), &meta())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::RefreshTokenReused), "{err:?}");
    let err = h
        .engine
        .refresh(second.refresh_token.expose(), &meta())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::SessionRevoked), "{err:?}");
    for access in [&first.access_token, &second.access_token] {
        let err = h.engine.verify_access(access.expose()).unwrap_err();
        assert!(matches!(err, Error::SessionRevoked), "{err:?}");
    }
    let events = h
        .store
        .events(Some(first.user.id), Some("session.reuse_detected"), 10)
        .await
        .unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].session_id, Some(first.session_id));
}

#[tokio::test]
async fn an_older_generation_is_reuse_even_inside_the_grace() {
    let h = harness(config()).await;
    let g1 = register(&h, "c@example.com").await;
    let g2 = h
        .engine
        .refresh(g1.refresh_token.expose(), &meta())
        .await
        .unwrap();
    let _g3 = h
        .engine
        .refresh(g2.refresh_token.expose(), &meta())
        .await
        .unwrap();
    let err = h
        .engine
        .refresh(g1.refresh_token.expose(), &meta())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::RefreshTokenReused), "{err:?}");
    assert!(
        h.store
            .session(g1.session_id)
            .await
            .unwrap()
            .unwrap()
            .revoked_at
            .is_some()
    );
}

#[tokio::test]
async fn zero_grace_makes_any_replay_reuse() {
    let h = harness(tessera_core::EngineConfig {
        reuse_grace_ms: 0,
        ..config()
    })
    .await;
    let g1 = register(&h, "d@example.com").await;
    h.engine
        .refresh(g1.refresh_token.expose(), &meta())
        .await
        .unwrap();
    let err = h
        .engine
        .refresh(g1.refresh_token.expose(), &meta())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::RefreshTokenReused), "{err:?}");
}

#[tokio::test]
async fn forged_and_altered_tokens_change_nothing() {
    let h = harness(config()).await;
    let g1 = register(&h, "e@example.com").await;
    let token = g1.refresh_token.expose().clone();
    let mut forged = Vec::new();
    for i in [3, 20, 40, 60, token.len() - 1] {
        let mut b = token.clone().into_bytes();
        b[i] = if b[i] == b'A' { b'B' } else { b'A' };
        forged.push(String::from_utf8(b).unwrap());
    }
    forged.push(g1.access_token.expose().clone());
    forged.push("rt_".into());
    forged.push(format!("{token}x"));
    for f in &forged {
        let err = h.engine.refresh(f, &meta()).await.unwrap_err();
        assert!(matches!(err, Error::InvalidRefreshToken), "{err:?}");
    }
    let s = h.store.session(g1.session_id).await.unwrap().unwrap();
    assert!(s.revoked_at.is_none());
    assert_eq!(s.refresh_count, 0);
    h.engine.refresh(&token, &meta()).await.unwrap();
}

#[tokio::test]
async fn concurrent_refreshes_share_one_successor() {
    let h = harness(config()).await;
    let g1 = register(&h, "f@example.com").await;
    let tasks: Vec<_> = (0..16)
        .map(|_| {
            let engine = h.engine.clone();
            let t = g1.refresh_token.expose().clone();
            tokio::spawn(async move { engine.refresh(&t, &RequestMeta::default()).await })
        })
        .collect();
    let mut tokens = Vec::new();
    for t in tasks {
        tokens.push(t.await.unwrap().unwrap().refresh_token);
    }
    assert!(tokens.windows(2).all(|w| w[0] == w[1]));
    assert_eq!(
        h.store
            .session(g1.session_id)
            .await
            .unwrap()
            .unwrap()
            .refresh_count,
        1
    );
}

#[tokio::test]
async fn idle_and_absolute_timeouts_end_sessions_and_cap_access_tokens() {
    let cfg = tessera_core::EngineConfig {
        refresh_ttl_ms: 60 * 60_000,
        session_max_lifetime_ms: 2 * 60 * 60_000 + 600_000,
        ..config()
    };
    let h = harness(cfg).await;
    // Idle: unused for longer than refresh_ttl.
    let idle = register(&h, "g@example.com").await;
    h.clock.advance_ms(60 * 60_000);
    let err = h
        .engine
        .refresh(idle.refresh_token.expose(), &meta())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::SessionExpired), "{err:?}");
    // Absolute: used often, but the lifetime from login still ends it.
    let busy = h
        .engine
        .login(creds("g@example.com"), &meta())
        .await
        .unwrap();
    let mut token = busy.refresh_token;
    let mut last = None;
    for _ in 0..4 {
        h.clock.advance_ms(40 * 60_000);
        match h.engine.refresh(token.expose(), &meta()).await {
            Ok(issued) => {
                assert!(
                    issued.access_expires_at * 1000 <= issued.refresh_expires_at,
                    "access never outlives the session"
                );
                token = issued.refresh_token.clone();
                last = Some(issued);
            }
            Err(e) => {
                assert!(matches!(e, Error::SessionExpired), "{e:?}");
                let last = last.expect("some refreshes succeeded first");
                assert!(
                    last.expires_in < 900,
                    "the last access token was cut short by the session's end"
                );
                return;
            }
        }
    }
    panic!("the absolute lifetime never ended the session");
}

#[tokio::test]
async fn logout_and_revocation_take_effect_on_the_next_verification() {
    let h = harness(config()).await;
    let a = register(&h, "h@example.com").await;
    let p = h.engine.verify_access(a.access_token.expose()).unwrap();
    h.engine.logout(&p, &meta()).await.unwrap();
    assert!(matches!(
        h.engine.verify_access(a.access_token.expose()),
        Err(Error::SessionRevoked)
    ));
    assert!(matches!(
        h.engine.refresh(a.refresh_token.expose(), &meta()).await,
        Err(Error::SessionRevoked)
    ));
    // Idempotent.
    h.engine.logout(&p, &meta()).await.unwrap();
    // A node starting on the same store learns the revocation from the feed...
    let other = register(&h, "h2@example.com").await;
    let fresh = tessera_core::Engine::start(h.store.clone(), h.clock.clone(), &h.master, config())
        .await
        .unwrap();
    assert!(matches!(
        fresh.verify_access(a.access_token.expose()),
        Err(Error::SessionRevoked)
    ));
    assert!(
        fresh.verify_access(other.access_token.expose()).is_ok(),
        "same keys after a restart"
    );
    // ...and a node with another master key cannot open the stored signing keys at all.
    let wrong = tessera_core::Engine::start(
        h.store.clone(),
        h.clock.clone(),
        &tessera_core::MasterKey::generate(),
        config(),
    )
    .await;
    assert!(wrong.is_err());
}

#[tokio::test]
async fn access_tokens_expire_and_login_always_opens_a_new_session() {
    let h = harness(config()).await;
    let a = register(&h, "i@example.com").await;
    let b = h
        .engine
        .login(creds(" I@Example.com "), &meta())
        .await
        .unwrap();
    assert_ne!(a.session_id, b.session_id);
    h.clock.advance_ms(15 * 60_000 + 5_000);
    assert!(matches!(
        h.engine.verify_access(a.access_token.expose()),
        Err(Error::TokenExpired)
    ));
    assert!(h.engine.verify_for_logout(a.access_token.expose()).is_ok());
}

fn kid_of(token: &str) -> String {
    use base64::Engine as _;
    let header = token.split('.').next().unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(header)
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    v["kid"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn signing_keys_rotate_without_breaking_issued_tokens() {
    let h = harness(config()).await;
    let before = register(&h, "keys@example.com").await;
    let jwks = h.engine.jwks();
    assert_eq!(jwks.keys.len(), 2, "current and next");
    let next_kid = h
        .engine
        .key_records()
        .await
        .unwrap()
        .into_iter()
        .find(|k| k.state == tessera_core::model::KeyState::Next)
        .unwrap()
        .kid;
    let current = h.engine.rotate_keys().await.unwrap();
    assert_eq!(
        current.kid, next_kid,
        "the published next key is the one that starts signing"
    );
    let after = h
        .engine
        .login(creds("keys@example.com"), &meta())
        .await
        .unwrap();
    assert_eq!(kid_of(after.access_token.expose()), next_kid);
    assert_ne!(kid_of(before.access_token.expose()), next_kid);
    assert!(
        h.engine.verify_access(before.access_token.expose()).is_ok(),
        "the retiring key still verifies"
    );
    assert_eq!(
        h.engine.jwks().keys.len(),
        3,
        "retiring, current and a new next are published"
    );
    let events = h.store.events(None, Some("key.rotated"), 10).await.unwrap();
    assert_eq!(events.len(), 1);
}

#[tokio::test]
async fn automatic_rotation_waits_for_the_interval() {
    let h = harness(config()).await;
    let day = 86_400_000;
    assert!(!h.engine.rotate_keys_if_due(30 * day).await.unwrap());
    assert!(
        !h.engine.rotate_keys_if_due(0).await.unwrap(),
        "0 is manual only"
    );
    h.clock.advance_ms(30 * day);
    assert!(h.engine.rotate_keys_if_due(30 * day).await.unwrap());
    assert!(
        !h.engine.rotate_keys_if_due(30 * day).await.unwrap(),
        "the new key's clock starts now"
    );
}

#[tokio::test]
async fn cached_verifications_still_see_expiry_and_revocation() {
    let h = harness(config()).await;
    let a = register(&h, "cache@example.com").await;
    let token = a.access_token.expose().clone();
    // Twice: the second is served from the cache of verified tokens.
    assert!(h.engine.verify_access(&token).is_ok());
    assert!(h.engine.verify_access(&token).is_ok());
    // An altered copy is not a cache hit.
    let altered = format!("{}x", &token[..token.len() - 1]);
    assert!(matches!(
        h.engine.verify_access(&altered),
        Err(Error::InvalidToken)
    ));
    // Revocation is checked on every use.
    let p = h.engine.verify_access(&token).unwrap();
    h.engine.logout(&p, &meta()).await.unwrap();
    assert!(matches!(
        h.engine.verify_access(&token),
        Err(Error::SessionRevoked)
    ));
    // Expiry too.
    let b = h
        .engine
        .login(creds("cache@example.com"), &meta())
        .await
        .unwrap();
    assert!(h.engine.verify_access(b.access_token.expose()).is_ok());
    h.clock.advance_ms(15 * 60_000 + 5_000);
    assert!(matches!(
        h.engine.verify_access(b.access_token.expose()),
        Err(Error::TokenExpired)
    ));
}
