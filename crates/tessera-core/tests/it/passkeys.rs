//! Passkeys on the engine (API.md §9.3), with the software authenticator: registration, sign-in
//! with the passkey alone and as the second step, step-up, and every assertion a thief or a
//! broken client could present.
use std::sync::Arc;

use serde_json::Value;
use tessera_core::engine::Principal;
use tessera_core::engine::passkeys::{PasskeyConfig, PasskeyLogin};
use tessera_core::mfa::acr;
use tessera_core::model::event_kind;
use tessera_core::soft_authenticator::{Present, SoftAuthenticator};
use tessera_core::store::{EventStore, SessionStore};
use tessera_core::{EngineConfig, Error, Issued, RequestMeta};

use crate::common::*;

const ORIGIN: &str = "https://app.test";

fn meta() -> RequestMeta {
    RequestMeta::default()
}

fn passkey_config() -> EngineConfig {
    let mut cfg = config();
    cfg.mfa.passkeys = Some(PasskeyConfig {
        rp_id: "app.test".into(),
        rp_name: "Tessera".into(),
        origins: vec![ORIGIN.parse().unwrap()],
    });
    cfg
}

fn principal(h: &Harness, issued: &Issued) -> Arc<Principal> {
    h.engine
        .verify_access(issued.access_token.expose())
        .unwrap()
}

/// Registers `email` and adds a passkey from `auth` in that session.
async fn with_passkey(h: &Harness, auth: &mut SoftAuthenticator, email: &str) -> Issued {
    let first = register(h, email).await;
    let p = principal(h, &first);
    let start = h
        .engine
        .passkey_register_options(&p, Some("laptop".into()))
        .await
        .unwrap();
    let sel = &start.public_key["authenticatorSelection"];
    assert_eq!(
        (&sel["residentKey"], &sel["userVerification"]),
        (&Value::from("required"), &Value::from("required"))
    );
    assert_eq!(start.public_key["attestation"], "none");
    let credential = auth.register(&start.public_key, &Present::default());
    let c = h
        .engine
        .passkey_register(&p, start.ceremony_id, credential, None, &meta())
        .await
        .unwrap();
    assert_eq!(
        (c.factor.kind.as_str(), c.factor.name.as_str()),
        ("passkey", "laptop")
    );
    assert_eq!(c.recovery_codes.map(|r| r.len()), Some(10), "first factor");
    first
}

/// Signs in usernameless with what `auth` presents.
async fn sign_in(
    h: &Harness,
    auth: &mut SoftAuthenticator,
    email: Option<&str>,
    present: &Present,
) -> Result<Issued, Error> {
    let start = h
        .engine
        .passkey_login_options(email, None, &meta())
        .await
        .unwrap();
    let credential = auth.assert(&start.public_key, present);
    let login = PasskeyLogin {
        ceremony_id: start.ceremony_id,
        credential,
        transport: "body".into(),
        ..Default::default()
    };
    h.engine.passkey_login(login, &meta()).await.map(|(i, _)| i)
}

async fn session_proof(h: &Harness, issued: &Issued) -> (String, Vec<String>) {
    let s = h.store.session(issued.session_id).await.unwrap().unwrap();
    (s.acr, s.amr)
}

