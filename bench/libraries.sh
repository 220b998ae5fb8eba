#!/usr/bin/env bash
# What each resource-server library costs its app (issue 25): the example's protected GET /hello
# (a reused Bearer token: verified once, then the cache, the revocation check and the feed's
# health per request) against the same app's unprotected GET /healthz (the verifier's status as
# JSON: a route of the same shape that reads no token), with wrk, in the same run, for the Node
# and Python examples (and the Rust one, for reference). Three runs; the median ratio is printed.
#
#   cargo build --release --locked -p tessera-server --bin tessera
#   cargo build --release --locked -p tessera-axum --example resource_server
#   bench/libraries.sh
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
seconds=${SECONDS_PER_RUN:-6}
runs=${RUNS:-3}
root=$PWD
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
key="wrk-resource-key-0123456789abcdef"
start_tessera "$work/tessera" 18398 TESSERA_ISSUER=http://127.0.0.1:18398 \
  TESSERA_RESOURCE_SERVER_KEYS=$key
args=(--tessera http://127.0.0.1:18398 --key "$key")
RUST_LOG=warn target/release/examples/resource_server "${args[@]}" --listen 127.0.0.1:18391 2>"$work/rust.log" &
node clients/node/examples/resource-server.mjs "${args[@]}" --listen 127.0.0.1:18392 >"$work/node.log" 2>&1 &
PYTHONPATH=clients/python/src python3 clients/python/examples/resource_server.py "${args[@]}" \
  --listen 127.0.0.1:18393 >"$work/python.log" 2>&1 &
for port in 18391 18392 18393; do
  for _ in $(seq 1 200); do curl -fs "127.0.0.1:$port/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
done
pass="a long and unusual passphrase 9"
token=$(curl -fs -X POST 127.0.0.1:18398/auth/register -H 'content-type: application/json' \
  -d "{\"email\":\"wrk@example.com\",\"password\":\"$pass\"}" \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
for port in 18391 18392 18393; do
  test "$(curl -s -o /dev/null -w '%{http_code}' -H "authorization: Bearer $token" "127.0.0.1:$port/hello")" = 200
  # The measured route is really protected: without the token, or with it altered, 401.
  test "$(curl -s -o /dev/null -w '%{http_code}' "127.0.0.1:$port/hello")" = 401
  test "$(curl -s -o /dev/null -w '%{http_code}' -H "authorization: Bearer ${token}x" "127.0.0.1:$port/hello")" = 401
done
# "RPS P99_MS" of one run (bench/lib.sh; a run with a non-2xx answer is refused).
one() { wrk_run -t2 -c64 -d"${seconds}s" "$@" | cut -d' ' -f1,2; }
echo "wrk -t2 -c64 -d${seconds}s, $runs runs per library, protected /hello vs unprotected /healthz of the same app"
for lib in rust:18391 node:18392 python:18393; do
  name=${lib%%:*} port=${lib##*:}
  rows=()
  one "http://127.0.0.1:$port/healthz" >/dev/null # warm-up (Node's JIT), not counted
  for _ in $(seq 1 "$runs"); do
    read -r orps op99 < <(one "http://127.0.0.1:$port/healthz")
    read -r prps pp99 < <(one -H "authorization: Bearer $token" "http://127.0.0.1:$port/hello")
    rows+=("$(python3 -c "print(f'{$prps/$orps:.2f} $prps $pp99 $orps $op99')")")
  done
  printf '%s\n' "${rows[@]}" | sort -n | sed -n "$(( (runs + 1) / 2 ))p" | {
    read -r ratio prps pp99 orps op99
    echo "$name: /hello $prps req/s (p99 $pp99 ms), /healthz $orps req/s (p99 $op99 ms): ratio $ratio"
  }
  echo "  runs (ratio, /hello rps, p99, /healthz rps, p99): $(printf '[%s] ' "${rows[@]}")"
done
