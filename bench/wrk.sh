#!/usr/bin/env bash
# The hot path under wrk (Debian's package), so the figures compare with the outside world: the
# bare axum server (target/release/bare) and Tessera at its default settings (SQLite, info-level
# access log), both on loopback, in the same run. Measures GET /healthz, and POST
# /auth/introspect with one reused access token; prints requests/s and p99 for each, and the
# ratios to bare. Bounded: RUNS runs of SECONDS seconds per scenario (defaults 3 and 10).
#
#   bench/wrk.sh            # after cargo build --release --locked -p tessera-server -p tessera-bench
set -euo pipefail
cd "$(dirname "$0")/.."
command -v wrk >/dev/null || { echo "wrk is not installed (apt-get install wrk)" >&2; exit 1; }
seconds=${SECONDS_PER_RUN:-10}
runs=${RUNS:-3}
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT

key="wrk-admin-key-0123456789abcdef"
target/release/bare 127.0.0.1:18199 & 
(cd "$work" && TESSERA_ADMIN_API_KEYS=$key TESSERA_RATE_LIMIT__LOGIN_PER_IP_PER_MINUTE=0 exec \
  "$OLDPWD/target/release/tessera" serve --listen 127.0.0.1:18198 2>"$work/tessera.log") &
for _ in $(seq 1 100); do
  curl -fs 127.0.0.1:18198/healthz >/dev/null 2>&1 && curl -fs 127.0.0.1:18199/ >/dev/null 2>&1 && break
  sleep 0.1
done
token=$(curl -fs -X POST 127.0.0.1:18198/auth/register -H 'content-type: application/json' \
  -d '{"email":"wrk@example.com","password":"a long and unusual passphrase 9"}' \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
cat > "$work/introspect.lua" <<LUA
wrk.method = "POST"
wrk.body = '{"token":"$token"}'
wrk.headers["content-type"] = "application/json"
wrk.headers["x-api-key"] = "$key"
LUA
cat > "$work/post.lua" <<LUA
wrk.method = "POST"
LUA

# Prints "RPS P99_MS" for one wrk run.
one() {
  wrk -t2 -c64 -d"${seconds}s" --latency "$@" | python3 -c '
import re, sys
t = sys.stdin.read()
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", t).group(1))
m = re.search(r"99%\s+([\d.]+)(us|ms|s)", t)
p99 = float(m.group(1)) * {"us": 0.001, "ms": 1, "s": 1000}[m.group(2)]
print(f"{rps:.0f} {p99:.2f}")'
}

echo "wrk -t2 -c64 -d${seconds}s, $runs runs each, paired with bare axum just before (median run by ratio)"
for scenario in healthz introspect; do
  rows=()
  for _ in $(seq 1 "$runs"); do
    if [ $scenario = healthz ]; then
      read -r brps bp99 < <(one http://127.0.0.1:18199/)
      read -r trps tp99 < <(one http://127.0.0.1:18198/healthz)
    else
      read -r brps bp99 < <(one -s "$work/post.lua" http://127.0.0.1:18199/post)
      read -r trps tp99 < <(one -s "$work/introspect.lua" http://127.0.0.1:18198/auth/introspect)
    fi
    rows+=("$(python3 -c "print(f'{$trps/$brps:.2f} $trps $tp99 $brps $bp99 {$tp99/$bp99:.2f}')")")
  done
  printf '%s\n' "${rows[@]}" | sort -n | sed -n "$(( (runs + 1) / 2 ))p" | {
    read -r ratio trps tp99 brps bp99 pr
    echo "$scenario: tessera $trps req/s (p99 $tp99 ms), bare $brps req/s (p99 $bp99 ms): ratio $ratio, p99 ratio $pr"
  }
  echo "  all runs (ratio, tessera rps, p99, bare rps, p99, p99 ratio):"
  printf '    %s\n' "${rows[@]}"
done
