//! Second factors on the engine (API.md §9.1, §9.2), with a controllable clock: enrolment,
//! the two-step login, one-time codes, the lock, recovery codes, and the session rules.
use std::sync::Arc;

use tessera_core::engine::Principal;
use tessera_core::mfa::acr;
use tessera_core::model::event_kind;
use tessera_core::store::{EventStore, SessionStore};
use tessera_core::totp::{STEP_SECS, TotpSecret};
use tessera_core::{Error, Issued, RequestMeta};
use uuid::Uuid;

use crate::common::*;

fn meta() -> RequestMeta {
    RequestMeta::default()
}

fn principal(h: &Harness, issued: &Issued) -> Arc<Principal> {
    h.engine
        .verify_access(issued.access_token.expose())
        .unwrap()
}

/// The code of the clock's current step for `secret`.
fn code(h: &Harness, secret: &TotpSecret) -> String {
    use tessera_core::clock::Clock;
    secret.code_at_step(h.clock.now_ms() / 1000 / STEP_SECS)
}

/// A user with a confirmed TOTP factor: its id, its secret, and the session that enrolled it.
async fn enrolled(h: &Harness, email: &str) -> (Uuid, TotpSecret, Issued, Vec<String>) {
    let first = register(h, email).await;
    let p = principal(h, &first);
    let e = h
        .engine
        .enroll_totp(&p, Some("phone".into()))
        .await
        .unwrap();
    let secret = TotpSecret::from_base32(e.secret.expose()).unwrap();
    assert!(
        e.otpauth_url
            .expose()
            .starts_with("otpauth://totp/auth.test:")
    );
    let c = h
        .engine
        .confirm_totp(&p, e.factor.id, &code(h, &secret), &meta())
        .await
        .unwrap();
    let codes = c
        .recovery_codes
        .expect("the first factor comes with recovery codes")
        .iter()
        .map(|c| c.expose().clone())
        .collect();
    (e.factor.id, secret, first, codes)
}

/// Logs in with the password: the challenge's mfa token.
async fn challenge(h: &Harness, email: &str) -> String {
    match h.engine.login(creds(email), &meta()).await {
        Err(Error::MfaRequired(c)) => {
            assert_eq!(c.factors.len(), 1);
            c.mfa_token.expose().clone()
        }
        other => panic!("expected mfa_required, got {other:?}"),
    }
}

#[tokio::test]
async fn a_pending_factor_changes_nothing_and_the_first_one_raises_this_session_and_ends_the_rest()
{
    let h = harness(config()).await;
    let first = register(&h, "enrol@example.com").await;
    let other = h
        .engine
        .login(creds("enrol@example.com"), &meta())
        .await
        .unwrap();
    let p = principal(&h, &first);
    let e = h.engine.enroll_totp(&p, None).await.unwrap();
    // Pending: the password alone still opens sessions.
    h.engine
        .login(creds("enrol@example.com"), &meta())
        .await
        .unwrap();
    let secret = TotpSecret::from_base32(e.secret.expose()).unwrap();
    // A wrong code: refused, recorded.
    let wrong = h
        .engine
        .confirm_totp(&p, e.factor.id, "000000", &meta())
        .await;
    assert!(matches!(wrong, Err(Error::InvalidMfaCode)), "{wrong:?}");
    let failed = h
        .store
        .events(None, Some(event_kind::MFA_FAILED), 10)
        .await
        .unwrap();
    assert_eq!(failed.len(), 1);
    let c = h
        .engine
        .confirm_totp(&p, e.factor.id, &code(&h, &secret), &meta())
        .await
        .unwrap();
    assert_eq!(c.recovery_codes.as_ref().map(Vec::len), Some(10));
    let mine = h.store.session(first.session_id).await.unwrap().unwrap();
    assert_eq!(mine.acr, acr::AAL2);
    assert_eq!(mine.amr, ["pwd", "otp", "mfa"]);
    let theirs = h.store.session(other.session_id).await.unwrap().unwrap();
    assert!(
        theirs.revoked_at.is_some(),
        "a password-only session survived"
    );
    assert!(matches!(
        h.engine.verify_access(other.access_token.expose()),
        Err(Error::SessionRevoked)
    ));
    // No secret or code in any event.
    for e in h.store.events(None, None, 100).await.unwrap() {
        let text = serde_json::to_string(&e).unwrap();
        assert!(!text.contains(secret.base32().as_str()), "{text}");
        for code in c.recovery_codes.as_ref().unwrap() {
            assert!(!text.contains(code.expose().as_str()));
        }
    }
}

