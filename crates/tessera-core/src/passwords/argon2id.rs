//! Argon2 hashing into working memory that a hashing thread keeps between hashes.
//!
//! The argon2 crate's `PasswordHasher` allocates and zero-fills `m_cost` KiB (19 MiB by default)
//! for every hash. In the server that made a login cost about 1.5× the CPU (21.5 ms against
//! 14.3 ms on the bench machine: page faults and zeroing), and glibc kept some 200 MB of freed
//! blocks resident after a login storm (docs/performance.md). Here the crate's own `hash_password_into_with_memory` does the work in a buffer owned
//! by the thread; PHC encoding and the constant-time comparison stay the crate's.
use std::cell::RefCell;

use argon2::password_hash::{
    self, Decimal, Ident, Output, ParamsString, PasswordHash, PasswordHasher, Salt,
};
use argon2::{Algorithm, Argon2, Block, Params, Version};

/// One hashing thread's Argon2 working memory, allocated at its first hash and kept.
#[derive(Default)]
pub(super) struct Scratch {
    blocks: Vec<Block>,
}

impl Scratch {
    /// Runs `f` on at least `count` blocks. Hashes stored with a larger `m_cost` than the
    /// configured one (made before a policy change) get a buffer of their own, so one old hash
    /// does not leave its size resident in every thread.
    fn with_blocks<T>(
        &mut self,
        count: usize,
        keep: usize,
        f: impl FnOnce(&mut [Block]) -> T,
    ) -> T {
        if count > keep {
            return f(&mut vec![Block::default(); count]);
        }
        if self.blocks.len() < count {
            self.blocks = vec![Block::default(); keep];
        }
        f(&mut self.blocks[..count])
    }
}

/// Argon2 (Argon2id v19 for new hashes) computing in a thread's [`Scratch`]. Verification is the
/// `password_hash` crate's blanket `PasswordVerifier`, which re-hashes through
/// `hash_password_customized` below and compares outputs in constant time.
pub(super) struct ReusingArgon2<'s> {
    params: Params,
    scratch: RefCell<&'s mut Scratch>,
}

impl<'s> ReusingArgon2<'s> {
    /// `params` are the configured ones: new hashes use them, and they size the kept buffer.
    pub(super) fn new(params: Params, scratch: &'s mut Scratch) -> Self {
        ReusingArgon2 {
            params,
            scratch: RefCell::new(scratch),
        }
    }
}

impl PasswordHasher for ReusingArgon2<'_> {
    type Params = Params;

    fn hash_password<'a>(
        &self,
        password: &[u8],
        salt: impl Into<Salt<'a>>,
    ) -> password_hash::Result<PasswordHash<'a>> {
        self.hash_password_customized(password, None, None, self.params.clone(), salt)
    }

    fn hash_password_customized<'a>(
        &self,
        password: &[u8],
        algorithm: Option<Ident<'a>>,
        version: Option<Decimal>,
        params: Params,
        salt: impl Into<Salt<'a>>,
    ) -> password_hash::Result<PasswordHash<'a>> {
        let algorithm = algorithm
            .map(Algorithm::try_from)
            .transpose()?
            .unwrap_or(Algorithm::Argon2id);
        let version = version
            .map(Version::try_from)
            .transpose()?
            .unwrap_or(Version::V0x13);
        let salt = salt.into();
        let mut salt_bytes = [0u8; Salt::MAX_LENGTH];
        let salt_bytes = salt.decode_b64(&mut salt_bytes)?;
        let argon2 = Argon2::new(algorithm, version, params.clone());
        let output_len = params.output_len().unwrap_or(Params::DEFAULT_OUTPUT_LEN);
        let keep = self.params.block_count();
        let mut scratch = self.scratch.borrow_mut();
        let output = Output::init_with(output_len, |out| {
            scratch.with_blocks(params.block_count(), keep, |blocks| {
                argon2.hash_password_into_with_memory(password, salt_bytes, out, blocks)
            })?;
            Ok(())
        })?;
        Ok(PasswordHash {
            algorithm: algorithm.ident(),
            version: Some(version.into()),
            params: ParamsString::try_from(&params)?,
            salt: Some(salt),
            hash: Some(output),
        })
    }
}

#[cfg(test)]
mod tests {
    use argon2::password_hash::{PasswordVerifier, SaltString};

    use super::*;

    fn small(m_cost: u32, t_cost: u32) -> Params {
        Params::new(m_cost, t_cost, 1, None).unwrap()
    }

    /// The crate's allocating hasher and ours must agree both ways, over a reused buffer and
    /// across parameter sets, or stored hashes would stop verifying.
    #[test]
    fn agrees_with_the_argon2_crate_both_ways() {
        let mut scratch = Scratch::default();
        let salt = SaltString::encode_b64(b"sixteen byte salt").unwrap();
        for (m, t) in [(256, 1), (512, 2), (256, 3)] {
            let params = small(m, t);
            let reference = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
            let ours = ReusingArgon2::new(params, &mut scratch);
            let a = ours.hash_password(b"pw", &salt).unwrap().to_string();
            let b = reference.hash_password(b"pw", &salt).unwrap().to_string();
            assert_eq!(a, b);
            let parsed = PasswordHash::new(&b).unwrap();
            assert!(ours.verify_password(b"pw", &parsed).is_ok());
            assert!(ours.verify_password(b"pW", &parsed).is_err());
        }
    }

    #[test]
    fn verifies_other_variants_and_larger_costs_than_configured() {
        let mut scratch = Scratch::default();
        let salt = SaltString::encode_b64(b"sixteen byte salt").unwrap();
        ReusingArgon2::new(small(256, 1), &mut scratch)
            .hash_password(b"pw", &salt)
            .unwrap();
        assert_eq!(scratch.blocks.len(), 256);
        let bigger = small(1024, 1);
        for algorithm in [Algorithm::Argon2i, Algorithm::Argon2d, Algorithm::Argon2id] {
            let stored = Argon2::new(algorithm, Version::V0x10, bigger.clone())
                .hash_password(b"pw", &salt)
                .unwrap()
                .to_string();
            let ours = ReusingArgon2::new(small(256, 1), &mut scratch);
            let parsed = PasswordHash::new(&stored).unwrap();
            assert!(ours.verify_password(b"pw", &parsed).is_ok(), "{stored}");
            assert!(ours.verify_password(b"px", &parsed).is_err(), "{stored}");
        }
        assert_eq!(
            scratch.blocks.len(),
            256,
            "the kept buffer stays the configured size"
        );
    }

    #[test]
    fn a_hash_with_its_output_altered_does_not_verify() {
        let mut scratch = Scratch::default();
        let ours = ReusingArgon2::new(small(256, 1), &mut scratch);
        let salt = SaltString::encode_b64(b"sixteen byte salt").unwrap();
        let good = ours.hash_password(b"pw", &salt).unwrap().to_string();
        let (head, tail) = good.rsplit_once('$').unwrap();
        let flipped = if tail.starts_with('A') { "B" } else { "A" };
        let altered = format!("{head}${flipped}{}", &tail[1..]);
        let parsed = PasswordHash::new(&altered).unwrap();
        assert!(ours.verify_password(b"pw", &parsed).is_err());
    }
}
