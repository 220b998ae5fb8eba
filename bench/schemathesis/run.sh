#!/usr/bin/env bash
# schemathesis (PyPI) against /openapi.json of a real Tessera on loopback, every check, bounded:
# MAX_EXAMPLES per operation (default 25). Prints schemathesis's report; exits non-zero on any
# failure. Needs target/debug/tessera (cargo build -p tessera-server) and
# `pip install schemathesis`.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
key="schemathesis-admin-key-0123456789"
port=${PORT:-18555}
# Mail on (to a port where nothing listens: the outbox just retries), and a WebAuthn RP ID, so
# the mail and passkey routes answer as in production rather than 501.
(cd "$work" && TESSERA_ADMIN_API_KEYS=$key TESSERA_RATE_LIMIT__LOGIN_PER_IP_PER_MINUTE=0 \
  TESSERA_WEBAUTHN__RP_ID=localhost TESSERA_WEBAUTHN__ORIGINS=http://localhost:$port \
  TESSERA_EMAIL__SMTP_URL=smtp://127.0.0.1:9 TESSERA_EMAIL__FROM=no-reply@tessera.test \
  TESSERA_PASSWORDS__ARGON2_MEMORY_KIB=1024 TESSERA_PASSWORDS__ARGON2_ITERATIONS=1 \
  exec "${TESSERA_BIN:-$root/target/debug/tessera}" serve --listen "127.0.0.1:$port" 2>"$work/tessera.log") &
for _ in $(seq 1 100); do curl -fs "127.0.0.1:$port/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
cd "$here"
# The account page's static files and the endless event stream are not API operations to fuzz.
schemathesis run "http://127.0.0.1:$port/openapi.json" --checks all \
  --max-examples "${MAX_EXAMPLES:-25}" -H "X-Api-Key: $key" \
  --exclude-path-regex '^/(|account(-mfa)?\.(css|js)|favicon\.svg)$' \
  --exclude-path /auth/revocations/stream
