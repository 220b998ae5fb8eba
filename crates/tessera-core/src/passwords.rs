//! Password policy and Argon2id hashing on a bounded blocking pool.
use std::sync::Arc;

use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use tokio::sync::Semaphore;

use crate::error::Error;

/// The configured password rules and Argon2id cost.
#[derive(Clone, Debug)]
pub struct PasswordPolicy {
    /// In Unicode scalar values (NIST counts characters, not bytes).
    pub min_length: usize,
    pub max_length: usize,
    pub argon2_memory_kib: u32,
    pub argon2_iterations: u32,
    pub argon2_parallelism: u32,
}

impl Default for PasswordPolicy {
    fn default() -> Self {
        PasswordPolicy {
            min_length: 15,
            max_length: 256,
            argon2_memory_kib: 19_456,
            argon2_iterations: 2,
            argon2_parallelism: 1,
        }
    }
}

/// zxcvbn scores 0 (too guessable) to 4; below this a password is refused as common or weak.
/// 3 means "safely unguessable: moderate protection from offline slow-hash scenario".
const MIN_ZXCVBN_SCORE: zxcvbn::Score = zxcvbn::Score::Three;

/// Hashes and verifies passwords off the async workers, at most `permits` at once, so a login
/// storm queues instead of starving every other request.
#[derive(Clone)]
pub struct Hasher {
    params: Params,
    permits: Arc<Semaphore>,
    /// A real hash of a random password, verified for unknown emails so that their timing matches.
    dummy_hash: Arc<String>,
}

impl Hasher {
    pub fn new(policy: &PasswordPolicy, permits: usize) -> Result<Self, String> {
        let params = Params::new(
            policy.argon2_memory_kib,
            policy.argon2_iterations,
            policy.argon2_parallelism,
            None,
        )
        .map_err(|e| format!("invalid Argon2 parameters: {e}"))?;
        let dummy_hash = hash_blocking(&params, &uuid::Uuid::new_v4().to_string())
            .map_err(|e| format!("cannot hash: {e}"))?;
        Ok(Hasher {
            params,
            permits: Arc::new(Semaphore::new(permits.max(1))),
            dummy_hash: Arc::new(dummy_hash),
        })
    }

    /// Hashes a password that already passed the policy.
    pub async fn hash(&self, password: String) -> Result<String, Error> {
        let params = self.params.clone();
        self.run(move || hash_blocking(&params, &password).map_err(|_| Error::Internal))
            .await?
    }

    /// Verifies `password` against `hash`; with `None` (unknown email) it verifies against the
    /// dummy hash and returns false, taking the same time.
    pub async fn verify(&self, hash: Option<String>, password: String) -> Result<bool, Error> {
        let known = hash.is_some();
        let hash = hash.unwrap_or_else(|| self.dummy_hash.as_ref().clone());
        let ok = self
            .run(move || {
                PasswordHash::new(&hash).is_ok_and(|parsed| {
                    Argon2::default()
                        .verify_password(password.as_bytes(), &parsed)
                        .is_ok()
                })
            })
            .await?;
        Ok(ok && known)
    }

    /// Whether a stored hash was made with other parameters and should be redone at next login.
    pub fn needs_rehash(&self, hash: &str) -> bool {
        let Ok(parsed) = PasswordHash::new(hash) else {
            return true;
        };
        parsed.algorithm != argon2::ARGON2ID_IDENT
            || Params::try_from(&parsed).map_or(true, |p| {
                p.m_cost() != self.params.m_cost()
                    || p.t_cost() != self.params.t_cost()
                    || p.p_cost() != self.params.p_cost()
            })
    }

    /// Runs CPU-heavy work on the blocking pool behind the semaphore.
    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, Error> {
        let _permit = self.permits.acquire().await.map_err(|_| Error::Internal)?;
        tokio::task::spawn_blocking(work)
            .await
            .map_err(|_| Error::Internal)
    }
}

fn hash_blocking(params: &Params, password: &str) -> Result<String, argon2::password_hash::Error> {
    let salt = SaltString::generate(&mut rand::rngs::OsRng);
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone())
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
}

impl PasswordPolicy {
    /// Length rules only: cheap, and checked before anything else touches the password.
    pub fn check_length(&self, password: &str) -> Result<(), Error> {
        let chars = password.chars().count();
        if chars > self.max_length {
            return Err(Error::WeakPassword(format!(
                "password is longer than {} characters",
                self.max_length
            )));
        }
        if chars < self.min_length {
            return Err(Error::WeakPassword(format!(
                "password must be at least {} characters",
                self.min_length
            )));
        }
        Ok(())
    }

    /// Length, then guessability: zxcvbn's frequency lists of common passwords, words, names and
    /// keyboard patterns, with the email's parts as user-specific words.
    pub fn check_new(&self, password: &str, email: &str) -> Result<(), Error> {
        self.check_length(password)?;
        let inputs: Vec<&str> = email
            .split(['@', '.', '_', '-', '+'])
            .filter(|s| s.len() >= 3)
            .collect();
        let estimate = zxcvbn::zxcvbn(password, &inputs);
        if estimate.score() < MIN_ZXCVBN_SCORE {
            return Err(Error::WeakPassword(
                "password is too common or too easy to guess".into(),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fast() -> PasswordPolicy {
        PasswordPolicy {
            argon2_memory_kib: 1024,
            argon2_iterations: 1,
            ..PasswordPolicy::default()
        }
    }

    #[test]
    fn common_and_patterned_passwords_are_refused() {
        let p = PasswordPolicy::default();
        for weak in [
            "passwordpassword",
            "123456789012345",
            "qwertyuiopasdfgh",
            "aaaaaaaaaaaaaaaa",
            "iloveyouiloveyou",
        ] {
            assert!(
                matches!(
                    p.check_new(weak, "alice.smith@example.com"),
                    Err(Error::WeakPassword(_))
                ),
                "{weak}"
            );
        }
        assert!(p.check_new("correct horse battery staple", "a@b.c").is_ok());
        assert!(p.check_new("short", "a@b.c").is_err());
        assert!(
            p.check_new(&"x7#Q".repeat(65), "a@b.c").is_err(),
            "over max_length"
        );
    }

    #[tokio::test]
    async fn hashes_verify_exactly_and_unknown_users_never_verify() {
        let h = Hasher::new(&fast(), 2).unwrap();
        let pw = "exact\0password with nul".to_string();
        let hash = h.hash(pw.clone()).await.unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(h.verify(Some(hash.clone()), pw.clone()).await.unwrap());
        assert!(
            !h.verify(Some(hash.clone()), "exact".into()).await.unwrap(),
            "NUL is significant"
        );
        assert!(
            !h.verify(Some(hash.clone()), format!("{pw} "))
                .await
                .unwrap()
        );
        assert!(!h.verify(None, pw).await.unwrap());
        assert!(!h.needs_rehash(&hash));
        let stronger = Hasher::new(
            &PasswordPolicy {
                argon2_iterations: 2,
                ..fast()
            },
            1,
        )
        .unwrap();
        assert!(stronger.needs_rehash(&hash));
    }
}