#[tokio::test]
async fn a_login_needs_the_second_step_and_each_code_works_once() {
    let h = harness(config()).await;
    let (factor, secret, _, _) = enrolled(&h, "two-step@example.com").await;
    let token = challenge(&h, "two-step@example.com").await;
    // The code that confirmed the factor was its step: the next step's code logs in.
    h.clock.advance_ms(STEP_SECS * 1000);
    let now_code = code(&h, &secret);
    let (issued, transport) = h
        .engine
        .verify_mfa(&token, &now_code, None, &meta())
        .await
        .unwrap();
    assert_eq!(transport, "body");
    let s = h.store.session(issued.session_id).await.unwrap().unwrap();
    assert_eq!((s.acr.as_str(), s.factor_id), (acr::AAL2, Some(factor)));
    // The token is spent, and the same code in another login is refused.
    let again = h.engine.verify_mfa(&token, &now_code, None, &meta()).await;
    assert!(matches!(again, Err(Error::InvalidMfaToken)), "{again:?}");
    let token2 = challenge(&h, "two-step@example.com").await;
    let reused = h.engine.verify_mfa(&token2, &now_code, None, &meta()).await;
    assert!(matches!(reused, Err(Error::InvalidMfaCode)), "{reused:?}");
    // A token expires.
    h.clock.advance_ms(5 * 60_000);
    let late = h
        .engine
        .verify_mfa(&token2, &code(&h, &secret), None, &meta())
        .await;
    assert!(matches!(late, Err(Error::InvalidMfaToken)), "{late:?}");
    // Garbage is no token.
    let bad = h
        .engine
        .verify_mfa("mfa_nope", "123456", None, &meta())
        .await;
    assert!(matches!(bad, Err(Error::InvalidMfaToken)));
}

#[tokio::test]
async fn five_wrong_codes_end_the_token_and_count_toward_the_lock() {
    let h = harness(config()).await;
    let (_, secret, _, _) = enrolled(&h, "wrong@example.com").await;
    let token = challenge(&h, "wrong@example.com").await;
    for i in 1..5 {
        let r = h.engine.verify_mfa(&token, "000000", None, &meta()).await;
        assert!(
            matches!(r, Err(Error::InvalidMfaCode)),
            "attempt {i}: {r:?}"
        );
    }
    let fifth = h.engine.verify_mfa(&token, "000000", None, &meta()).await;
    assert!(matches!(fifth, Err(Error::InvalidMfaToken)), "{fifth:?}");
    h.clock.advance_ms(STEP_SECS * 1000);
    let right_but_spent = h
        .engine
        .verify_mfa(&token, &code(&h, &secret), None, &meta())
        .await;
    assert!(matches!(right_but_spent, Err(Error::InvalidMfaToken)));
    // Five more wrong codes (ten failures with the default limit of ten) lock the account:
    // even the right password is then refused.
    let token = challenge(&h, "wrong@example.com").await;
    for _ in 0..5 {
        let _ = h.engine.verify_mfa(&token, "000000", None, &meta()).await;
    }
    let locked = h.engine.login(creds("wrong@example.com"), &meta()).await;
    assert!(
        matches!(locked, Err(Error::RateLimited { .. })),
        "{locked:?}"
    );
}

