//! Every load scenario, against the machine's ceiling, in one run. Writes bench/results/latest.md
//! and latest.json. Loopback only; every run bounded in time.
//!
//!     cargo build --release --locked -p tessera-server -p tessera-bench
//!     target/release/bench [--seconds 5] [--runs 3] [--postgres postgres://postgres@127.0.0.1:5432/test]
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tessera_bench::load::{Run, closed_loop, closed_loop_charged, median};
use tessera_bench::{Node, free_port};

const ADMIN: &str = "bench-admin-key-0123456789";
const PASSWORD: &str = "a long and unusual passphrase 9";
const CONNS: usize = 64;

struct Opts {
    seconds: u64,
    runs: usize,
    postgres: Option<String>,
    /// Only scenarios whose name contains this (for profiling one of them).
    only: Option<String>,
}

impl Opts {
    fn want(&self, scenario: &str) -> bool {
        self.only
            .as_ref()
            .is_none_or(|o| scenario.contains(o.as_str()))
    }
}

#[derive(Clone)]
struct Row {
    backend: String,
    scenario: &'static str,
    run: Run,
    rps_min: f64,
    rps_max: f64,
    ceiling: &'static str,
    ceiling_value: f64,
}

const USAGE: &str = "usage: bench [--seconds N (1-15, default 5)] [--runs N (1-9, default 3)] [--postgres URL] [--only SCENARIO-SUBSTRING]";

fn opts() -> Opts {
    let args: Vec<String> = std::env::args().collect();
    // Every flag takes a value; anything else (including --help) prints the usage and stops,
    // so a typo never starts a long run that overwrites the results.
    let known = ["--seconds", "--runs", "--postgres", "--only"];
    let mut rest = args.iter().skip(1);
    while let Some(a) = rest.next() {
        if !known.contains(&a.as_str()) || rest.next().is_none() {
            eprintln!("{USAGE}");
            std::process::exit(if a == "--help" || a == "-h" { 0 } else { 2 });
        }
    }
    let get = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    Opts {
        seconds: get("--seconds")
            .and_then(|s| s.parse().ok())
            .unwrap_or(5)
            .clamp(1, 15),
        runs: get("--runs")
            .and_then(|s| s.parse().ok())
            .unwrap_or(3)
            .clamp(1, 9),
        postgres: get("--postgres"),
        only: get("--only"),
    }
}

/// `o.runs` bounded runs against the server `pid`; the median by throughput, with min and max.
async fn repeat<F, Fut>(o: &Opts, pid: u32, conns: usize, step: F) -> (Run, f64, f64)
where
    F: Fn(usize, u64) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = bool> + Send,
{
    let mut runs = Vec::new();
    for _ in 0..o.runs {
        let d = Duration::from_secs(o.seconds);
        runs.push(closed_loop_charged(Some(pid), conns, d, step.clone()).await);
    }
    median(runs)
}

/// What a scenario's throughput is compared with.
#[derive(Clone, Copy)]
enum Ceiling {
    /// The bare server through the same client.
    Bare,
    /// EdDSA verifications per second with every core verifying, in-process.
    Verify,
    /// Argon2id hashes per second with every core hashing, in-process.
    Argon2,
}

impl Ceiling {
    fn label(self) -> &'static str {
        match self {
            Ceiling::Bare => "bare server rps",
            Ceiling::Verify => "cores / one EdDSA verification",
            Ceiling::Argon2 => "cores / one Argon2id hash",
        }
    }

    /// Measures the ceiling now. The machine's speed drifts within a minute, so each run is
    /// compared with a ceiling measured right before it.
    async fn measure(self, o: &Opts, bare: &Bare) -> f64 {
        let cores = cores() as usize;
        match self {
            Ceiling::Bare => bare.load(o.seconds).await.rps,
            Ceiling::Verify => tokio::task::spawn_blocking(move || eddsa_parallel_rps(cores))
                .await
                .unwrap(),
            Ceiling::Argon2 => tokio::task::spawn_blocking(move || argon2_parallel_rps(cores))
                .await
                .unwrap(),
        }
    }
}

