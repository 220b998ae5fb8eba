//! Hashing and verifying passwords, off the async workers.
use std::sync::Arc;

use argon2::Params;
use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier as _, SaltString};
use tokio::sync::Semaphore;

use super::PasswordPolicy;
use super::argon2id::{ReusingArgon2, Scratch};
use super::pool::HashPool;
use crate::error::Error;

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
    /// Argon2 work done by verifications (memory KiB × iterations, summed), so tests can check
    /// what a failed login costs without timing it.
    work: Arc<std::sync::atomic::AtomicU64>,
}

impl Hasher {
    /// Starts `permits` hashing threads. Each keeps `argon2_memory_kib` of working memory once it
    /// has hashed, so that much per thread stays resident.
    pub fn new(policy: &PasswordPolicy, permits: usize) -> Result<Self, String> {
        let params = Params::new(
            policy.argon2_memory_kib,
            policy.argon2_iterations,
            policy.argon2_parallelism,
            None,
        )
        .map_err(|e| format!("invalid Argon2 parameters: {e}"))?;
        let dummy_hash = hash_with(
            &params,
            &mut Scratch::default(),
            &uuid::Uuid::new_v4().to_string(),
        )
        .map_err(|e| format!("cannot hash: {e}"))?;
        Ok(Hasher {
            params,
            permits: Arc::new(Semaphore::new(permits.max(1))),
            pool: Arc::new(HashPool::start(permits.max(1))?),
            dummy_hash: Arc::new(dummy_hash),
            work: Default::default(),
        })
    }

    /// Hashes a password that already passed the policy.
    pub async fn hash(&self, password: String) -> Result<String, Error> {
        let params = self.params.clone();
        self.run(move |scratch| hash_with(&params, scratch, &password).map_err(|_| Error::Internal))
            .await?
    }

    /// Verifies `password` against `hash`; with `None` (unknown email) it verifies against the
    /// dummy hash and returns false, taking the same time. A failed check against a hash made
    /// with other (older, cheaper) parameters also runs the dummy verification, so a failed
    /// login costs at least what one with today's parameters costs: timing does not single out
    /// the accounts whose hash is due for an upgrade.
    pub async fn verify(&self, hash: Option<String>, password: String) -> Result<bool, Error> {
        let known = hash.is_some();
        let outdated = hash.as_deref().is_some_and(|h| self.needs_rehash(h));
        let hash = hash.unwrap_or_else(|| self.dummy_hash.as_ref().clone());
        let dummy = self.dummy_hash.clone();
        let params = self.params.clone();
        let work = self.work.clone();
        let ok = self
            .run(move |scratch| {
                let check = |scratch: &mut Scratch, hash: &str| {
                    PasswordHash::new(hash).is_ok_and(|parsed| {
                        if let Ok(p) = Params::try_from(&parsed) {
                            let units = u64::from(p.m_cost()) * u64::from(p.t_cost());
                            work.fetch_add(units, std::sync::atomic::Ordering::Relaxed);
                        }
                        ReusingArgon2::new(params.clone(), scratch)
                            .verify_password(password.as_bytes(), &parsed)
                            .is_ok()
                    })
                };
                let ok = check(scratch, &hash);
                if !ok && outdated {
                    let _ = check(scratch, &dummy);
                }
                ok
            })
            .await?;
        Ok(ok && known)
    }

    /// Argon2 work done by verifications so far (memory KiB × iterations, summed).
    #[cfg(test)]
    fn work_done(&self) -> u64 {
        self.work.load(std::sync::atomic::Ordering::Relaxed)
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
    pub(super) async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Scratch) -> T + Send + 'static,
    ) -> Result<T, Error> {
        let _permit = self.permits.acquire().await.map_err(|_| Error::Internal)?;
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.pool.submit(Box::new(move |scratch| {
            let _ = tx.send(work(scratch));
        }))?;
        rx.await.map_err(|_| Error::Internal)
    }
}

fn hash_with(
    params: &Params,
    scratch: &mut Scratch,
    password: &str,
) -> Result<String, argon2::password_hash::Error> {
    let salt = SaltString::generate(&mut rand::rngs::OsRng);
    ReusingArgon2::new(params.clone(), scratch)
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
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

    #[tokio::test]
    async fn hashing_runs_on_lower_priority_threads() {
        let h = Hasher::new(&fast(), 2).unwrap();
        // Field 19 of /proc/thread-self/stat is the thread's nice value.
        let nice = h
            .run(|_| {
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
        assert!(
            nice >= super::super::pool::HASH_NICENESS,
            "hashing thread nice = {nice}"
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

    /// A failed check against an old, cheaper hash costs at least a check with today's
    /// parameters, like a check for an unknown email (counted in Argon2 work, not timed).
    #[tokio::test]
    async fn a_failed_check_costs_the_same_whatever_the_stored_parameters() {
        let old = Hasher::new(&fast(), 1).unwrap();
        let old_hash = old.hash("the right password!".into()).await.unwrap();
        let today = Hasher::new(
            &PasswordPolicy {
                argon2_memory_kib: 4096,
                argon2_iterations: 2,
                ..fast()
            },
            1,
        )
        .unwrap();
        let cost = |f: u64, t: u64| t - f;
        let before = today.work_done();
        assert!(!today.verify(None, "guess".into()).await.unwrap());
        let unknown = cost(before, today.work_done());
        assert_eq!(unknown, 4096 * 2);
        let before = today.work_done();
        assert!(
            !today
                .verify(Some(old_hash.clone()), "guess".into())
                .await
                .unwrap()
        );
        let outdated = cost(before, today.work_done());
        assert!(outdated >= unknown, "{outdated} < {unknown}");
        // The right password still verifies against the old hash (then the login rehashes).
        assert!(
            today
                .verify(Some(old_hash), "the right password!".into())
                .await
                .unwrap()
        );
    }
}