#[tokio::test]
async fn recovery_codes_log_in_once_each() {
    let h = harness(config()).await;
    let (_, _, _, codes) = enrolled(&h, "lost-phone@example.com").await;
    let token = challenge(&h, "lost-phone@example.com").await;
    let typed = codes[3].to_lowercase().replace('-', " ");
    let (issued, _) = h
        .engine
        .verify_mfa(&token, &typed, None, &meta())
        .await
        .unwrap();
    let s = h.store.session(issued.session_id).await.unwrap().unwrap();
    assert_eq!(s.acr, acr::AAL2);
    let token = challenge(&h, "lost-phone@example.com").await;
    let twice = h.engine.verify_mfa(&token, &codes[3], None, &meta()).await;
    assert!(matches!(twice, Err(Error::InvalidMfaCode)), "{twice:?}");
    let used = h
        .store
        .events(None, Some(event_kind::MFA_RECOVERY_CODE_USED), 10)
        .await
        .unwrap();
    assert_eq!(used.len(), 1);
}

#[tokio::test]
async fn factor_changes_need_a_recent_aal2_session_and_removal_ends_its_sessions() {
    let h = harness(config()).await;
    let (factor, secret, first, old_codes) = enrolled(&h, "change@example.com").await;
    let p = principal(&h, &first);
    // Recent and aal2: a second factor can be added, and new recovery codes made.
    h.engine
        .enroll_totp(&p, Some("tablet".into()))
        .await
        .unwrap();
    let codes = h.engine.new_recovery_codes(&p, &meta()).await.unwrap();
    assert_eq!(codes.len(), 10);
    let codes: Vec<String> = codes.iter().map(|c| c.expose().clone()).collect();
    let token = challenge_any(&h, "change@example.com").await;
    let old = h
        .engine
        .verify_mfa(&token, &old_codes[0], None, &meta())
        .await;
    assert!(
        matches!(old, Err(Error::InvalidMfaCode)),
        "the old set still works"
    );
    // A session that logged in with this factor.
    h.clock.advance_ms(STEP_SECS * 1000);
    let token = challenge_any(&h, "change@example.com").await;
    let (second, _) = h
        .engine
        .verify_mfa(&token, &code(&h, &secret), Some(factor), &meta())
        .await
        .unwrap();
    // Eleven minutes on, the enrolling session is no longer recent.
    h.clock.advance_ms(11 * 60_000);
    let stale = h.engine.remove_factor(&p, factor, &meta()).await;
    assert!(
        matches!(
            stale,
            Err(Error::InsufficientUserAuthentication {
                max_age_secs: Some(600),
                ..
            })
        ),
        "{stale:?}"
    );
    let token = challenge_any(&h, "change@example.com").await;
    let (by_code, _) = h
        .engine
        .verify_mfa(&token, &codes[0], None, &meta())
        .await
        .unwrap();
    // From the fresh second session: removed, and the sessions it was the factor of end.
    let token = challenge_any(&h, "change@example.com").await;
    h.clock.advance_ms(STEP_SECS * 1000);
    let (fresh, _) = h
        .engine
        .verify_mfa(&token, &code(&h, &secret), Some(factor), &meta())
        .await
        .unwrap();
    let fp = principal(&h, &fresh);
    h.engine.remove_factor(&fp, factor, &meta()).await.unwrap();
    // The enrolling session proved it too (at confirmation).
    for s in [first.session_id, second.session_id, fresh.session_id] {
        let s = h.store.session(s).await.unwrap().unwrap();
        assert!(
            s.revoked_at.is_some(),
            "a session of the removed factor lives"
        );
    }
    assert!(
        h.store
            .session(by_code.session_id)
            .await
            .unwrap()
            .unwrap()
            .revoked_at
            .is_none(),
        "a session that proved a recovery code is not the factor's"
    );
    assert!(!format!("{:?}", h.engine.factors(&fp).await).contains("sealed: ["));
}

