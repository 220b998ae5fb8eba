#!/usr/bin/env bash
# Two builds of Tessera compared on the refresh: CPU per refresh (/proc/PID/stat over a wrk
# run, every token spent once, bench/lua/refresh.lua) and refreshes/s, in pairs run in ABBA
# order. On a noisy machine this shows a change that bench/wrk.sh's ratios cannot. ABBA, because
# the second run of a pair measured about 5 µs cheaper even with identical binaries.
#
#   cp target/release/tessera /tmp/tessera-before    # build, change, build again
#   bench/ab-refresh.sh /tmp/tessera-before target/release/tessera [ROUNDS]
# Both on SQLite by default; A_ENV / B_ENV add variables to one side (space-separated VAR=value),
# e.g. A_ENV=TESSERA_DATABASE_URL=postgres://…/db_a B_ENV=TESSERA_DATABASE_URL=postgres://…/db_b
# (a database each), or the same binary twice with B_ENV=RUST_LOG=warn.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
[ $# -ge 2 ] || { sed -n 2,11p "$0" >&2; exit 2; }
bin_a=$(realpath "$1") bin_b=$(realpath "$2") rounds=${3:-6}
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"' EXIT
pass="a long and unusual passphrase 9"
declare -A pid port
side() { # NAME PORT BINARY [VAR=value...]
  local name=$1 p=$2 bin=$3
  shift 3
  mkdir -p "$work/$name"
  (cd "$work/$name" && exec env TESSERA_RATE_LIMIT__LOGIN_PER_IP_PER_MINUTE=0 \
    TESSERA_RATE_LIMIT__FAILED_LOGINS_PER_ACCOUNT=0 "$@" "$bin" serve --listen "127.0.0.1:$p" \
    2>"$work/$name/tessera.log") &
  pid[$name]=$! port[$name]=$p
  for _ in $(seq 1 100); do
    curl -fs "127.0.0.1:$p/healthz" >/dev/null 2>&1 && break
    sleep 0.1
  done
  curl -fs -X POST "127.0.0.1:$p/auth/register" -H 'content-type: application/json' \
    -d "{\"email\":\"ab@example.com\",\"password\":\"$pass\"}" >/dev/null
}
# One run: "NAME µs-per-refresh refreshes/s".
run() {
  local name=$1 p=${port[$1]} tokens="$work/tokens-$1" c0 c1 rps p99 n
  : > "$tokens"
  for _ in $(seq 1 72); do login "$p" ab@example.com "$pass" refresh_token >> "$tokens"; done
  c0=$(cpu_ticks "${pid[$name]}")
  read -r rps p99 n < <(TOKENS=$tokens THREADS=2 wrk_run -t2 -c64 -d6s -s bench/lua/refresh.lua \
    "http://127.0.0.1:$p/auth/refresh")
  c1=$(cpu_ticks "${pid[$name]}")
  python3 -c "print(f'$name {($c1 - $c0) * 10000 / $n:.1f} $rps')"
}
# shellcheck disable=SC2086 # the *_ENV lists are meant to split into words
side A 18401 "$bin_a" ${A_ENV:-}
# shellcheck disable=SC2086
side B 18402 "$bin_b" ${B_ENV:-}
for i in $(seq 1 "$rounds"); do
  if ((i % 2)); then run A; run B; else run B; run A; fi
done | tee "$work/runs"
python3 - "$work/runs" <<'PY'
import statistics, sys
runs = {"A": [], "B": []}
for line in open(sys.argv[1]):
    name, us, rps = line.split()
    runs[name].append((float(us), float(rps)))
for name in "AB":
    us = [r[0] for r in runs[name]]
    rps = [r[1] for r in runs[name]]
    print(f"{name}: {statistics.median(us):.1f} µs per refresh ({min(us):.1f}–{max(us):.1f}), "
          f"{statistics.median(rps):.0f} refreshes/s")
better = sum(b[0] < a[0] for a, b in zip(runs["A"], runs["B"]))
print(f"B cheaper than A in {better} of {len(runs['A'])} pairs")
PY