#[tokio::test]
async fn a_passkey_registers_from_a_session_and_signs_in_alone_at_aal2() {
    let h = harness(passkey_config()).await;
    let mut auth = SoftAuthenticator::new(ORIGIN);
    let other = register(&h, "pk@example.com").await;
    let first = {
        // The registering session is the user's second; the first ends with the first factor.
        let second = h
            .engine
            .login(creds("pk@example.com"), &meta())
            .await
            .unwrap();
        let p = principal(&h, &second);
        let start = h.engine.passkey_register_options(&p, None).await.unwrap();
        let credential = auth.register(&start.public_key, &Present::default());
        h.engine
            .passkey_register(&p, start.ceremony_id, credential, None, &meta())
            .await
            .unwrap();
        second
    };
    assert_eq!(
        session_proof(&h, &first).await,
        (
            "aal2".into(),
            vec!["pwd".into(), "hwk".into(), "user".into(), "mfa".into()]
        )
    );
    let ended = h.store.session(other.session_id).await.unwrap().unwrap();
    assert!(
        ended.revoked_at.is_some(),
        "the password-only session ended"
    );
    // A password alone no longer signs in.
    assert!(matches!(
        h.engine.login(creds("pk@example.com"), &meta()).await,
        Err(Error::MfaRequired(_))
    ));
    // The passkey alone does, usernameless or with the email, at aal2.
    let alone = sign_in(&h, &mut auth, None, &Present::default())
        .await
        .unwrap();
    assert_eq!(
        session_proof(&h, &alone).await,
        ("aal2".into(), vec!["hwk".into(), "user".into()])
    );
    let claims = principal(&h, &alone);
    assert_eq!(claims.claims.acr.as_deref(), Some(acr::AAL2));
    sign_in(&h, &mut auth, Some("PK@example.com"), &Present::default())
        .await
        .unwrap();
    // A synced passkey says swk.
    let mut synced = SoftAuthenticator::new(ORIGIN);
    synced.synced = true;
    synced.counts = false;
    with_passkey(&h, &mut synced, "synced@example.com").await;
    let s = sign_in(&h, &mut synced, None, &Present::default())
        .await
        .unwrap();
    assert_eq!(session_proof(&h, &s).await.1, vec!["swk", "user"]);
    // Counterless: 0 after 0 is accepted again.
    sign_in(&h, &mut synced, None, &Present::default())
        .await
        .unwrap();
    // The factor list has it, and User.mfa.
    let user = h.engine.user(s.user.id).await.unwrap();
    assert_eq!(user.mfa, vec!["passkey"]);
}

#[tokio::test]
async fn a_passkey_is_the_second_step_after_a_password() {
    let h = harness(passkey_config()).await;
    let mut auth = SoftAuthenticator::new(ORIGIN);
    with_passkey(&h, &mut auth, "second@example.com").await;
    let token = match h.engine.login(creds("second@example.com"), &meta()).await {
        Err(Error::MfaRequired(c)) => {
            assert_eq!(c.factors[0].kind, "passkey");
            c.mfa_token.expose().clone()
        }
        other => panic!("{other:?}"),
    };
    let start = h
        .engine
        .passkey_login_options(None, Some(&token), &meta())
        .await
        .unwrap();
    assert_eq!(
        start.public_key["allowCredentials"]
            .as_array()
            .map(Vec::len),
        Some(1),
        "the user's passkeys"
    );
    let credential = auth.assert(&start.public_key, &Present::default());
    let login = |token: Option<String>, ceremony_id, credential| PasskeyLogin {
        ceremony_id,
        credential,
        mfa_token: token,
        transport: "cookie".into(),
        ..Default::default()
    };
    // Without the mfa token the second step does not finish (and the ceremony is spent).
    let without = h
        .engine
        .passkey_login(login(None, start.ceremony_id, credential.clone()), &meta())
        .await;
    assert!(
        matches!(without, Err(Error::InvalidMfaToken)),
        "{without:?}"
    );
    let start = h
        .engine
        .passkey_login_options(None, Some(&token), &meta())
        .await
        .unwrap();
    let credential = auth.assert(&start.public_key, &Present::default());
    let (issued, transport) = h
        .engine
        .passkey_login(
            login(Some(token.clone()), start.ceremony_id, credential),
            &meta(),
        )
        .await
        .unwrap();
    assert_eq!(
        transport, "body",
        "the first step's transport, not the second's"
    );
    assert_eq!(
        session_proof(&h, &issued).await,
        (
            "aal2".into(),
            vec!["pwd".into(), "hwk".into(), "user".into(), "mfa".into()]
        )
    );
    // The mfa token is spent.
    assert!(matches!(
        h.engine
            .passkey_login_options(None, Some(&token), &meta())
            .await,
        Err(Error::InvalidMfaToken)
    ));
}