/// Logs in with the password, whatever the number of factors: the challenge's mfa token.
async fn challenge_any(h: &Harness, email: &str) -> String {
    match h.engine.login(creds(email), &meta()).await {
        Err(Error::MfaRequired(c)) => c.mfa_token.expose().clone(),
        other => panic!("expected mfa_required, got {other:?}"),
    }
}

#[tokio::test]
async fn tokens_carry_what_the_session_proved_and_a_refresh_keeps_it() {
    let h = harness(config()).await;
    let plain = register(&h, "plain@example.com").await;
    let c = &principal(&h, &plain).claims;
    assert_eq!(c.acr.as_deref(), Some(acr::AAL1));
    assert_eq!(c.amr.as_deref(), Some(&["pwd".to_string()][..]));

    let (_, secret, enrolling, _) = enrolled(&h, "proved@example.com").await;
    // The enrolling session's next token says aal2.
    let refreshed = h
        .engine
        .refresh(enrolling.refresh_token.expose(), &meta())
        .await
        .unwrap();
    assert_eq!(
        principal(&h, &refreshed).claims.acr.as_deref(),
        Some(acr::AAL2)
    );
    h.clock.advance_ms(STEP_SECS * 1000);
    let token = challenge(&h, "proved@example.com").await;
    let (issued, _) = h
        .engine
        .verify_mfa(&token, &code(&h, &secret), None, &meta())
        .await
        .unwrap();
    let first = principal(&h, &issued).claims.clone();
    assert_eq!(first.acr.as_deref(), Some(acr::AAL2));
    assert_eq!(
        first.amr.as_deref(),
        Some(&["pwd".to_string(), "otp".into(), "mfa".into()][..])
    );
    let again = h
        .engine
        .refresh(issued.refresh_token.expose(), &meta())
        .await
        .unwrap();
    let later = principal(&h, &again).claims.clone();
    assert_eq!((later.acr, later.amr), (first.acr, first.amr));
}

#[tokio::test]
async fn a_password_alone_never_yields_tokens_once_there_is_a_factor() {
    let h = harness(config()).await;
    let (_, secret, first, codes) = enrolled(&h, "never-alone@example.com").await;
    let p = principal(&h, &first);
    // Reauthenticate: the password without a code is refused, and recorded as a failure.
    let alone = h
        .engine
        .reauthenticate(&p, PASSWORD.into(), None, &meta())
        .await;
    assert!(matches!(alone, Err(Error::InvalidMfaCode)), "{alone:?}");
    let wrong = h
        .engine
        .reauthenticate(&p, PASSWORD.into(), Some("000000".into()), &meta())
        .await;
    assert!(matches!(wrong, Err(Error::InvalidMfaCode)), "{wrong:?}");
    h.clock.advance_ms(STEP_SECS * 1000);
    let ok = h
        .engine
        .reauthenticate(&p, PASSWORD.into(), Some(code(&h, &secret)), &meta())
        .await
        .unwrap();
    let claims = h.engine.verify_access(ok.access_token.expose()).unwrap();
    assert_eq!(claims.claims.acr.as_deref(), Some(acr::AAL2));
    // A password reset changes the password and ends the sessions; the factor stays, so the
    // new password alone still gets only mfa_required.
    let uid = p.user_id;
    let reset = h
        .engine
        .admin_email_token(uid, tessera_core::model::email_kind::RESET, &meta())
        .await
        .unwrap();
    let new_password = "a completely new passphrase here".to_string();
    h.engine
        .reset_password(reset.token.expose(), new_password.clone(), &meta())
        .await
        .unwrap();
    let c = tessera_core::engine::accounts::Credentials {
        password: new_password,
        ..creds("never-alone@example.com")
    };
    let after = h.engine.login(c, &meta()).await;
    assert!(matches!(after, Err(Error::MfaRequired(_))), "{after:?}");
    // And the reset ended every session, the enrolling one included.
    assert!(h.engine.verify_access(first.access_token.expose()).is_err());
    assert_eq!(codes.len(), 10);
}
