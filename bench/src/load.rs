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
    }
}

/// The median run by throughput, with the min and max throughput of all runs.
pub fn median(mut runs: Vec<Run>) -> (Run, f64, f64) {
    runs.sort_by(|a, b| a.rps.total_cmp(&b.rps));
    let min = runs.first().map_or(0.0, |r| r.rps);
    let max = runs.last().map_or(0.0, |r| r.rps);
    (runs[runs.len() / 2].clone(), min, max)
}