#[tokio::test]
async fn every_bad_assertion_is_refused_and_counted() {
    let h = harness(passkey_config()).await;
    let mut auth = SoftAuthenticator::new(ORIGIN);
    let first = with_passkey(&h, &mut auth, "hostile@example.com").await;
    let refused = |r: Result<Issued, Error>, what: &str| {
        assert!(matches!(r, Err(Error::InvalidCredentials)), "{what}: {r:?}");
    };
    let bad = [
        (
            "another origin",
            Present {
                origin: Some("https://evil.test".into()),
                ..Default::default()
            },
        ),
        (
            "another RP ID",
            Present {
                rp_id: Some("evil.test".into()),
                ..Default::default()
            },
        ),
        (
            "no user verification",
            Present {
                no_user_verification: true,
                ..Default::default()
            },
        ),
        (
            "a bad signature",
            Present {
                bad_signature: true,
                ..Default::default()
            },
        ),
    ];
    for (what, present) in &bad {
        refused(sign_in(&h, &mut auth, None, present).await, what);
    }
    // Another user's email: this passkey is not theirs.
    register(&h, "victim@example.com").await;
    refused(
        sign_in(
            &h,
            &mut auth,
            Some("victim@example.com"),
            &Present::default(),
        )
        .await,
        "another user's email",
    );
    // A replayed assertion: its ceremony is spent, and a new ceremony has another challenge.
    let start = h
        .engine
        .passkey_login_options(None, None, &meta())
        .await
        .unwrap();
    let credential = auth.assert(&start.public_key, &Present::default());
    let login = |ceremony_id, credential: &Value| PasskeyLogin {
        ceremony_id,
        credential: credential.clone(),
        transport: "body".into(),
        ..Default::default()
    };
    h.engine
        .passkey_login(login(start.ceremony_id, &credential), &meta())
        .await
        .unwrap();
    refused(
        h.engine
            .passkey_login(login(start.ceremony_id, &credential), &meta())
            .await
            .map(|(i, _)| i),
        "the same ceremony twice",
    );
    let fresh = h
        .engine
        .passkey_login_options(None, None, &meta())
        .await
        .unwrap();
    refused(
        h.engine
            .passkey_login(login(fresh.ceremony_id, &credential), &meta())
            .await
            .map(|(i, _)| i),
        "a replayed assertion",
    );
    // An expired ceremony.
    let old = h
        .engine
        .passkey_login_options(None, None, &meta())
        .await
        .unwrap();
    let credential = auth.assert(&old.public_key, &Present::default());
    h.clock.advance_ms(5 * 60_000);
    refused(
        h.engine
            .passkey_login(login(old.ceremony_id, &credential), &meta())
            .await
            .map(|(i, _)| i),
        "an expired ceremony",
    );
    // A counter that does not advance: a clone, recorded as such.
    let now = auth.credentials[0].counter;
    refused(
        sign_in(
            &h,
            &mut auth,
            None,
            &Present {
                counter: Some(now - 2),
                ..Default::default()
            },
        )
        .await,
        "a counter going backwards",
    );
    let uid = first.user.id;
    let events = h.store.events(Some(uid), None, 100).await.unwrap();
    let count = |kind: &str| events.iter().filter(|e| e.kind == kind).count();
    assert_eq!(count(event_kind::PASSKEY_CLONE_SUSPECTED), 1);
    // Every refused assertion reached the library's checks and counts like a failed login
    // (four defects, another user's email, the replay, the counter); the spent and the expired
    // ceremony were refused before any passkey was looked at.
    assert_eq!(count(event_kind::LOGIN_FAILED), 7);
    // Ten failures in the window since the last success (the sign-in before the replay) lock the
    // account: then the right passkey is refused too.
    for _ in 0..8 {
        let bad = Present {
            bad_signature: true,
            ..Default::default()
        };
        refused(sign_in(&h, &mut auth, None, &bad).await, "a bad signature");
    }
    let locked = sign_in(&h, &mut auth, None, &Present::default()).await;
    assert!(
        matches!(locked, Err(Error::RateLimited { .. })),
        "{locked:?}"
    );
}

