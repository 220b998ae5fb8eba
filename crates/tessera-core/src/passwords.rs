//! Password policy and Argon2id hashing on a small pool of low-priority threads.
use std::sync::mpsc;
use std::sync::{Arc, Mutex};

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

/// Hashes and verifies passwords off the async workers, at most `permits` at once, on threads
/// the OS schedules after everything else: a login storm uses the idle CPU and queues, instead of
/// taking cores from token verification (whose p99 would otherwise double).
#[derive(Clone)]
pub struct Hasher {
    params: Params,
    permits: Arc<Semaphore>,
    pool: Arc<HashPool>,
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
            pool: Arc::new(HashPool::start(permits.max(1))?),
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

    /// Runs CPU-heavy work on the hashing threads. The permit is taken first, so a request that
    /// is given up while it waits costs no hash.
    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, Error> {
        let _permit = self.permits.acquire().await.map_err(|_| Error::Internal)?;
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.pool.submit(Box::new(move || {
            let _ = tx.send(work());
        }))?;
        rx.await.map_err(|_| Error::Internal)
    }
}

type Job = Box<dyn FnOnce() + Send>;

/// `n` threads at a lower scheduling priority (nice +10) taking jobs from one queue. They end
/// when the last `Hasher` clone is dropped.
struct HashPool {
    queue: Mutex<mpsc::Sender<Job>>,
}

/// How much lower than the server's other threads the hashing threads run.
const HASH_NICENESS: libc::c_int = 10;

impl HashPool {
    fn start(n: usize) -> Result<Self, String> {
        let (tx, rx) = mpsc::channel::<Job>();
        let rx = Arc::new(Mutex::new(rx));
        for i in 0..n {
            let rx = rx.clone();
            std::thread::Builder::new()
                .name(format!("tessera-hash-{i}"))
                .spawn(move || {
                    lower_priority();
                    loop {
                        let job = match rx.lock() {
                            Ok(queue) => queue.recv(),
                            Err(_) => return,
                        };
                        match job {
                            Ok(job) => job(),
                            Err(_) => return,
                        }
                    }
                })
                .map_err(|e| format!("cannot start the hashing threads: {e}"))?;
        }
        Ok(HashPool {
            queue: Mutex::new(tx),
        })
    }

    fn submit(&self, job: Job) -> Result<(), Error> {
        self.queue
            .lock()
            .map_err(|_| Error::Internal)?
            .send(job)
            .map_err(|_| Error::Internal)
    }
}

/// Raises this thread's niceness. On Linux the nice value is per thread, and `who = 0` names the
/// calling thread. Failing to lower priority only costs latency elsewhere, so it is logged, not
/// fatal.
fn lower_priority() {
    // SAFETY: setpriority takes plain integers and touches no memory of ours.
    let rc = unsafe { libc::setpriority(libc::PRIO_PROCESS, 0, HASH_NICENESS) };
    if rc != 0 {
        tracing::debug!("could not lower the hashing threads' priority");
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
    async fn hashing_runs_on_lower_priority_threads() {
        let h = Hasher::new(&fast(), 2).unwrap();
        // Field 19 of /proc/thread-self/stat is the thread's nice value.
        let nice = h
            .run(|| {
                let stat = std::fs::read_to_string("/proc/thread-self/stat").unwrap();
                let after_name = &stat[stat.rfind(')').unwrap() + 2..];
                after_name
                    .split(' ')
                    .nth(16)
                    .unwrap()
                    .parse::<i32>()
                    .unwrap()
            })
            .await
            .unwrap();
        assert!(nice >= HASH_NICENESS, "hashing thread nice = {nice}");
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
