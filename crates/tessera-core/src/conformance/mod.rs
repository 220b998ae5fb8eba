//! The store conformance suite: every backend runs these same cases.
//!
//! A store crate invokes [`store_conformance!`](crate::store_conformance) with an async
//! expression that yields a fresh, empty store; one `#[tokio::test]` is generated per case, so
//! cases run in parallel and fail by name.

use uuid::Uuid;

use crate::model::*;
use crate::store::Store;

mod app_sessions;
mod events;
mod factors;
mod keys;
mod mail;
mod passkeys;
mod races;
mod sessions;
mod users;

pub use app_sessions::*;
pub use events::*;
pub use factors::*;
pub use keys::*;
pub use mail::*;
pub use passkeys::*;
pub use races::*;
pub use sessions::*;
pub use users::*;

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
            cutoffs_cover_every_token_stamp_of_the_sessions_they_revoke,
            revocation_wins_races_with_refresh_on_every_node,
            app_claims_and_auth_time_round_trip,
            reauthentication_moves_auth_time_only_while_live,
            the_session_limit_evicts_the_least_recently_active,
            concurrent_openings_never_exceed_the_limit,
            merged_claims_stay_within_the_limit_even_when_raced,
            email_tokens_are_single_use_of_their_kind_and_expire,
            a_new_user_and_its_verification_mail_are_written_together,
            a_reset_uses_every_reset_token_and_queues_its_notice,
            a_password_change_or_a_ban_ends_the_reset_tokens,
            mail_is_throttled_per_user_and_kind,
            claimed_mail_is_leased_then_sent_retried_or_given_up,
            concurrent_claims_never_share_a_mail,
            devices_are_known_for_the_window_revoked_or_not,
            pending_factors_expire_and_confirming_one_writes_its_recovery_codes,
            each_totp_step_is_accepted_once_even_when_raced,
            recovery_codes_work_once_and_leave_with_the_last_factor,
            mfa_tokens_count_failures_end_at_the_limit_and_are_taken_once,
            a_session_proof_is_raised_and_a_factors_sessions_end_with_it,
            a_credential_id_belongs_to_one_user_and_leaves_with_its_factor,
            a_passkey_counter_only_moves_forward_even_when_raced,
            a_ceremony_is_taken_once_and_expires,
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

pub(crate) const T0: i64 = 1_800_000_000_000;

pub(crate) fn user(email: &str) -> User {
    User {
        id: new_id(),
        email: email.into(),
        password_hash: "$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$aGFzaA".into(),
        roles: vec![],
        banned: false,
        created_at: T0,
        password_changed_at: T0,
        claims: Default::default(),
        email_verified: false,
        mfa: Vec::new(),
    }
}

pub(crate) fn session(user_id: Uuid, last_active: i64) -> Session {
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
        claims: Default::default(),
        auth_time: T0,
        acr: crate::mfa::acr::AAL1.into(),
        amr: vec![crate::mfa::amr::PWD.into()],
        factor_id: None,
        dpop_jkt: None,
    }
}

pub(crate) fn ev(kind: &str, at: i64) -> Event {
    Event::new(kind, at)
}

pub(crate) async fn with_user(store: &dyn Store, email: &str) -> User {
    let u = user(email);
    store
        .create_user(&u, &ev(event_kind::USER_REGISTERED, T0), None)
        .await
        .unwrap();
    u
}

pub(crate) async fn with_session(store: &dyn Store, user_id: Uuid, last_active: i64) -> Session {
    let s = session(user_id, last_active);
    store
        .create_session(&s, &ev(event_kind::LOGIN_SUCCEEDED, T0), None, None)
        .await
        .unwrap();
    s
}

pub(crate) fn rotation(generation: i64, at: i64) -> Rotation {
    Rotation {
        generation,
        secret_hash: vec![generation as u8; 32],
        prev_secret_hash: vec![(generation - 1) as u8; 32],
        rotated_at: at,
        expires_at: at + 3_600_000,
        refresh_count: generation - 1,
    }
}
