#!/usr/bin/env bash
# Installs the Python peers into bench/peers/python/.venv (git-ignored), at pinned versions.
set -euo pipefail
cd "$(dirname "$0")"
python3 -m venv .venv
.venv/bin/pip install --quiet --disable-pip-version-check -r requirements.txt
echo "python peers installed in $(pwd)/.venv"