/// A scenario's runs, each right after a measurement of its ceiling: the run with the median
/// ratio, the min and max throughput of all runs, and the ceiling that run was paired with.
async fn repeat_paired<F, Fut>(
    o: &Opts,
    pid: u32,
    conns: usize,
    ceiling: Ceiling,
    bare: &Bare,
    step: F,
) -> Paired
where
    F: Fn(usize, u64) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = bool> + Send,
{
    let mut runs = Vec::new();
    for _ in 0..o.runs {
        let c = ceiling.measure(o, bare).await;
        let d = Duration::from_secs(o.seconds);
        runs.push((
            closed_loop_charged(Some(pid), conns, d, step.clone()).await,
            c,
        ));
    }
    let min = runs.iter().map(|r| r.0.rps).fold(f64::INFINITY, f64::min);
    let max = runs.iter().map(|r| r.0.rps).fold(0.0, f64::max);
    runs.sort_by(|a, b| (a.0.rps / a.1).total_cmp(&(b.0.rps / b.1)));
    let (run, ceiling_value) = runs.swap_remove(runs.len() / 2);
    Paired {
        run,
        min,
        max,
        ceiling,
        ceiling_value,
    }
}

struct Paired {
    run: Run,
    min: f64,
    max: f64,
    ceiling: Ceiling,
    ceiling_value: f64,
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .pool_max_idle_per_host(CONNS * 2)
        .build()
        .unwrap()
}

/// A signed token of `alg` with the key set and options that accept it.
fn signed(
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
    };
    let opts = VerifyOptions {
        issuer: "https://bench".into(),
        audience: vec![],
        leeway_secs: 5,
    };
    let key = match alg {
        Algorithm::HS256 => SigningKey::from_hs256_secret(&[7; 32]).unwrap(),
        a => SigningKey::generate(a).unwrap(),
    };
    let set = KeySet::new(alg, [key.verifying_key()]);
    (set, sign(&claims, &key), opts)
}

