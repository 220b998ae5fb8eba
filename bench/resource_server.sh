#!/usr/bin/env bash
# The resource server's hot path under wrk (Debian's package): GET /hello of tessera-axum's
# example (a token verified locally, the revocation set consulted, JSON out) with one reused
# access token, against the bare axum server's GET / (target/release/bare), in the same run, on
# loopback. Prints requests/s and p99 for both and the ratio; the median of RUNS paired runs of
# SECONDS seconds (defaults 3 and 10). Then revocation reaching the resource server
# (bin/rs_propagation), with PG_URL if set.
#
#   cargo build --release --locked -p tessera-server -p tessera-bench \
#       -p tessera-axum --example resource_server --bins
#   bench/resource_server.sh
set -euo pipefail
cd "$(dirname "$0")/.."
command -v wrk >/dev/null || { echo "wrk is not installed (apt-get install wrk)" >&2; exit 1; }
seconds=${SECONDS_PER_RUN:-10}
runs=${RUNS:-3}
# PIN=1: the servers on core 0 with one Tokio worker, wrk on core 1 with one thread. Less noise
# on a shared 2-core machine (the two sides no longer fight over both cores).
if [ "${PIN:-0}" = 1 ]; then
  serve_on=(env TOKIO_WORKER_THREADS=1 taskset -c 0); load_on=(taskset -c 1); wrk_threads=1; conns=32
else
  serve_on=(); load_on=(); wrk_threads=2; conns=64
fi
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT

key="wrk-resource-key-0123456789abcdef"
${serve_on[@]+"${serve_on[@]}"} target/release/bare 127.0.0.1:18299 &
(cd "$work" && TESSERA_RESOURCE_SERVER_KEYS=$key TESSERA_RATE_LIMIT__LOGIN_PER_IP_PER_MINUTE=0 exec \
  "$OLDPWD/target/release/tessera" serve --listen 127.0.0.1:18298 2>"$work/tessera.log") &
for _ in $(seq 1 100); do
  curl -fs 127.0.0.1:18298/healthz >/dev/null 2>&1 && break
  sleep 0.1
done
TESSERA_RESOURCE_KEY=$key RUST_LOG=warn ${serve_on[@]+"${serve_on[@]}"} target/release/examples/resource_server \
  --tessera http://127.0.0.1:18298 --listen 127.0.0.1:18297 2>"$work/example.log" &
for _ in $(seq 1 100); do
  curl -fs 127.0.0.1:18297/healthz >/dev/null 2>&1 && curl -fs 127.0.0.1:18299/ >/dev/null 2>&1 && break
  sleep 0.1
done
token=$(curl -fs -X POST 127.0.0.1:18298/auth/register -H 'content-type: application/json' \
  -d '{"email":"wrk@example.com","password":"a long and unusual passphrase 9"}' \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
# The token must really be accepted, or the figure would measure refusals.
test "$(curl -s -o /dev/null -w '%{http_code}' -H "authorization: Bearer $token" 127.0.0.1:18297/hello)" = 200

one() {
  ${load_on[@]+"${load_on[@]}"} wrk -t$wrk_threads -c$conns -d"${seconds}s" --latency "$@" | python3 -c '
import re, sys
t = sys.stdin.read()
if "Non-2xx" in t:
    sys.exit("wrk saw non-2xx answers: " + t)
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", t).group(1))
m = re.search(r"99%\s+([\d.]+)(us|ms|s)", t)
p99 = float(m.group(1)) * {"us": 0.001, "ms": 1, "s": 1000}[m.group(2)]
print(f"{rps:.0f} {p99:.2f}")'
}

echo "wrk -t$wrk_threads -c$conns -d${seconds}s (PIN=${PIN:-0}), $runs runs, each paired with bare axum just before (median run by ratio)"
# Bare twice: as it is, and sent the same Authorization header (the token's ~500 bytes cost
# the kernel and the HTTP parser something before any verification runs).
rows=()
for _ in $(seq 1 "$runs"); do
  read -r brps bp99 < <(one http://127.0.0.1:18299/)
  read -r hrps hp99 < <(one -H "authorization: Bearer $token" http://127.0.0.1:18299/)
  read -r trps tp99 < <(one -H "authorization: Bearer $token" http://127.0.0.1:18297/hello)
  rows+=("$(python3 -c "print(f'{$trps/$brps:.2f} {$trps/$hrps:.2f} $trps $tp99 $brps $bp99 $hrps $hp99')")")
done
printf '%s\n' "${rows[@]}" | sort -n | sed -n "$(( (runs + 1) / 2 ))p" | {
  read -r ratio hratio trps tp99 brps bp99 hrps hp99
  echo "resource server /hello: $trps req/s (p99 $tp99 ms); bare $brps req/s (p99 $bp99 ms): ratio $ratio; bare with the same header $hrps req/s (p99 $hp99 ms): ratio $hratio"
}
echo "  all runs (ratio, ratio to bare with header, /hello rps, p99, bare rps, p99, bare+header rps, p99):"
printf '    %s\n' "${rows[@]}"

echo "revocation reaching the resource server:"
target/release/rs_propagation ${PG_URL:-} "${ROUNDS:-200}"
