//! The hashing threads: few, low-priority, each keeping its Argon2 working memory.
use std::sync::mpsc;
use std::sync::{Arc, Mutex};

use super::argon2id::Scratch;
use crate::error::Error;

/// Work for a hashing thread, given that thread's Argon2 memory.
pub(super) type Job = Box<dyn FnOnce(&mut Scratch) + Send>;

/// `n` threads at a lower scheduling priority (nice +10) taking jobs from one queue. They end
/// when the pool is dropped.
pub(super) struct HashPool {
    queue: Mutex<mpsc::Sender<Job>>,
}

/// How much lower than the server's other threads the hashing threads run.
pub(super) const HASH_NICENESS: libc::c_int = 10;

impl HashPool {
    pub(super) fn start(n: usize) -> Result<Self, String> {
        let (tx, rx) = mpsc::channel::<Job>();
        let rx = Arc::new(Mutex::new(rx));
        for i in 0..n {
            let rx = rx.clone();
            std::thread::Builder::new()
                .name(format!("tessera-hash-{i}"))
                .spawn(move || {
                    lower_priority();
                    let mut scratch = Scratch::default();
                    loop {
                        let job = match rx.lock() {
                            Ok(queue) => queue.recv(),
                            Err(_) => return,
                        };
                        match job {
                            Ok(job) => job(&mut scratch),
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

    pub(super) fn submit(&self, job: Job) -> Result<(), Error> {
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
