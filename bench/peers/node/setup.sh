#!/usr/bin/env bash
# Installs better-auth (and better-sqlite3, built from source against the machine's Node.js
# headers) into bench/peers/node/node_modules (git-ignored), at the versions the lock file pins.
set -euo pipefail
cd "$(dirname "$0")"
if [ -d /usr/include/node ]; then
  # Build the native module against the installed headers instead of downloading them.
  export npm_config_nodedir=/usr
fi
npm ci --no-fund --no-audit --loglevel=error
node -e "require('better-sqlite3')" >/dev/null
echo "node peer installed in $(pwd)/node_modules"
