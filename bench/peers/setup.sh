#!/usr/bin/env bash
# Installs every peer at pinned versions: the Python ones into python/.venv, better-auth into
# node/node_modules (both git-ignored). Safe to run again.
set -euo pipefail
cd "$(dirname "$0")"
python/setup.sh
node/setup.sh
