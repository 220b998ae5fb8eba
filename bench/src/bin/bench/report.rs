//! The results: the markdown table and JSON, the peers section and the targets judged.
use super::*;

pub(super) fn cpu_cell(us: f64) -> String {
    if us.is_nan() {
        "–".into()
    } else {
        format!("{us:.1}")
    }
}

pub(super) fn write(o: &Opts, res: &Results, machine: &str) {
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

pub(super) fn find<'a>(rows: &'a [Row], backend: &str, scenario: &str) -> Option<&'a Row> {
    rows.iter()
        .find(|r| r.backend == backend && r.scenario == scenario)
}

pub(super) fn peers_section(
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
pub(super) fn targets_section(
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
