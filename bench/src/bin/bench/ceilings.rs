//! The ceilings Tessera is compared with: signature and Argon2id costs in-process, and the bare
//! axum server.
use super::*;

pub(super) fn signed(
    alg: tessera_token::Algorithm,
) -> (tessera_token::KeySet, String, tessera_token::VerifyOptions) {
    use tessera_token::*;
    let claims = AccessClaims {
        iss: "https://bench".into(),
        aud: None,
        sub: "u".into(),
        sid: "s".into(),
        jti: "j".into(),
        iat: 1_900_000_000,
        exp: 1_900_000_900,
        nbf: None,
        ns: "default".into(),
        roles: vec![],
        perms: vec![],
        auth_time: None,
        ext: None,
        acr: None,
        amr: None,
        cnf: None,
    };
    let opts = VerifyOptions {
        issuer: "https://bench".into(),
        audience: vec![],
        leeway_secs: 5,
        max_lifetime_secs: None,
    };
    let key = match alg {
        Algorithm::HS256 => SigningKey::from_hs256_secret(&[7; 32]).unwrap(),
        a => SigningKey::generate(a).unwrap(),
    };
    let set = KeySet::new(alg, [key.verifying_key()]);
    (set, sign(&claims, &key), opts)
}

/// Seconds one signature verification takes, per algorithm, in this process.
pub(super) fn signature_costs() -> Vec<(&'static str, f64)> {
    use tessera_token::Algorithm;
    let mut out = Vec::new();
    for alg in [
        Algorithm::EdDSA,
        Algorithm::ES256,
        Algorithm::RS256,
        Algorithm::HS256,
    ] {
        let (set, token, opts) = signed(alg);
        // The median of 9 batches of 100 ms: a batch the hypervisor stole time from is an
        // outlier, not a shift of the mean.
        let batches = (0..9)
            .map(|_| {
                let started = Instant::now();
                let mut n = 0u64;
                while started.elapsed() < Duration::from_millis(100) {
                    set.verify(&token, &opts, 1_900_000_001).unwrap();
                    n += 1;
                }
                started.elapsed().as_secs_f64() / n as f64
            })
            .collect();
        out.push((alg.as_str(), median_of(batches)));
    }
    out
}

pub(super) fn median_of(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

/// EdDSA verifications per second with every core verifying at once, in-process (1 s): whether
/// the cores really add up (virtual CPUs can share a physical core).
pub(super) fn eddsa_parallel_rps(cores: usize) -> f64 {
    let started = Instant::now();
    let counts: Vec<_> = (0..cores)
        .map(|_| {
            std::thread::spawn(move || {
                let (set, token, opts) = signed(tessera_token::Algorithm::EdDSA);
                let mut n = 0u64;
                while started.elapsed() < Duration::from_secs(1) {
                    set.verify(&token, &opts, 1_900_000_001).unwrap();
                    n += 1;
                }
                n
            })
        })
        .collect();
    let total: u64 = counts.into_iter().map(|h| h.join().unwrap()).sum();
    total as f64 / started.elapsed().as_secs_f64()
}

/// One Argon2id hash at the default parameters into `memory`, which the caller keeps between
/// hashes as the server's hashing threads do: the ceiling is the hash, not its allocation.
fn argon2_hash(memory: &mut [argon2::Block]) {
    let params = argon2::Params::new(19_456, 2, 1, None).unwrap();
    let hasher = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
    let mut out = [0u8; 32];
    hasher
        .hash_password_into_with_memory(PASSWORD.as_bytes(), b"saltsaltsaltsalt", &mut out, memory)
        .unwrap();
}

fn argon2_memory() -> Vec<argon2::Block> {
    vec![argon2::Block::default(); 19_456]
}

/// Seconds one Argon2id hash takes at the default parameters.
pub(super) fn argon2_cost() -> f64 {
    let mut memory = argon2_memory();
    // The median of 25 hashes (about a second).
    let times = (0..25)
        .map(|_| {
            let started = Instant::now();
            argon2_hash(&mut memory);
            started.elapsed().as_secs_f64()
        })
        .collect();
    median_of(times)
}

/// Argon2id hashes per second with every core hashing at once, in-process: what the hardware
/// gives when the hashes share memory bandwidth and caches (a login storm's real ceiling).
pub(super) fn argon2_parallel_rps(cores: usize) -> f64 {
    let started = Instant::now();
    let counts: Vec<_> = (0..cores)
        .map(|_| {
            std::thread::spawn(move || {
                let mut memory = argon2_memory();
                let mut n = 0u32;
                while started.elapsed() < Duration::from_secs(2) {
                    argon2_hash(&mut memory);
                    n += 1;
                }
                n
            })
        })
        .collect();
    let total: u32 = counts.into_iter().map(|h| h.join().unwrap()).sum();
    f64::from(total) / started.elapsed().as_secs_f64()
}

/// The bare axum server (constant 200), running for the whole benchmark so every scenario run
/// can be paired with a run against it. Killed on drop.
pub(super) struct Bare {
    pub(super) child: std::process::Child,
    url: String,
}

impl Bare {
    pub(super) async fn start() -> Bare {
        let bin = Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .unwrap()
            .join("target/release/bare");
        let port = free_port();
        let child = Command::new(bin)
            .arg(format!("127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .spawn()
            .expect("build bare first");
        tokio::time::sleep(Duration::from_millis(300)).await;
        Bare {
            child,
            url: format!("http://127.0.0.1:{port}/"),
        }
    }

    pub(super) fn step(&self) -> impl Fn(usize, u64) -> BoxedOk + Clone + Send + 'static {
        let (c, url) = (client(), self.url.clone());
        move |_, _| {
            let (c, url) = (c.clone(), url.clone());
            Box::pin(async move { c.get(&url).send().await.is_ok_and(|r| r.status() == 200) })
        }
    }

    pub(super) async fn load(&self, seconds: u64) -> Run {
        let pid = Some(self.child.id());
        closed_loop_charged(pid, CONNS, Duration::from_secs(seconds), self.step()).await
    }
}

pub(super) type BoxedOk = std::pin::Pin<Box<dyn std::future::Future<Output = bool> + Send>>;

impl Drop for Bare {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
