//! Password policy, and Argon2id hashing on a small pool of low-priority threads.
mod argon2id;
mod hasher;
mod pool;

pub use hasher::Hasher;

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
}
