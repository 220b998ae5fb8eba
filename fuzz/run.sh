#!/usr/bin/env bash
# Runs every fuzz target (or those named after SECONDS) for SECONDS seconds each (default 60),
# one after another, with cargo-fuzz (cargo install cargo-fuzz). Not part of CI. Crashes land
# in fuzz/artifacts/<target>/. A target that fails to build stops the run.
#
#   fuzz/run.sh 600
#   fuzz/run.sh 600 headers config
set -euo pipefail
cd "$(dirname "$0")"
seconds=${1:-60}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(jws_verify jwks_parse refresh_token headers config)
# cargo-fuzz wants nightly for its sanitizer flags; without a sanitizer, stable works with this.
export RUSTC_BOOTSTRAP=1
for target in "${targets[@]}"; do
  mkdir -p "corpus/$target"
  echo "== $target, ${seconds}s"
  cargo fuzz build --sanitizer none "$target"
  cargo fuzz run --sanitizer none "$target" "corpus/$target" -- \
    -max_total_time="$seconds" -max_len=8192 -print_final_stats=1 2>&1 | tail -n 12
done
