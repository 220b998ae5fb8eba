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
use tessera_bench::load::{Run, closed_loop, median};
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

fn opts() -> Opts {
    let args: Vec<String> = std::env::args().collect();
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

async fn repeat<F, Fut>(o: &Opts, conns: usize, step: F) -> (Run, f64, f64)
where
    F: Fn(usize, u64) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = bool> + Send,
{
    let mut runs = Vec::new();
    for _ in 0..o.runs {
        runs.push(closed_loop(conns, Duration::from_secs(o.seconds), step.clone()).await);
    }
    median(runs)
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .pool_max_idle_per_host(CONNS * 2)
        .build()
        .unwrap()
}

/// Seconds one signature verification takes, per algorithm, in this process.
fn signature_costs() -> Vec<(&'static str, f64)> {
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
    let mut out = Vec::new();
    for alg in [
        Algorithm::EdDSA,
        Algorithm::ES256,
        Algorithm::RS256,
        Algorithm::HS256,
    ] {
        let key = match alg {
            Algorithm::HS256 => SigningKey::from_hs256_secret(&[7; 32]).unwrap(),
            a => SigningKey::generate(a).unwrap(),
        };
        let set = KeySet::new(alg, [key.verifying_key()]);
        let token = sign(&claims, &key);
        let started = Instant::now();
        let mut n = 0u64;
        while started.elapsed() < Duration::from_millis(700) {
            set.verify(&token, &opts, 1_900_000_001).unwrap();
            n += 1;
        }
        out.push((alg.as_str(), started.elapsed().as_secs_f64() / n as f64));
    }
    out
}

/// Seconds one Argon2id hash takes at the default parameters.
fn argon2_cost() -> f64 {
    use argon2::password_hash::{PasswordHasher, SaltString};
    let params = argon2::Params::new(19_456, 2, 1, None).unwrap();
    let hasher = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
    let salt = SaltString::from_b64("c2FsdHNhbHRzYWx0").unwrap();
    let started = Instant::now();
    for _ in 0..5 {
        hasher.hash_password(PASSWORD.as_bytes(), &salt).unwrap();
    }
    started.elapsed().as_secs_f64() / 5.0
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

async fn bare_ceiling(o: &Opts) -> (Run, f64, f64) {
    let bin = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .join("target/release/bare");
    let port = free_port();
    let mut child = Command::new(bin)
        .arg(format!("127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .spawn()
        .expect("build bare first");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let c = client();
    let url = format!("http://127.0.0.1:{port}/");
    let r = repeat(o, CONNS, move |_, _| {
        let (c, url) = (c.clone(), url.clone());
        async move { c.get(&url).send().await.is_ok_and(|r| r.status() == 200) }
    })
    .await;
    let _ = child.kill();
    let _ = child.wait();
    r
}

async fn post_json(c: &reqwest::Client, url: &str, body: &Value) -> Option<Value> {
    let res = c.post(url).json(body).send().await.ok()?;
    if !res.status().is_success() {
        return None;
    }
    res.json().await.ok()
}

async fn backend(o: &Opts, name: &str, env: Vec<(&str, String)>, ceilings: &Ceilings) -> Vec<Row> {
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
    let mut row = |scenario, r: (Run, f64, f64), ceiling, ceiling_value| {
        rows.push(Row {
            backend: name.into(),
            scenario,
            run: r.0,
            rps_min: r.1,
            rps_max: r.2,
            ceiling,
            ceiling_value,
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
    let mut idle_p99 = f64::NAN;

    // Introspection of a token used again and again.
    if o.want("introspect (reused token)") {
        let (cc, url, tok) = (c.clone(), format!("{base}/auth/introspect"), access.clone());
        let r = repeat(o, CONNS, move |_, _| {
            let (c, url, tok) = (cc.clone(), url.clone(), tok.clone());
            async move {
                c.post(&url)
                    .header("x-api-key", ADMIN)
                    .json(&json!({"token": tok}))
                    .send()
                    .await
                    .is_ok_and(|r| r.status() == 200)
            }
        })
        .await;
        idle_p99 = r.0.p99_ms;
        row(
            "introspect (reused token)",
            r,
            "bare server rps",
            ceilings.bare_rps,
        );
    }

    // Introspection of always-new tokens: a pool made by refreshing, each used once per run.
    if o.want("introspect (always-new tokens)") {
        let mut pool = Vec::new();
        let pool_deadline = Instant::now() + Duration::from_secs(20);
        while pool.len() < 60_000 && Instant::now() < pool_deadline {
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
        let pool = Arc::new(pool);
        let next = Arc::new(AtomicUsize::new(0));
        let (cc, url) = (c.clone(), format!("{base}/auth/introspect"));
        let r = repeat(o, CONNS, move |_, _| {
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
        row(
            "introspect (always-new tokens)",
            r,
            "cores / one EdDSA verification",
            ceilings.verify_rps,
        );
    }

    // GET /auth/me (a store read per request).
    if o.want("GET /auth/me") {
        let (cc, url, tok) = (c.clone(), format!("{base}/auth/me"), access.clone());
        let r = repeat(o, CONNS, move |_, _| {
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
        row("GET /auth/me", r, "bare server rps", ceilings.bare_rps);
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
        let r = repeat(o, CONNS, move |conn, _| {
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
        row(
            "refresh (rotation)",
            r,
            "bare server rps",
            ceilings.bare_rps,
        );
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
        let r = repeat(o, 16, login_step.clone()).await;
        row(
            "login (Argon2id, default cost)",
            r,
            "cores / one Argon2id hash",
            ceilings.argon2_rps,
        );
    }

    // Introspection while a login storm saturates the hashing pool.
    if o.want("introspect p99 during a login storm") {
        let storm = tokio::spawn(closed_loop(16, Duration::from_secs(o.seconds), login_step));
        let (cc, url, tok) = (c.clone(), format!("{base}/auth/introspect"), access.clone());
        let during = closed_loop(CONNS, Duration::from_secs(o.seconds), move |_, _| {
            let (c, url, tok) = (cc.clone(), url.clone(), tok.clone());
            async move {
                c.post(&url)
                    .header("x-api-key", ADMIN)
                    .json(&json!({"token": tok}))
                    .send()
                    .await
                    .is_ok_and(|r| r.status() == 200)
            }
        })
        .await;
        let logins = storm.await.unwrap();
        rows.push(Row {
            backend: name.into(),
            scenario: "introspect p99 during a login storm",
            run: during,
            rps_min: 0.0,
            rps_max: 0.0,
            ceiling: "idle introspect p99 (ms)",
            ceiling_value: idle_p99,
        });
        rows.push(Row {
            backend: name.into(),
            scenario: "login during that storm",
            run: logins,
            rps_min: 0.0,
            rps_max: 0.0,
            ceiling: "cores / one Argon2id hash",
            ceiling_value: ceilings.argon2_rps,
        });
    }

    drop(node);
    let _ = std::fs::remove_dir_all(&dir);
    rows
}

struct Ceilings {
    bare_rps: f64,
    verify_rps: f64,
    argon2_rps: f64,
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
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
    let sigs = signature_costs();
    let argon = argon2_cost();
    let argon_parallel = argon2_parallel_rps(cores as usize);
    let bare = bare_ceiling(&o).await;
    let eddsa = sigs.iter().find(|(a, _)| *a == "EdDSA").unwrap().1;
    let ceilings = Ceilings {
        bare_rps: bare.0.rps,
        verify_rps: cores / eddsa,
        argon2_rps: cores / argon,
    };
    let mut rows = vec![Row {
        backend: "-".into(),
        scenario: "bare axum server (constant 200)",
        run: bare.0.clone(),
        rps_min: bare.1,
        rps_max: bare.2,
        ceiling: "itself",
        ceiling_value: bare.0.rps,
    }];
    rows.extend(backend(&o, "SQLite", vec![], &ceilings).await);
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
                &ceilings,
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
    pgbench: Option<f64>,
    peers: Vec<tessera_bench::peers::PeerRow>,
}

fn write(o: &Opts, res: &Results, machine: &str) {
    let Results {
        rows,
        sigs,
        argon,
        argon_parallel,
        pgbench,
        peers,
    } = res;
    let argon = *argon;
    let out = Path::new(env!("CARGO_MANIFEST_DIR")).join("results");
    std::fs::create_dir_all(&out).unwrap();
    let mut md = format!(
        "# Tessera benchmark\n\nMachine: {machine}. {} run(s) of {} s per scenario, {CONNS} connections (16 for login); the median run by throughput, with min and max.\n\n",
        o.runs, o.seconds
    );
    md += "| backend | scenario | req/s (median) | min–max | p50 ms | p99 ms | errors | ceiling | ratio |\n|---|---|---:|---:|---:|---:|---:|---|---:|\n";
    let mut js = Vec::new();
    for r in rows {
        let storm = r.scenario.starts_with("introspect p99");
        let ratio = if storm {
            r.run.p99_ms / r.ceiling_value.max(0.001)
        } else {
            r.run.rps / r.ceiling_value.max(0.001)
        };
        md += &format!(
            "| {} | {} | {:.0} | {:.0}–{:.0} | {:.2} | {:.2} | {} | {} = {:.1} | {}{:.2} |\n",
            r.backend,
            r.scenario,
            r.run.rps,
            r.rps_min,
            r.rps_max,
            r.run.p50_ms,
            r.run.p99_ms,
            r.run.errors,
            r.ceiling,
            r.ceiling_value,
            if storm { "×" } else { "" },
            ratio
        );
        js.push(json!({"backend": r.backend, "scenario": r.scenario, "rps": r.run.rps, "rps_min": r.rps_min, "rps_max": r.rps_max,
            "p50_ms": r.run.p50_ms, "p99_ms": r.run.p99_ms, "errors": r.run.errors, "ceiling": r.ceiling, "ceiling_value": r.ceiling_value, "ratio": ratio}));
    }
    md += "\nSignature verification, in-process, one core:\n\n| algorithm | µs per verification | per core per second |\n|---|---:|---:|\n";
    for (alg, s) in sigs {
        md += &format!("| {alg} | {:.1} | {:.0} |\n", s * 1e6, 1.0 / s);
    }
    md += &format!(
        "\nArgon2id (m=19456 KiB, t=2, p=1), one hash: {:.1} ms.\n",
        argon * 1000.0
    );
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
    md += &format!(
        "With every core hashing at once (in-process, 2 s): {argon_parallel:.1} hashes/s, {:.0} % of cores ÷ one hash; the hashes share memory bandwidth and caches.\n",
        100.0 * argon_parallel * argon / cores
    );
    md += &peers_section(peers, rows, *pgbench);
    md += &targets_section(rows, peers, *pgbench, *argon_parallel);
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
    let doc = json!({"machine": machine, "runs": o.runs, "seconds": o.seconds, "rows": js, "peers": peer_js, "pgbench_tps": pgbench, "argon2_parallel_rps": argon_parallel,
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
    argon_parallel: f64,
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
                    "{b}: always-new introspection ≥ 80 % of cores ÷ one EdDSA verification ({:.0} %)",
                    100.0 * ratio
                ),
                ratio >= 0.8,
            );
        }
        if let Some(r) = find(rows, b, "login (Argon2id, default cost)") {
            let ratio = r.run.rps / r.ceiling_value;
            judge(
                format!(
                    "{b}: login ≥ 90 % of cores ÷ one Argon2id hash ({:.0} %; {:.0} % of all cores hashing in-process)",
                    100.0 * ratio,
                    100.0 * r.run.rps / argon_parallel
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
