# Helpers shared by the wrk benchmarks (sourced, not run): wrk's figures, starting Tessera,
# a process's CPU time. Every figure a script prints is paired with its ceiling in the same run.
command -v wrk >/dev/null || { echo "wrk is not installed (apt-get install wrk)" >&2; exit 1; }
BENCH_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

# Prints "RPS P99_MS REQUESTS" for one wrk run; refuses (exit 1) a run with non-2xx answers or
# socket errors, so a broken path cannot be measured as a fast one.
wrk_run() {
  wrk --latency "$@" | python3 -c '
import re, sys
t = sys.stdin.read()
if "Non-2xx" in t or "Socket errors" in t:
    sys.exit("wrk saw errors:\n" + t)
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", t).group(1))
n = int(re.search(r"(\d+) requests in", t).group(1))
m = re.search(r"99%\s+([\d.]+)(us|ms|s)\b", t)
p99 = float(m.group(1)) * {"us": 0.001, "ms": 1, "s": 1000}[m.group(2)]
print(f"{rps:.0f} {p99:.2f} {n}")'
}

# User + system CPU of a process, in ticks of 10 ms (/proc/PID/stat fields 14 and 15).
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

# The median of the numbers on stdin (the middle one, or the lower middle).
median() { sort -g | awk '{a[NR] = $0} END {print a[int((NR + 1) / 2)]}'; }

# start_tessera DIR PORT [VAR=value...]: `tessera serve` in DIR on PORT with those variables
# (login throttling off, so the benchmark can sign in as often as it needs); sets TESSERA_PID
# once /healthz answers.
start_tessera() {
  local dir=$1 port=$2
  shift 2
  mkdir -p "$dir"
  (cd "$dir" && exec env TESSERA_RATE_LIMIT__LOGIN_PER_IP_PER_MINUTE=0 \
    TESSERA_RATE_LIMIT__FAILED_LOGINS_PER_ACCOUNT=0 "$@" \
    "$BENCH_ROOT/target/release/tessera" serve --listen "127.0.0.1:$port" 2>"$dir/tessera.log") &
  TESSERA_PID=$!
  for _ in $(seq 1 100); do
    curl -fs "127.0.0.1:$port/healthz" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "tessera did not start on $port:" >&2
  cat "$dir/tessera.log" >&2
  return 1
}

# login PORT EMAIL PASSWORD FIELD: signs in, prints the token response's FIELD.
login() {
  curl -fs -X POST "127.0.0.1:$1/auth/login" -H 'content-type: application/json' \
    -d "{\"email\":\"$2\",\"password\":\"$3\"}" \
    | python3 -c "import json,sys; print(json.load(sys.stdin)['$4'])"
}
