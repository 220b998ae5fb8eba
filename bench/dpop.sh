#!/usr/bin/env bash
# DPoP's cost (issue 24), on the paths it is about:
# - at the resource server: tessera-axum's example GET /hello with a DPoP-bound token and a fresh
#   ES256 proof per request (pre-made by target/release/dpop, sent by wrk one per request, so
#   each is new to the replay cache), against the same route with a Bearer token, in the same
#   run; wrk refuses to report a run with a non-2xx answer (a replayed or stale proof);
# - at Tessera: refreshes of a bound and of an unbound session, alternating (target/release/dpop).
#
#   cargo build --release --locked -p tessera-server -p tessera-bench \
#       -p tessera-axum --example resource_server --bins
#   bench/dpop.sh
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
seconds=${SECONDS_PER_RUN:-3}
runs=${RUNS:-3}
root=$PWD
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
key="wrk-resource-key-0123456789abcdef"
start_tessera "$work" 18298 TESSERA_ISSUER=http://127.0.0.1:18298 TESSERA_RESOURCE_SERVER_KEYS=$key
TESSERA_RESOURCE_KEY=$key RUST_LOG=warn target/release/examples/resource_server \
  --tessera http://127.0.0.1:18298 --listen 127.0.0.1:18297 2>"$work/example.log" &
for _ in $(seq 1 100); do curl -fs 127.0.0.1:18297/healthz >/dev/null 2>&1 && break; sleep 0.1; done
cd "$work"
pass="a long and unusual passphrase 9"
curl -fs -X POST 127.0.0.1:18298/auth/register -H 'content-type: application/json' \
  -d "{\"email\":\"wrk@example.com\",\"password\":\"$pass\"}" >/dev/null
bearer=$(login 18298 wrk@example.com "$pass" access_token)
bound=$("$root/target/release/dpop" login http://127.0.0.1:18298 wrk@example.com "$pass")
test "$(curl -s -o /dev/null -w '%{http_code}' -H "authorization: Bearer $bearer" 127.0.0.1:18297/hello)" = 200
cat > proofs.lua <<'LUA'
-- One pre-made proof per request: thread k of n sends lines k, k+n, k+2n...
local counter = 0
function setup(thread)
  counter = counter + 1
  thread:set("id", counter)
end
function init(args)
  id = tonumber(wrk.thread:get("id"))
  step = tonumber(args[1])
  token = args[2]
  scheme = args[3] or "DPoP"
  proofs = {}
  for line in io.lines("proofs.txt") do proofs[#proofs + 1] = line end
  i = id - step
end
function request()
  i = i + step
  return wrk.format("GET", "/hello", { ["Authorization"] = scheme .. " " .. token, ["DPoP"] = proofs[i] })
end
LUA
# "RPS P99_MS" of one run (bench/lib.sh; a run with a non-2xx answer is refused).
one() { wrk_run -t2 -c64 -d"${seconds}s" "$@" | cut -d' ' -f1,2; }
echo "wrk -t2 -c64 -d${seconds}s, $runs runs; DPoP: a fresh ES256 proof per request (median run by ratio)"
rows=()
for _ in $(seq 1 "$runs"); do
  read -r brps bp99 < <(one -H "authorization: Bearer $bearer" http://127.0.0.1:18297/hello)
  # Enough proofs for the run at the Bearer rate (DPoP is slower), made just before (iat).
  "$root/target/release/dpop" proofs "$(python3 -c "print(int($brps * $seconds * 1.2) + 1000)")" \
    GET http://127.0.0.1:18297/hello "$bound" > proofs.txt
  read -r drps dp99 < <(one -s proofs.lua http://127.0.0.1:18297 -- 2 "$bound")
  # Control: the same Lua script and header sizes, the Bearer token (the route ignores DPoP for
  # it), so what wrk's Lua and the bigger request cost is not charged to DPoP.
  read -r crps cp99 < <(one -s proofs.lua http://127.0.0.1:18297 -- 2 "$bearer" Bearer)
  rows+=("$(python3 -c "print(f'{$drps/$brps:.2f} {$drps/$crps:.2f} $drps $dp99 $brps $bp99 $crps $cp99')")")
done
printf '%s\n' "${rows[@]}" | sort -n | sed -n "$(( (runs + 1) / 2 ))p" | {
  read -r ratio cratio drps dp99 brps bp99 crps cp99
  echo "resource server /hello: DPoP $drps req/s (p99 $dp99 ms); Bearer $brps req/s (p99 $bp99 ms): ratio $ratio; Bearer through the same Lua script and headers $crps req/s (p99 $cp99 ms): ratio $cratio"
}
echo "  all runs (ratio, ratio to the Lua control, DPoP rps, p99, Bearer rps, p99, control rps, p99):"
printf '    %s\n' "${rows[@]}"
"$root/target/release/dpop" refresh http://127.0.0.1:18298 "${REFRESHES:-1000}"
"$root/target/release/dpop" verify 5000
