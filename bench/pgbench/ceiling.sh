#!/usr/bin/env bash
# pgbench running refresh.sql at the refresh benchmark's concurrency (64 clients), three runs of
# 5 s on a scratch database; prints each run's transactions per second and the median.
#   bench/pgbench/ceiling.sh postgres://postgres@127.0.0.1:5432/test
set -euo pipefail
url=${1:?usage: ceiling.sh POSTGRES_URL}
db="tessera_pgbench_$$"
base=${url%%\?*}
scratch="${base%/*}/$db"
psql "$url" -qAtc "CREATE DATABASE $db"
trap 'psql "$url" -qAtc "DROP DATABASE IF EXISTS $db WITH (FORCE)"' EXIT
psql "$scratch" -qAtc "CREATE TABLE bench_rows (id int PRIMARY KEY, v bigint NOT NULL); INSERT INTO bench_rows SELECT g, 0 FROM generate_series(1, 64) g"
pgbench=$(command -v pgbench || ls /usr/lib/postgresql/*/bin/pgbench | tail -n1)
runs=()
for _ in 1 2 3; do
  tps=$("$pgbench" -n -c 64 -j 2 -T 5 -f "$(dirname "$0")/refresh.sql" "$scratch" 2>/dev/null | awk '/^tps/ {print int($3)}')
  runs+=("$tps")
done
sorted=$(printf '%s\n' "${runs[@]}" | sort -n | tr '\n' ' ')
echo "pgbench single-row UPDATE+SELECT, 64 clients: runs (tps) ${sorted}-> median $(printf '%s\n' "${runs[@]}" | sort -n | sed -n 2p)"
