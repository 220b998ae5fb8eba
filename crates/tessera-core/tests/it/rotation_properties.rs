//! Property test of the rotation state machine: any interleaving of refreshes (of any token ever
//! issued), forgeries, revocations and clock steps never leaves two live successors, never lets a
//! forgery revoke, and never revives a revoked session.

use crate::common::*;
use proptest::prelude::*;
use tessera_core::store::SessionStore;
use tessera_core::{Error, RequestMeta};

#[derive(Clone, Debug)]
enum Op {
    /// Refresh with the token at this index (modulo the tokens seen so far).
    Refresh(usize),
    /// Refresh with that token, one character altered.
    Forge(usize),
    Revoke,
    Advance(i64),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => any::<usize>().prop_map(Op::Refresh),
        2 => any::<usize>().prop_map(Op::Forge),
        1 => Just(Op::Revoke),
        3 => (0i64..45_000).prop_map(Op::Advance),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, .. ProptestConfig::default() })]
    #[test]
    fn rotation_invariants_hold(ops in proptest::collection::vec(op(), 1..30)) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(run(ops));
    }
}

async fn run(ops: Vec<Op>) {
    let h = harness(config()).await;
    let first = register(&h, "p@example.com").await;
    let sid = first.session_id;
    let meta = RequestMeta::default();
    let mut tokens = vec![first.refresh_token.expose().clone()];
    let mut accesses = vec![first.access_token.expose().clone()];
    let mut revoked = false;
    for op in ops {
        let before = h.store.session(sid).await.unwrap().unwrap();
        match op {
            Op::Refresh(i) => {
                let t = tokens[i % tokens.len()].clone();
                match h.engine.refresh(&t, &meta).await {
                    Ok(issued) => {
                        assert!(!revoked, "a revoked session never refreshes again");
                        let after = h.store.session(sid).await.unwrap().unwrap();
                        // Whatever succeeded hands out the one current token.
                        assert!(
                            after.generation == before.generation
                                || after.generation == before.generation + 1
                        );
                        // The handed-out token is the one live successor: using it rotates, and is
                        // never taken for reuse.
                        match h.engine.refresh(issued.refresh_token.expose(), &meta).await {
                            Ok(next) => {
                                tokens.push(next.refresh_token.expose().clone());
                                accesses.push(next.access_token.expose().clone());
                            }
                            Err(e) => assert!(matches!(e, Error::SessionExpired), "{e:?}"),
                        }
                        tokens.push(issued.refresh_token.expose().clone());
                        accesses.push(issued.access_token.expose().clone());
                    }
                    Err(Error::RefreshTokenReused) => revoked = true,
                    Err(Error::SessionRevoked) => assert!(revoked),
                    Err(Error::SessionExpired) => {}
                    Err(e) => panic!("unexpected {e:?}"),
                }
            }
            Op::Forge(i) => {
                let mut b = tokens[i % tokens.len()].clone().into_bytes();
                let at = 3 + i % (b.len() - 3);
                b[at] = if b[at] == b'A' { b'B' } else { b'A' };
                let err = h
                    .engine
                    .refresh(&String::from_utf8(b).unwrap(), &meta)
                    .await
                    .unwrap_err();
                assert!(matches!(err, Error::InvalidRefreshToken), "{err:?}");
                let after = h.store.session(sid).await.unwrap().unwrap();
                assert_eq!(after, before, "a forgery changes nothing");
            }
            Op::Revoke => {
                let p = h.engine.verify_for_logout(&accesses[0]).unwrap();
                h.engine.logout(&p, &meta).await.unwrap();
                revoked = true;
            }
            Op::Advance(ms) => h.clock.advance_ms(ms),
        }
        let now = h.store.session(sid).await.unwrap().unwrap();
        assert_eq!(
            now.revoked_at.is_some(),
            revoked,
            "store and model agree on revocation"
        );
        if revoked {
            for a in &accesses {
                assert!(
                    h.engine.verify_access(a).is_err(),
                    "no access token of a revoked session verifies"
                );
            }
        }
    }
}