#[tokio::test]
async fn a_credential_belongs_to_one_user_and_ceremonies_to_their_session() {
    let h = harness(passkey_config()).await;
    let mut auth = SoftAuthenticator::new(ORIGIN);
    with_passkey(&h, &mut auth, "owner@example.com").await;
    let b = register(&h, "claimer@example.com").await;
    let pb = principal(&h, &b);
    let start = h.engine.passkey_register_options(&pb, None).await.unwrap();
    let same = Present {
        credential: Some(auth.credentials[0].id.clone()),
        ..Default::default()
    };
    let credential = auth.register(&start.public_key, &same);
    let r = h
        .engine
        .passkey_register(&pb, start.ceremony_id, credential, None, &meta())
        .await;
    assert!(matches!(r, Err(Error::InvalidRequest(_))), "{r:?}");
    assert!(
        h.engine.factors(&pb).await.unwrap().is_empty(),
        "nothing written"
    );
    // A ceremony is its session's: another session of the same user cannot finish it.
    let start = h.engine.passkey_register_options(&pb, None).await.unwrap();
    let credential = auth.register(&start.public_key, &Present::default());
    let other = h
        .engine
        .login(creds("claimer@example.com"), &meta())
        .await
        .unwrap();
    let r = h
        .engine
        .passkey_register(
            &principal(&h, &other),
            start.ceremony_id,
            credential,
            None,
            &meta(),
        )
        .await;
    assert!(matches!(r, Err(Error::InvalidRequest(_))), "{r:?}");
    // A registration answer from another origin fails the library's checks.
    let start = h.engine.passkey_register_options(&pb, None).await.unwrap();
    let evil = Present {
        origin: Some("https://evil.test".into()),
        ..Default::default()
    };
    let credential = auth.register(&start.public_key, &evil);
    let r = h
        .engine
        .passkey_register(&pb, start.ceremony_id, credential, None, &meta())
        .await;
    assert!(matches!(r, Err(Error::InvalidRequest(_))), "{r:?}");
}

#[tokio::test]
async fn step_up_with_a_passkey_and_removal_ends_its_sessions() {
    let h = harness(passkey_config()).await;
    let mut auth = SoftAuthenticator::new(ORIGIN);
    with_passkey(&h, &mut auth, "stepup@example.com").await;
    let s = sign_in(&h, &mut auth, None, &Present::default())
        .await
        .unwrap();
    let p = principal(&h, &s);
    h.clock.advance_ms(60 * 60_000);
    let start = h
        .engine
        .passkey_login_options(None, None, &meta())
        .await
        .unwrap();
    let credential = auth.assert(&start.public_key, &Present::default());
    let r = h
        .engine
        .reauthenticate_with_passkey(&p, start.ceremony_id, credential, &meta())
        .await
        .unwrap();
    let fresh = h.engine.verify_access(r.access_token.expose()).unwrap();
    use tessera_core::clock::Clock;
    assert_eq!(fresh.claims.auth_time, Some(h.clock.now_ms() / 1000));
    assert_eq!(fresh.claims.acr.as_deref(), Some(acr::AAL2));
    // Removing the passkey ends the sessions it opened.
    let factor = h.engine.factors(&fresh).await.unwrap()[0].clone();
    h.engine
        .remove_factor(&fresh, factor.id, &meta())
        .await
        .unwrap();
    let gone = h.store.session(s.session_id).await.unwrap().unwrap();
    assert!(gone.revoked_at.is_some());
    assert!(
        sign_in(&h, &mut auth, None, &Present::default())
            .await
            .is_err()
    );
}

#[tokio::test]
async fn without_a_relying_party_the_routes_say_so() {
    let h = harness(config()).await;
    let t = register(&h, "none@example.com").await;
    let p = principal(&h, &t);
    assert!(matches!(
        h.engine.passkey_register_options(&p, None).await,
        Err(Error::PasskeysNotConfigured)
    ));
    assert!(matches!(
        h.engine.passkey_login_options(None, None, &meta()).await,
        Err(Error::PasskeysNotConfigured)
    ));
    let ip = PasskeyConfig {
        rp_id: "127.0.0.1".into(),
        rp_name: "x".into(),
        origins: vec!["http://127.0.0.1:8080".parse().unwrap()],
    };
    assert!(
        ip.relying_party().is_err(),
        "an IP address is never an RP ID"
    );
}
