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

mod ceilings;
mod report;
use ceilings::*;
use report::*;

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
/// One `POST /auth/introspect` with the admin key; whether it answered 200.
async fn introspect_ok(c: &reqwest::Client, url: &str, token: &str) -> bool {
    c.post(url)
        .header("x-api-key", ADMIN)
        .json(&json!({"token": token}))
        .send()
        .await
        .is_ok_and(|r| r.status() == 200)
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
        async move { introspect_ok(&c, &url, &tok).await }
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
                introspect_ok(&c, &url, tok).await
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

fn cores() -> f64 {
    std::thread::available_parallelism().map_or(1, |n| n.get()) as f64
}
