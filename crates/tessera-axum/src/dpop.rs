//! DPoP proofs for bound tokens (API.md §10), checked with the same code as Tessera's own
//! (`tessera_token::dpop`): `htu` against the app's public URL, `ath` against the token, the
//! key against the token's `cnf.jkt`, and each `jti` once within its window (a bounded cache in
//! this process: several replicas of one API each keep their own).
use std::collections::HashMap;
use std::sync::Mutex;

use tessera_token::dpop::{PROOF_LEEWAY_SECS, ProofAlgorithm, ProofCheck, verify_proof};

/// A proof's `iat` may be this old (Tessera's default `dpop.proof_max_age`).
pub(crate) const PROOF_MAX_AGE_SECS: i64 = 60;
/// Proofs remembered at most; past it, expired ones are dropped, and if none are, new proofs
/// are refused (fail closed) until some expire.
const REPLAY_CAPACITY: usize = 200_000;
const ALGORITHMS: [ProofAlgorithm; 3] = [
    ProofAlgorithm::ES256,
    ProofAlgorithm::EdDSA,
    ProofAlgorithm::Ed25519,
];

/// The `jti`s seen, with when each may be forgotten (unix seconds).
#[derive(Default)]
pub(crate) struct ReplayCache {
    seen: Mutex<HashMap<String, i64>>,
}

impl ReplayCache {
    /// `false` if `key` was seen and has not expired, or the cache is full.
    fn claim(&self, key: String, now: i64) -> bool {
        let mut seen = self.seen.lock().expect("replay cache lock");
        if seen.len() >= REPLAY_CAPACITY {
            seen.retain(|_, until| *until > now);
            if seen.len() >= REPLAY_CAPACITY {
                return false;
            }
        }
        let until = now + PROOF_MAX_AGE_SECS + 2 * PROOF_LEEWAY_SECS;
        match seen.get(&key) {
            Some(t) if *t > now => false,
            _ => {
                seen.insert(key, until);
                true
            }
        }
    }
}

/// Checks the proof of a request presenting `token` bound to `jkt`; the refusal's reason.
pub(crate) fn check(
    cache: &ReplayCache,
    proof: Option<&str>,
    method: &str,
    url: &str,
    token: &str,
    jkt: &str,
    now: i64,
) -> Result<(), &'static str> {
    let proof = proof.ok_or("a DPoP-bound token needs a DPoP proof")?;
    let check = ProofCheck {
        method,
        url,
        access_token: Some(token),
        algorithms: &ALGORITHMS,
        now,
        max_age_secs: PROOF_MAX_AGE_SECS,
    };
    let p = verify_proof(proof, &check).map_err(|_| "the DPoP proof does not check out")?;
    if !bool::from(subtle::ConstantTimeEq::ct_eq(
        p.jkt.as_bytes(),
        jkt.as_bytes(),
    )) {
        return Err("the proof's key is not the token's");
    }
    if !cache.claim(format!("{}.{}", p.jkt, p.jti), now) {
        return Err("the DPoP proof was used before");
    }
    Ok(())
}
