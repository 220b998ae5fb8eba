//! Reading someone's JWKS (what tessera-axum does with Tessera's): never a panic, any bytes.
#![no_main]
use libfuzzer_sys::fuzz_target;
use tessera_token::{Algorithm, Jwks};

fuzz_target!(|data: &[u8]| {
    for alg in [
        Algorithm::EdDSA,
        Algorithm::ES256,
        Algorithm::RS256,
        Algorithm::HS256,
    ] {
        if let Ok(keys) = Jwks::parse_verifying_keys(data, alg) {
            assert!(
                keys.iter()
                    .all(|k| k.algorithm() == alg && alg != Algorithm::HS256)
            );
        }
    }
    let _ = Jwks::algorithms(data);
});
