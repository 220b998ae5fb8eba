#!/usr/bin/env bash
# Runs every fuzz target for SECONDS seconds each (default 60), one after another, with
# cargo-fuzz (cargo install cargo-fuzz). Not part of CI. Crashes land in fuzz/artifacts/<target>/.
#
#   fuzz/run.sh 600
set -euo pipefail
cd "$(dirname "$0")"
seconds=${1:-60}
# cargo-fuzz wants nightly for its sanitizer flags; without a sanitizer, stable works with this.
export RUSTC_BOOTSTRAP=1
for target in jws_verify jwks_parse refresh_token headers config; do
  mkdir -p "corpus/$target"
  echo "== $target, ${seconds}s"
  cargo fuzz run --sanitizer none "$target" "corpus/$target" -- \
    -max_total_time="$seconds" -max_len=8192 -print_final_stats=1 2>&1 | tail -n 12
done
