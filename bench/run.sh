#!/usr/bin/env bash
# The one command: builds Tessera and the load clients, installs the peers at pinned versions,
# then: the hot paths under wrk, each figure paired with its ceiling in the same round
# (bench/wrk.sh: issue 26's table, written to bench/results/wrk-latest.md) and DPoP's cost
# (bench/dpop.sh); every in-process scenario (SQLite, PostgreSQL, the peers, pgbench's ceiling)
# in one run, written to bench/results/latest.md and latest.json; then start-up, memory with a
# million sessions, and revocation propagation, appended to latest.md.
#
#   bench/run.sh [POSTGRES_URL] [REDIS_URL]
# Defaults: postgres://postgres@127.0.0.1:5432/test and redis://127.0.0.1:6379. Without a
# reachable PostgreSQL the PostgreSQL rows are left out, loudly.
set -euo pipefail
cd "$(dirname "$0")/.."
pg=${1:-postgres://postgres@127.0.0.1:5432/test}
redis=${2:-redis://127.0.0.1:6379}
seconds=${BENCH_SECONDS:-5}
runs=${BENCH_RUNS:-3}

cargo build --release --locked -p tessera-server -p tessera-bench
cargo build --release --locked -p tessera-axum --example resource_server
bench/peers/setup.sh

{
  echo "# The hot paths under wrk ($(date -u '+%Y-%m-%d %H:%M UTC'))"
  echo
  echo '    bench/wrk.sh'
  echo
  bench/wrk.sh "$pg"
  echo
  echo '    bench/dpop.sh'
  echo
  bench/dpop.sh | sed 's/^/    /'
} | tee bench/results/wrk-latest.md

pg_args=()
if psql "$pg" -qAtc 'SELECT 1' >/dev/null 2>&1; then
  pg_args=(--postgres "$pg")
else
  echo "*** PostgreSQL not reachable at $pg: its rows are left out ***" >&2
fi
target/release/bench --seconds "$seconds" --runs "$runs" "${pg_args[@]}"

{
  echo
  echo "Start-up on an existing database (target/release/startup):"
  echo
  target/release/startup | sed 's/^/    /'
  echo
  echo "Memory with 1 000 000 sessions and 100 000 revoked (target/release/memory):"
  echo
  target/release/memory | sed 's/^/    /'
  if [ ${#pg_args[@]} -gt 0 ]; then
    echo
    echo "Revocation propagation across three nodes (target/release/propagation):"
    echo
    if redis-cli -u "$redis" ping >/dev/null 2>&1; then
      target/release/propagation "$pg" "$redis" | sed 's/^/    /'
    else
      target/release/propagation "$pg" | sed 's/^/    /'
    fi
  fi
} | tee -a bench/results/latest.md
