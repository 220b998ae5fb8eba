//! A small closed-loop load generator: `conns` connections, each sending its next request as soon
//! as the last one answered, for a fixed time. Each connection owns its state, so scenarios whose
//! bodies change per request (a refresh consumes its token) follow their own chain.
use std::future::Future;
use std::time::{Duration, Instant};

/// One run's outcome.
#[derive(Clone, Debug)]
pub struct Run {
    pub requests: u64,
    pub errors: u64,
    pub rps: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    /// CPU time the server process spent per request (user + system, µs), where known: the
    /// server's own cost, apart from the load client that shares the machine. NaN if unmeasured.
    pub server_cpu_us: f64,
}

/// Runs `conns` loops for `duration`. `step(conn, i)` makes one request and says whether it
/// succeeded.
pub async fn closed_loop<F, Fut>(conns: usize, duration: Duration, step: F) -> Run
where
    F: Fn(usize, u64) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = bool> + Send,
{
    let deadline = Instant::now() + duration;
    let started = Instant::now();
    let tasks: Vec<_> = (0..conns)
        .map(|c| {
            let step = step.clone();
            tokio::spawn(async move {
                let (mut lat, mut errors, mut i) = (Vec::with_capacity(4096), 0u64, 0u64);
                while Instant::now() < deadline {
                    let t = Instant::now();
                    if !step(c, i).await {
                        errors += 1;
                    }
                    lat.push(t.elapsed().as_micros() as u32);
                    i += 1;
                }
                (lat, errors)
            })
        })
        .collect();
    let mut all = Vec::new();
    let mut errors = 0;
    for t in tasks {
        let (lat, e) = t.await.expect("load task");
        all.extend(lat);
        errors += e;
    }
    let elapsed = started.elapsed().as_secs_f64();
    all.sort_unstable();
    let pct = |q: f64| {
        all.get(((all.len().max(1) - 1) as f64 * q) as usize)
            .copied()
            .unwrap_or(0) as f64
            / 1000.0
    };
    Run {
        requests: all.len() as u64,
        errors,
        rps: all.len() as f64 / elapsed,
        p50_ms: pct(0.5),
        p99_ms: pct(0.99),
        server_cpu_us: f64::NAN,
    }
}

/// The median run by throughput, with the min and max throughput of all runs.
pub fn median(mut runs: Vec<Run>) -> (Run, f64, f64) {
    runs.sort_by(|a, b| a.rps.total_cmp(&b.rps));
    let min = runs.first().map_or(0.0, |r| r.rps);
    let max = runs.last().map_or(0.0, |r| r.rps);
    (runs[runs.len() / 2].clone(), min, max)
}

/// CPU seconds (user + system) a process has used so far, from `/proc/PID/stat`.
pub fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let rest = &stat[stat.rfind(')')? + 2..];
    let mut fields = rest.split(' ').skip(11);
    let utime: f64 = fields.next()?.parse().ok()?;
    let stime: f64 = fields.next()?.parse().ok()?;
    // /proc counts in USER_HZ ticks, which Linux fixes at 100 per second.
    Some((utime + stime) / 100.0)
}

/// Runs `closed_loop` and charges the CPU time `pid` used meanwhile to its requests.
pub async fn closed_loop_charged<F, Fut>(
    pid: Option<u32>,
    conns: usize,
    duration: Duration,
    step: F,
) -> Run
where
    F: Fn(usize, u64) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = bool> + Send,
{
    let before = pid.and_then(cpu_seconds);
    let mut run = closed_loop(conns, duration, step).await;
    if let (Some(pid), Some(before)) = (pid, before)
        && let Some(after) = cpu_seconds(pid)
        && run.requests > 0
    {
        run.server_cpu_us = (after - before) * 1e6 / run.requests as f64;
    }
    run
}
