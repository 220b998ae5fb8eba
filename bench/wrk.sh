#!/usr/bin/env bash
# Issue 26's table, under wrk (Debian's package), every figure paired with its ceiling in the
# same round, on the same loopback and the same two cores as the load client:
#
# - GET /healthz through the whole stack, against the bare axum server's GET / (throughput);
# - POST /auth/introspect with one reused token, and with a second-factor (aal2) token, against
#   the bare server's POST /post;
# - refresh with rotation, Tessera's CPU per refresh (/proc/PID/stat over the wrk run; every
#   token spent once, bench/lua/refresh.lua) against the floor: the bare server's own CPU per
#   request in the same round + one Ed25519 signature + one single-row write in its own
#   transaction (target/release/floor). On SQLite and PostgreSQL, with the default settings and
#   with `[events] refreshes = false`;
# - introspection's p99 during a login storm (16 connections logging in, Argon2id each) against
#   its p99 just before, idle: the milliseconds the storm adds.
#
# Tessera runs at its default settings (SQLite unless said; info logging) except login
# throttling, which is off so the benchmark can sign in as often as it needs. wrk refuses a run
# with any non-2xx answer.
#
#   cargo build --release --locked -p tessera-server -p tessera-bench
#   bench/wrk.sh [POSTGRES_URL]          # ROUNDS=3 SECONDS_PER_RUN=6 by default
# Without a reachable PostgreSQL, its rows are left out, loudly.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
seconds=${SECONDS_PER_RUN:-6}
rounds=${ROUNDS:-3}
pg=${1:-postgres://postgres@127.0.0.1:5432/test}
for bin in tessera bare floor; do
  test -x "target/release/$bin" || { echo "build first: cargo build --release --locked -p tessera-server -p tessera-bench" >&2; exit 1; }
done
work=$(mktemp -d)
pg_dbs=()
cleanup() {
  kill $(jobs -p) 2>/dev/null || true
  wait 2>/dev/null || true
  for db in "${pg_dbs[@]}"; do psql "$pg" -qc "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1 || true; done
  rm -rf "$work"
}
trap cleanup EXIT
key="wrk-admin-key-0123456789abcdef"
pass="a long and unusual passphrase 9"
w="-t2 -c64 -d${seconds}s"

read -r _ sign_us < <(target/release/floor | grep ed25519_sign)
read -r _ sqlite_write_us < <(target/release/floor | grep sqlite_write)
pg_ok=false
if psql "$pg" -qAtc 'SELECT 1' >/dev/null 2>&1; then
  pg_ok=true
  read -r _ pg_write_us < <(target/release/floor "$pg" | grep postgres_write)
else
  echo "*** PostgreSQL not reachable at $pg: its rows are left out ***" >&2
fi

target/release/bare 127.0.0.1:18199 &
bare_pid=$!

# Tessera nodes: name → port, pid. Each gets a user; the SQLite default node also an aal2 one.
declare -A port pid
node() { # NAME PORT [VAR=value...]
  local name=$1 p=$2
  shift 2
  start_tessera "$work/$name" "$p" TESSERA_ADMIN_API_KEYS=$key "$@"
  port[$name]=$p
  pid[$name]=$TESSERA_PID
  curl -fs -X POST "127.0.0.1:$p/auth/register" -H 'content-type: application/json' \
    -d "{\"email\":\"wrk@example.com\",\"password\":\"$pass\"}" >/dev/null
}
node sqlite 18198
node sqlite_quiet 18197 TESSERA_EVENTS__REFRESHES=false
if $pg_ok; then
  for db in tessera_bench_a tessera_bench_b; do
    psql "$pg" -qc "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1
    psql "$pg" -qc "CREATE DATABASE $db" >/dev/null
    pg_dbs+=("$db")
  done
  base=${pg%/*}
  node postgres 18196 "TESSERA_DATABASE_URL=$base/tessera_bench_a"
  node postgres_quiet 18195 "TESSERA_DATABASE_URL=$base/tessera_bench_b" TESSERA_EVENTS__REFRESHES=false
fi

token=$(login 18198 wrk@example.com "$pass" access_token)
curl -fs -X POST 127.0.0.1:18198/auth/register -H 'content-type: application/json' \
  -d "{\"email\":\"aal2@example.com\",\"password\":\"$pass\"}" >/dev/null
aal2=$(python3 bench/aal2.py http://127.0.0.1:18198 aal2@example.com "$pass")
aal2=${aal2%%$'\n'*} # the access token (the refresh token is the second line)
introspect_lua() { # FILE TOKEN
  cat > "$1" <<LUA
wrk.method = "POST"
wrk.body = '{"token":"$2"}'
wrk.headers["content-type"] = "application/json"
wrk.headers["x-api-key"] = "$key"
LUA
}
introspect_lua "$work/introspect.lua" "$token"
introspect_lua "$work/introspect-aal2.lua" "$aal2"
printf 'wrk.method = "POST"\n' > "$work/post.lua"
cat > "$work/login.lua" <<LUA
wrk.method = "POST"
wrk.body = '{"email":"wrk@example.com","password":"$pass"}'
wrk.headers["content-type"] = "application/json"
LUA
# Both answers must say the token is active, or the figure would be of a refusal.
for f in introspect introspect-aal2; do
  t=$([ $f = introspect ] && echo "$token" || echo "$aal2")
  curl -fs -X POST 127.0.0.1:18198/auth/introspect -H "x-api-key: $key" \
    -H 'content-type: application/json' -d "{\"token\":\"$t\"}" | grep -q '"active":true'
done

# CPU µs per refresh of node NAME, with the rps: "US RPS".
refresh_cpu() {
  local name=$1 p=${port[$1]} tokens="$work/tokens-$1"
  : > "$tokens"
  for _ in $(seq 1 72); do login "$p" wrk@example.com "$pass" refresh_token >> "$tokens"; done
  local c0 c1 rps p99 n
  c0=$(cpu_ticks "${pid[$name]}")
  read -r rps p99 n < <(TOKENS=$tokens THREADS=2 wrk_run $w -s bench/lua/refresh.lua \
    "http://127.0.0.1:$p/auth/refresh")
  c1=$(cpu_ticks "${pid[$name]}")
  python3 -c "print(f'{($c1 - $c0) * 10000 / $n:.1f} $rps')"
}

rows="$work/rows"
: > "$rows"
row() { echo "$*" >> "$rows"; }
echo "wrk $w, $rounds rounds; floor: Ed25519 signature $sign_us µs, SQLite single-row write $sqlite_write_us µs${pg_write_us:+, PostgreSQL single-row write (client side) $pg_write_us µs}"
for round in $(seq 1 "$rounds"); do
  # The bare server's throughput, and its own CPU per request: the floor's HTTP part.
  c0=$(cpu_ticks $bare_pid)
  read -r brps bp99 bn < <(wrk_run $w http://127.0.0.1:18199/)
  c1=$(cpu_ticks $bare_pid)
  bare_us=$(python3 -c "print(f'{($c1 - $c0) * 10000 / $bn:.2f}')")
  read -r trps tp99 _ < <(wrk_run $w http://127.0.0.1:18198/healthz)
  row "healthz $(python3 -c "print(f'{$trps / $brps:.2f}')") $trps $brps"
  read -r brps bp99 _ < <(wrk_run $w -s "$work/post.lua" http://127.0.0.1:18199/post)
  read -r trps tp99 _ < <(wrk_run $w -s "$work/introspect.lua" http://127.0.0.1:18198/auth/introspect)
  row "introspect $(python3 -c "print(f'{$trps / $brps:.2f}')") $trps $brps"
  read -r trps tp99 _ < <(wrk_run $w -s "$work/introspect-aal2.lua" http://127.0.0.1:18198/auth/introspect)
  row "introspect_aal2 $(python3 -c "print(f'{$trps / $brps:.2f}')") $trps $brps"
  for name in sqlite sqlite_quiet postgres postgres_quiet; do
    [ -n "${port[$name]:-}" ] || continue
    write=$([[ $name == sqlite* ]] && echo "$sqlite_write_us" || echo "$pg_write_us")
    read -r us rps < <(refresh_cpu $name)
    floor=$(python3 -c "print(f'{$bare_us + $sign_us + $write:.1f}')")
    row "refresh_$name $(python3 -c "print(f'{$us / $floor:.2f}')") $us $floor $rps"
  done
  read -r _ idle _ < <(wrk_run $w -s "$work/introspect.lua" http://127.0.0.1:18198/auth/introspect)
  wrk -t1 -c16 -d$((seconds + 2))s -s "$work/login.lua" http://127.0.0.1:18198/auth/login > "$work/storm.txt" &
  storm=$!
  sleep 1
  read -r _ during _ < <(wrk_run $w -s "$work/introspect.lua" http://127.0.0.1:18198/auth/introspect)
  wait $storm
  logins=$(awk '/Requests\/sec/ {print $2}' "$work/storm.txt")
  row "storm $(python3 -c "print(f'{$during - $idle:.2f}')") $idle $during $logins"
done

python3 - "$rows" <<'PY'
import sys
rows = {}
for line in open(sys.argv[1]):
    name, *vals = line.split()
    rows.setdefault(name, []).append([float(v) for v in vals])
def med(runs):
    runs = sorted(runs, key=lambda r: r[0])
    return runs[(len(runs) - 1) // 2], min(r[0] for r in runs), max(r[0] for r in runs)
print()
print("| path | Tessera (median round) | ceiling, same round | ratio: median (min–max) | goal |")
print("|---|---:|---:|---:|---|")
label = {
    "healthz": ("`GET /healthz`, req/s", "bare axum `GET /`", "≥ 0.90"),
    "introspect": ("`POST /auth/introspect`, reused token, req/s", "bare axum `POST /post`", "≥ 0.65"),
    "introspect_aal2": ("the same, an aal2 (TOTP) token, req/s", "bare axum `POST /post`", "(≥ 0.65)"),
    "refresh_sqlite": ("refresh, SQLite: server CPU µs per refresh", "floor µs", "≤ 1.5"),
    "refresh_sqlite_quiet": ("the same, `[events] refreshes = false`", "floor µs", "≤ 1.5"),
    "refresh_postgres": ("refresh, PostgreSQL: server CPU µs per refresh", "floor µs", "≤ 1.5"),
    "refresh_postgres_quiet": ("the same, `[events] refreshes = false`", "floor µs", "≤ 1.5"),
}
for name, (what, ceiling, goal) in label.items():
    if name not in rows:
        continue
    (r, *v), lo, hi = med(rows[name])
    extra = f" ({v[2]:.0f} refreshes/s)" if name.startswith("refresh") else ""
    fig = lambda x: f"{x:.0f}" if x >= 1000 else f"{x:.1f}"
    print(f"| {what} | {fig(v[0])}{extra} | {ceiling}: {fig(v[1])} | {r:.2f} ({lo:.2f}–{hi:.2f}) | {goal} |")
(r, idle, during, logins), lo, hi = med(rows["storm"])
print(f"| introspection p99 during a login storm ({logins:.0f} logins/s) | {during:.2f} ms | idle p99 just before: {idle:.2f} ms | adds {r:.2f} ms ({lo:.2f}–{hi:.2f}) | adds ≤ 2 ms |")
print()
print("All rounds (name, ratio or added ms, then the figures):")
for line in open(sys.argv[1]):
    print("    " + line.rstrip())
PY