/// Seconds one signature verification takes, per algorithm, in this process.
fn signature_costs() -> Vec<(&'static str, f64)> {
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

fn median_of(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

/// EdDSA verifications per second with every core verifying at once, in-process (1 s): whether
/// the cores really add up (virtual CPUs can share a physical core).
fn eddsa_parallel_rps(cores: usize) -> f64 {
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

/// Seconds one Argon2id hash takes at the default parameters.
fn argon2_cost() -> f64 {
    use argon2::password_hash::{PasswordHasher, SaltString};
    let params = argon2::Params::new(19_456, 2, 1, None).unwrap();
    let hasher = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
    let salt = SaltString::from_b64("c2FsdHNhbHRzYWx0").unwrap();
    // The median of 25 hashes (about a second).
    let times = (0..25)
        .map(|_| {
            let started = Instant::now();
            hasher.hash_password(PASSWORD.as_bytes(), &salt).unwrap();
            started.elapsed().as_secs_f64()
        })
        .collect();
    median_of(times)
}

/// Argon2id hashes per second with every core hashing at once, in-process: what the hardware
/// gives when the hashes share memory bandwidth and caches (a login storm's real ceiling).
fn argon2_parallel_rps(cores: usize) -> f64 {
    use argon2::password_hash::{PasswordHasher, SaltString};
    let started = Instant::now();
    let counts: Vec<_> = (0..cores)
        .map(|_| {
            std::thread::spawn(move || {
                let params = argon2::Params::new(19_456, 2, 1, None).unwrap();
                let hasher = argon2::Argon2::new(
                    argon2::Algorithm::Argon2id,
                    argon2::Version::V0x13,
                    params,
                );
                let salt = SaltString::from_b64("c2FsdHNhbHRzYWx0").unwrap();
                let mut n = 0u32;
                while started.elapsed() < Duration::from_secs(2) {
                    hasher.hash_password(PASSWORD.as_bytes(), &salt).unwrap();
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
struct Bare {
    child: std::process::Child,
    url: String,
}

impl Bare {
    async fn start() -> Bare {
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

    fn step(&self) -> impl Fn(usize, u64) -> BoxedOk + Clone + Send + 'static {
        let (c, url) = (client(), self.url.clone());
        move |_, _| {
            let (c, url) = (c.clone(), url.clone());
            Box::pin(async move { c.get(&url).send().await.is_ok_and(|r| r.status() == 200) })
        }
    }

    async fn load(&self, seconds: u64) -> Run {
        let pid = Some(self.child.id());
        closed_loop_charged(pid, CONNS, Duration::from_secs(seconds), self.step()).await
    }
}

type BoxedOk = std::pin::Pin<Box<dyn std::future::Future<Output = bool> + Send>>;

impl Drop for Bare {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn post_json(c: &reqwest::Client, url: &str, body: &Value) -> Option<Value> {
    let res = c.post(url).json(body).send().await.ok()?;
    if !res.status().is_success() {
        return None;
    }
    res.json().await.ok()
}

async fn backend(o: &Opts, name: &str, env: Vec<(&str, String)>, bare: &Bare) -> Vec<Row> {
    let dir = std::env::temp_dir().join(format!("tessera_bench_{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut all_env: Vec<(&str, String)> = vec![
        ("TESSERA_ADMIN_API_KEYS", ADMIN.into()),
        ("TESSERA_RATE_LIMIT__LOGIN_PER_IP_PER_MINUTE", "0".into()),
        ("TESSERA_RATE_LIMIT__FAILED_LOGINS_PER_ACCOUNT", "0".into()),
    ];
    all_env.extend(env);
    let env_refs: Vec<(&str, &str)> = all_env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let node = Node::spawn(&dir, &env_refs);
    let c = client();
    node.ready(&c).await;
    let base = node.base.clone();
    let email = format!("bench-{}@example.com", uuid::Uuid::new_v4().simple());
    post_json(
        &c,
        &format!("{base}/auth/register"),
        &json!({"email": email, "password": PASSWORD}),
    )
    .await
    .expect("register");
    let mut rows = Vec::new();
    let mut row = |scenario, p: Paired| {
        rows.push(Row {
            backend: name.into(),
            scenario,
            run: p.run,
            rps_min: p.min,
            rps_max: p.max,
            ceiling: p.ceiling.label(),
            ceiling_value: p.ceiling_value,
        });
    };

    // Sessions for the token-using scenarios: one per connection.
    let mut sessions = Vec::new();
    for _ in 0..CONNS {
        sessions.push(
            post_json(
                &c,
                &format!("{base}/auth/login"),
                &json!({"email": email, "password": PASSWORD}),
            )
            .await
            .expect("login"),
        );
    }
    let access = sessions[0]["access_token"].as_str().unwrap().to_owned();
    let mut chains: Vec<String> = sessions
        .iter()
        .map(|s| s["refresh_token"].as_str().unwrap().to_owned())
        .collect();

    // Introspection of a token used again and again.
    let (cc, url, tok) = (c.clone(), format!("{base}/auth/introspect"), access.clone());
    let reused_step = move |_: usize, _: u64| {
        let (c, url, tok) = (cc.clone(), url.clone(), tok.clone());
        async move {
            c.post(&url)
                .header("x-api-key", ADMIN)
                .json(&json!({"token": tok}))
                .send()
                .await
                .is_ok_and(|r| r.status() == 200)
        }
    };
    if o.want("introspect (reused token)") {
        let pid = node.pid();
        let r = repeat_paired(o, pid, CONNS, Ceiling::Bare, bare, reused_step.clone()).await;
        row("introspect (reused token)", r);
    }

    // Introspection of always-new tokens: a pool made by refreshing, used in a cycle. The pool is
    // larger than the verified-token cache, which starts over when full, so a token is always
    // gone from the cache by the time it comes round again: every introspection verifies a
    // signature. (A smaller pool would be served from the cache after its first round.)
    if o.want("introspect (always-new tokens)") {
        let wanted = tessera_core::engine::VERIFIED_CACHE_CAPACITY * 6 / 5;
        let mut pool = Vec::new();
        let pool_deadline = Instant::now() + Duration::from_secs(120);
        while pool.len() < wanted && Instant::now() < pool_deadline {
            let handles: Vec<_> = chains
                .iter()
                .map(|t| {
                    let (c, url, body) = (
                        c.clone(),
                        format!("{base}/auth/refresh"),
                        json!({"refresh_token": t}),
                    );
                    tokio::spawn(async move { post_json(&c, &url, &body).await })
                })
                .collect();
            for (i, h) in handles.into_iter().enumerate() {
                if let Some(v) = h.await.unwrap() {
                    chains[i] = v["refresh_token"].as_str().unwrap().to_owned();
                    pool.push(v["access_token"].as_str().unwrap().to_owned());
                }
            }
        }
        assert!(
            pool.len() > tessera_core::engine::VERIFIED_CACHE_CAPACITY,
            "only {} always-new tokens in 120 s: too few to miss the cache",
            pool.len()
        );
        let pool = Arc::new(pool);
        let next = Arc::new(AtomicUsize::new(0));
        let (cc, url) = (c.clone(), format!("{base}/auth/introspect"));
        let r = repeat_paired(o, node.pid(), CONNS, Ceiling::Verify, bare, move |_, _| {
            let (c, url, pool, next) = (cc.clone(), url.clone(), pool.clone(), next.clone());
            async move {
                let tok = &pool[next.fetch_add(1, Ordering::Relaxed) % pool.len()];
                c.post(&url)
                    .header("x-api-key", ADMIN)
                    .json(&json!({"token": tok}))
                    .send()
                    .await
                    .is_ok_and(|r| r.status() == 200)
            }
        })
        .await;
        row("introspect (always-new tokens)", r);
    }

    // GET /auth/me (a store read per request).
    if o.want("GET /auth/me") {
        let (cc, url, tok) = (c.clone(), format!("{base}/auth/me"), access.clone());
        let r = repeat_paired(o, node.pid(), CONNS, Ceiling::Bare, bare, move |_, _| {
            let (c, url, tok) = (cc.clone(), url.clone(), tok.clone());
            async move {
                c.get(&url)
                    .bearer_auth(&tok)
                    .send()
                    .await
                    .is_ok_and(|r| r.status() == 200)
            }
        })
        .await;
        row("GET /auth/me", r);
    }

    // Refresh with rotation: each connection follows its own chain.
    if o.want("refresh (rotation)") {
        let chains = Arc::new(
            chains
                .into_iter()
                .map(tokio::sync::Mutex::new)
                .collect::<Vec<_>>(),
        );
        let (cc, url) = (c.clone(), format!("{base}/auth/refresh"));
        let r = repeat_paired(o, node.pid(), CONNS, Ceiling::Bare, bare, move |conn, _| {
            let (c, url, chains) = (cc.clone(), url.clone(), chains.clone());
            async move {
                let mut token = chains[conn].lock().await;
                match post_json(&c, &url, &json!({"refresh_token": *token})).await {
                    Some(v) => {
                        *token = v["refresh_token"].as_str().unwrap().to_owned();
                        true
                    }
                    None => false,
                }
            }
        })
        .await;
        row("refresh (rotation)", r);
    }

    // Login: Argon2id at the default parameters.
    let (cc, url, em) = (c.clone(), format!("{base}/auth/login"), email.clone());
    let login_step = move |_: usize, _: u64| {
        let (c, url, em) = (cc.clone(), url.clone(), em.clone());
        async move {
            c.post(&url)
                .json(&json!({"email": em, "password": PASSWORD}))
                .send()
                .await
                .is_ok_and(|r| r.status() == 200)
        }
    };
    if o.want("login (Argon2id, default cost)") {
        let pid = node.pid();
        let r = repeat_paired(o, pid, 16, Ceiling::Argon2, bare, login_step.clone()).await;
        row("login (Argon2id, default cost)", r);
    }

    // Introspection while a login storm saturates the hashing pool, each run right after an
    // idle run of the same introspection (its p99 is the yardstick).
    if o.want("introspect p99 during a login storm") {
        let d = Duration::from_secs(o.seconds);
        let mut runs = Vec::new();
        for _ in 0..o.runs {
            let idle = closed_loop(CONNS, d, reused_step.clone()).await;
            let storm = tokio::spawn(closed_loop(16, d, login_step.clone()));
            let during = closed_loop(CONNS, d, reused_step.clone()).await;
            runs.push((during, storm.await.unwrap(), idle.p99_ms));
        }
        runs.sort_by(|a, b| (a.0.p99_ms / a.2).total_cmp(&(b.0.p99_ms / b.2)));
        let (during, logins, idle_p99) = runs.swap_remove(runs.len() / 2);
        rows.push(Row {
            backend: name.into(),
            scenario: "introspect p99 during a login storm",
            run: during,
            rps_min: 0.0,
            rps_max: 0.0,
            ceiling: "idle introspect p99 (ms), just before",
            ceiling_value: idle_p99,
        });
        let argon2 = Ceiling::Argon2.measure(o, bare).await;
        rows.push(Row {
            backend: name.into(),
            scenario: "login during that storm",
            run: logins,
            rps_min: 0.0,
            rps_max: 0.0,
            ceiling: Ceiling::Argon2.label(),
            ceiling_value: argon2,
        });
    }

    drop(node);
    let _ = std::fs::remove_dir_all(&dir);
    rows
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let mem = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines().next().map(|l| {
                l.split_whitespace()
                    .nth(1)
                    .unwrap_or("0")
                    .parse::<u64>()
                    .unwrap_or(0)
                    / 1024
                    / 1024
            })
        })
        .unwrap_or(0);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    format!("{cores} cores ({cpu}), {mem} GiB, loopback")
}

#[tokio::main]
async fn main() {
    let o = opts();
    let cores = cores();
    let sigs = signature_costs();
    let argon = argon2_cost();
    let argon_parallel = argon2_parallel_rps(cores as usize);
    let eddsa_parallel = eddsa_parallel_rps(cores as usize);
    let bare_server = Bare::start().await;
    let bare = repeat(&o, bare_server.child.id(), CONNS, bare_server.step()).await;
    let mut rows = vec![Row {
        backend: "-".into(),
        scenario: "bare axum server (constant 200)",
        run: bare.0.clone(),
        rps_min: bare.1,
        rps_max: bare.2,
        ceiling: "itself",
        ceiling_value: bare.0.rps,
    }];
    rows.extend(backend(&o, "SQLite", vec![], &bare_server).await);
    if let Some(url) = &o.postgres {
        let db = format!("tessera_bench_{}", uuid::Uuid::new_v4().simple());
        let _ = Command::new("psql")
            .args([url, "-qAtc", &format!("CREATE DATABASE {db}")])
            .status();
        let base = url.split('?').next().unwrap();
        let db_url = format!("{}/{db}", &base[..base.rfind('/').unwrap()]);
        rows.extend(
            backend(
                &o,
                "PostgreSQL",
                vec![("TESSERA_DATABASE_URL", db_url)],
                &bare_server,
            )
            .await,
        );
        let _ = Command::new("psql")
            .args([
                url,
                "-qAtc",
                &format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"),
            ])
            .status();
    }
    drop(bare_server);
    let pgbench = o.postgres.as_deref().and_then(pgbench_ceiling);
    let peers = if !o.want("peers") {
        vec![]
    } else if tessera_bench::peers::installed() {
        tessera_bench::peers::run(o.seconds, o.runs).await
    } else {
        eprintln!(
            "\n*** PEERS NOT INSTALLED: run bench/peers/setup.sh (or bench/run.sh) to compare with them ***\n"
        );
        vec![]
    };
    write(
        &o,
        &Results {
            rows,
            sigs,
            argon,
            argon_parallel,
            eddsa_parallel,
            pgbench,
            peers,
        },
        &machine(),
    );
}

/// The database's own ceiling for a refresh: pgbench running a single-row UPDATE+SELECT
/// transaction at the same concurrency (`bench/pgbench/ceiling.sh`), median tps.
fn pgbench_ceiling(url: &str) -> Option<f64> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("pgbench/ceiling.sh");
    let out = Command::new("bash").arg(script).arg(url).output().ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let median = text.rsplit("median").next()?.trim().parse().ok();
    if median.is_none() {
        eprintln!(
            "pgbench ceiling unavailable: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    median
}

struct Results {
    rows: Vec<Row>,
    sigs: Vec<(&'static str, f64)>,
    argon: f64,
    argon_parallel: f64,
    eddsa_parallel: f64,
    pgbench: Option<f64>,
    peers: Vec<tessera_bench::peers::PeerRow>,
}

fn cpu_cell(us: f64) -> String {
    if us.is_nan() {
        "–".into()
    } else {
        format!("{us:.1}")
    }
}

fn write(o: &Opts, res: &Results, machine: &str) {
    let Results {
        rows,
        sigs,
        argon,
        argon_parallel,
        eddsa_parallel,
        pgbench,
        peers,
    } = res;
    let argon = *argon;
    let out = Path::new(env!("CARGO_MANIFEST_DIR")).join("results");
    std::fs::create_dir_all(&out).unwrap();
    let mut md = format!(
        "# Tessera benchmark\n\nMachine: {machine}. {} run(s) of {} s per scenario, {CONNS} connections (16 for login). Each run is paired with its ceiling measured just before it (the machine's speed drifts within a minute); the row shows the run with the median ratio, that run's ceiling, and the min and max throughput of all runs. Server CPU is the server process's user + system time per request.\n\n",
        o.runs, o.seconds
    );
    md += "| backend | scenario | req/s (median) | min–max | p50 ms | p99 ms | errors | server CPU µs/req | ceiling | ratio |\n|---|---|---:|---:|---:|---:|---:|---:|---|---:|\n";
    let mut js = Vec::new();
    for r in rows {
        let storm = r.scenario.starts_with("introspect p99");
        let ratio = if storm {
            r.run.p99_ms / r.ceiling_value.max(0.001)
        } else {
            r.run.rps / r.ceiling_value.max(0.001)
        };
        md += &format!(
            "| {} | {} | {:.0} | {:.0}–{:.0} | {:.2} | {:.2} | {} | {} | {} = {:.1} | {}{:.2} |\n",
            r.backend,
            r.scenario,
            r.run.rps,
            r.rps_min,
            r.rps_max,
            r.run.p50_ms,
            r.run.p99_ms,
            r.run.errors,
            cpu_cell(r.run.server_cpu_us),
            r.ceiling,
            r.ceiling_value,
            if storm { "×" } else { "" },
            ratio
        );
        js.push(json!({"backend": r.backend, "scenario": r.scenario, "rps": r.run.rps, "rps_min": r.rps_min, "rps_max": r.rps_max,
            "p50_ms": r.run.p50_ms, "p99_ms": r.run.p99_ms, "errors": r.run.errors,
            "server_cpu_us": (!r.run.server_cpu_us.is_nan()).then_some(r.run.server_cpu_us), "ceiling": r.ceiling, "ceiling_value": r.ceiling_value, "ratio": ratio}));
    }
    md += "\nSignature verification, in-process, one core:\n\n| algorithm | µs per verification | per core per second |\n|---|---:|---:|\n";
    for (alg, s) in sigs {
        md += &format!("| {alg} | {:.1} | {:.0} |\n", s * 1e6, 1.0 / s);
    }
    let eddsa = sigs
        .iter()
        .find(|(a, _)| *a == "EdDSA")
        .map_or(f64::NAN, |s| s.1);
    md += &format!(
        "\nEdDSA with every core verifying at once (in-process, 1 s): {eddsa_parallel:.0} verifications/s, {:.0} % of cores ÷ one verification.\n",
        100.0 * eddsa_parallel * eddsa / cores()
    );
    md += &format!(
        "\nArgon2id (m=19456 KiB, t=2, p=1), one hash: {:.1} ms.\n",
        argon * 1000.0
    );
    let cores = cores();
    md += &format!(
        "With every core hashing at once (in-process, 2 s): {argon_parallel:.1} hashes/s, {:.0} % of cores ÷ one hash; the hashes share memory bandwidth and caches.\n",
        100.0 * argon_parallel * argon / cores
    );
    md += &peers_section(peers, rows, *pgbench);
    md += &targets_section(rows, peers, *pgbench);
    if o.only.is_some() {
        // A partial run is for profiling: print it, keep the full table.
        print!("{md}");
        return;
    }
    std::fs::write(out.join("latest.md"), &md).unwrap();
    let peer_js: Vec<Value> = peers
        .iter()
        .map(|p| {
            json!({"server": p.name, "rps": p.run.rps, "rps_min": p.min, "rps_max": p.max,
        "p50_ms": p.run.p50_ms, "p99_ms": p.run.p99_ms, "errors": p.run.errors})
        })
        .collect();
    let doc = json!({"machine": machine, "runs": o.runs, "seconds": o.seconds, "rows": js, "peers": peer_js, "pgbench_tps": pgbench, "argon2_parallel_rps": argon_parallel, "eddsa_parallel_rps": eddsa_parallel,
        "signatures": sigs.iter().map(|(a, s)| json!({"alg": a, "seconds": s})).collect::<Vec<_>>(), "argon2_seconds": argon});
    std::fs::write(
        out.join("latest.json"),
        serde_json::to_string_pretty(&doc).unwrap(),
    )
    .unwrap();
    print!("{md}");
}

fn find<'a>(rows: &'a [Row], backend: &str, scenario: &str) -> Option<&'a Row> {
    rows.iter()
        .find(|r| r.backend == backend && r.scenario == scenario)
}

fn peers_section(
    peers: &[tessera_bench::peers::PeerRow],
    rows: &[Row],
    pgbench: Option<f64>,
) -> String {
    let mut md = String::new();
    if let Some(tessera) = peers.first() {
        md += &format!(
            "\nPeers, in the same run: {CONNS} connections, each signed in once and then following its own chain; median run, min and max.\n\n| server and flow | per second | min–max | p50 ms | p99 ms | errors | Tessera ÷ this |\n|---|---:|---:|---:|---:|---:|---:|\n"
        );
        for p in peers {
            md += &format!(
                "| {} | {:.0} | {:.0}–{:.0} | {:.2} | {:.2} | {} | {:.1} |\n",
                p.name,
                p.run.rps,
                p.min,
                p.max,
                p.run.p50_ms,
                p.run.p99_ms,
                p.run.errors,
                tessera.run.rps / p.run.rps.max(0.001)
            );
        }
    }
    if let (Some(tps), Some(r)) = (pgbench, find(rows, "PostgreSQL", "refresh (rotation)")) {
        md += &format!(
            "\nPostgreSQL's own ceiling for a refresh (bench/pgbench/ceiling.sh: a single-row UPDATE+SELECT transaction, 64 clients, median of 3): {tps:.0} tps; Tessera's PostgreSQL refresh is {:.0} % of it.\n",
            100.0 * r.run.rps / tps
        );
    }
    md
}

/// Each target of the benchmark issue, judged on this run's figures.
fn targets_section(
    rows: &[Row],
    peers: &[tessera_bench::peers::PeerRow],
    pgbench: Option<f64>,
) -> String {
    let mut lines = Vec::new();
    let mut judge = |what: String, met: bool| {
        lines.push(format!(
            "| {what} | {} |",
            if met { "met" } else { "MISSED" }
        ))
    };
    for b in ["SQLite", "PostgreSQL"] {
        if let Some(r) = find(rows, b, "introspect (reused token)") {
            let ratio = r.run.rps / r.ceiling_value;
            judge(
                format!(
                    "{b}: reused-token introspection ≥ 60 % of the bare server ({:.0} %)",
                    100.0 * ratio
                ),
                ratio >= 0.6,
            );
            judge(
                format!("{b}: its p99 ≤ 2 ms ({:.2} ms)", r.run.p99_ms),
                r.run.p99_ms <= 2.0,
            );
        }
        if let Some(r) = find(rows, b, "introspect (always-new tokens)") {
            let ratio = r.run.rps / r.ceiling_value;
            judge(
                format!(
                    "{b}: always-new introspection ≥ 80 % of cores ÷ one EdDSA verification ({:.0} %; the server spent {} µs of CPU per token, of which one verification is {:.1} µs)",
                    100.0 * ratio,
                    cpu_cell(r.run.server_cpu_us),
                    cores() * 1e6 / r.ceiling_value
                ),
                ratio >= 0.8,
            );
        }
        if let Some(r) = find(rows, b, "login (Argon2id, default cost)") {
            let ratio = r.run.rps / r.ceiling_value;
            judge(
                format!(
                    "{b}: login ≥ 90 % of cores ÷ one Argon2id hash ({:.0} %; the server spent {} µs of CPU per login)",
                    100.0 * ratio,
                    cpu_cell(r.run.server_cpu_us)
                ),
                ratio >= 0.9,
            );
        }
        if let Some(r) = find(rows, b, "introspect p99 during a login storm") {
            let ratio = r.run.p99_ms / r.ceiling_value;
            judge(
                format!("{b}: introspection p99 during a login storm ≤ 2× idle ({ratio:.2}×)"),
                ratio <= 2.0,
            );
        }
    }
    if let Some(tessera) = peers.first() {
        for (peer, need) in [
            ("django-rest-framework-simplejwt", 20.0),
            ("better-auth", 10.0),
        ] {
            if let Some(p) = peers.iter().find(|p| p.name.starts_with(peer)) {
                let x = tessera.run.rps / p.run.rps.max(0.001);
                judge(
                    format!("SQLite refresh ≥ {need:.0}× {peer} ({x:.1}×)"),
                    x >= need,
                );
            }
        }
    }
    if let (Some(tps), Some(r)) = (pgbench, find(rows, "PostgreSQL", "refresh (rotation)")) {
        let ratio = r.run.rps / tps;
        judge(
            format!(
                "PostgreSQL refresh ≥ 50 % of pgbench's single-row UPDATE+SELECT ({:.0} %)",
                100.0 * ratio
            ),
            ratio >= 0.5,
        );
    }
    if lines.is_empty() {
        return String::new();
    }
    format!(
        "\nTargets, judged on this run (start-up and memory are measured by `startup` and `memory`):\n\n| target | this run |\n|---|---|\n{}\n",
        lines.join("\n")
    )
}

fn cores() -> f64 {
    std::thread::available_parallelism().map_or(1, |n| n.get()) as f64
}
