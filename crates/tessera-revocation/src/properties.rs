//! Properties of the set: applying is idempotent and order-free, and pruning at an instant
//! never changes the verdict on a token that can still be unexpired then.
use proptest::prelude::*;

use crate::{Revocations, Rule, Target};

fn target() -> impl Strategy<Value = Target<u8>> {
    prop_oneof![
        (0u8..4).prop_map(|s| Target::Session { session_id: s }),
        (0u8..4).prop_map(|u| Target::User { user_id: u }),
        (0u8..4, 0u8..3).prop_map(|(u, n)| Target::UserNamespace {
            user_id: u,
            namespace: n.to_string()
        }),
        (0u8..3).prop_map(|n| Target::Namespace {
            namespace: n.to_string()
        }),
        Just(Target::All),
    ]
}

fn rule() -> impl Strategy<Value = Rule<u8>> {
    (target(), 0i64..1000).prop_map(|(target, at)| Rule {
        target,
        issued_up_to_ms: at,
        // As Tessera writes them: the access-token lifetime (here 100 ms) after the instant.
        until_ms: at + 100,
    })
}

fn verdicts(set: &Revocations<u8>) -> Vec<bool> {
    let mut out = Vec::new();
    for sid in 0..4u8 {
        for sub in 0..4u8 {
            for ns in ["0", "1", "2"] {
                for issued in (0..1200).step_by(37) {
                    out.push(set.refuses(&sid, &sub, ns, issued));
                }
            }
        }
    }
    out
}

proptest! {
    #[test]
    fn applying_is_idempotent_and_order_free(rules in prop::collection::vec(rule(), 0..12)) {
        let mut once = Revocations::default();
        for r in &rules {
            once.apply(r);
        }
        let mut twice_reversed = Revocations::default();
        for r in rules.iter().rev().chain(rules.iter()) {
            twice_reversed.apply(r);
        }
        prop_assert_eq!(verdicts(&once), verdicts(&twice_reversed));
    }

    #[test]
    fn pruning_never_frees_a_token_that_can_still_be_unexpired(
        rules in prop::collection::vec(rule(), 0..12),
        now in 0i64..1200,
    ) {
        let mut kept = Revocations::default();
        for r in &rules {
            kept.apply(r);
        }
        let mut pruned = kept.clone();
        pruned.prune(now);
        // A token issued at `issued` lives 100 ms: unexpired at `now` only if issued >= now - 100.
        // Sessions 4..8 are never revoked here: Tessera issues no token for a session after
        // revoking it, so a revoked session's tokens are all older than its entry, and only the
        // cutoffs decide for tokens issued later.
        for sid in 4..8u8 {
            for sub in 0..4u8 {
                for ns in ["0", "1", "2"] {
                    for issued in (now - 100).max(0)..now.max(1) {
                        prop_assert_eq!(
                            kept.refuses(&sid, &sub, ns, issued),
                            pruned.refuses(&sid, &sub, ns, issued)
                        );
                    }
                }
            }
        }
    }
}
