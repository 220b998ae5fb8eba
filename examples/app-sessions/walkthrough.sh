#!/usr/bin/env bash
# Tessera behind your own sign-in, with curl and jq: your backend has checked the user (a
# passkey, an SSO assertion, a magic link) and asks Tessera for a session. Run it against a
# server: TESSERA=http://127.0.0.1:8080 KEY=$(cat tessera-data/admin.key) bash walkthrough.sh
set -euo pipefail
: "${TESSERA:?the server, e.g. http://127.0.0.1:8080}" "${KEY:?the admin API key}"
ADMIN=(-H "X-Api-Key: $KEY" -H "content-type: application/json")
JSON=(-H "content-type: application/json")

# 1. Once per user: an account for the identity your IdP vouches for. The password is random and
#    thrown away: this user never signs in with one.
EMAIL="sso-$RANDOM$RANDOM@example.com"
PASSWORD=$(head -c 32 /dev/urandom | base64)
USER_ID=$(curl -fsS "${ADMIN[@]}" "$TESSERA/admin/users" \
  -d "$(jq -n --arg e "$EMAIL" --arg p "$PASSWORD" '{email: $e, password: $p}')" | jq -r .id)
echo "user: $USER_ID"

# 2. The app's own data for this user, carried in every access token as `ext`.
curl -fsS "${ADMIN[@]}" -X PUT "$TESSERA/admin/users/$USER_ID/claims" \
  -d '{"claims": {"tenant": "acme", "plan": "pro"}}' | jq -c .claims

# 3. The user just passed your check: a session, with claims of its own and the user's device.
curl -fsS "${ADMIN[@]}" "$TESSERA/admin/sessions" -d "$(jq -n --arg u "$USER_ID" '{
  user_id: $u,
  claims: {idp: "okta", amr: ["hwk"]},
  ip: "203.0.113.7",
  user_agent: "Mozilla/5.0 (X11; Linux x86_64) Firefox/133.0"
}')" > session.json
ACCESS=$(jq -r .access_token session.json)
REFRESH=$(jq -r .refresh_token session.json)
echo "session: $(jq -r .session_id session.json), access token for $(jq -r .expires_in session.json) s"

# 4. Hand the tokens to your client. Your APIs verify the access token with the JWKS (or
#    tessera-axum); introspection shows what it carries, `ext` and `auth_time` included.
curl -fsS "${ADMIN[@]}" "$TESSERA/auth/introspect" -d "{\"token\": \"$ACCESS\"}" \
  | jq -c '{active, sub, ext, auth_time}'
curl -fsS -H "Authorization: Bearer $ACCESS" "$TESSERA/auth/me" | jq -c '.session | {ip, user_agent}'

# 5. It rotates like any session (the client does this when the access token runs out).
curl -fsS "${JSON[@]}" "$TESSERA/auth/refresh" -d "{\"refresh_token\": \"$REFRESH\"}" > session.json
REFRESH=$(jq -r .refresh_token session.json)

# 6. Sign-out from a library that speaks RFC 7009: always 200, and the session is over.
curl -fsS -o /dev/null -w "revoke: %{http_code}\n" "$TESSERA/auth/revoke" \
  --data-urlencode "token=$REFRESH" --data-urlencode "token_type_hint=refresh_token"
code=$(curl -sS "${JSON[@]}" "$TESSERA/auth/refresh" -d "{\"refresh_token\": \"$REFRESH\"}" | jq -r .code)
echo "refresh after revoke: $code"
[ "$code" = "session_revoked" ]

# 7. Libraries that discover from the issuer find the JWKS and the endpoints here.
curl -fsS "$TESSERA/.well-known/oauth-authorization-server" | jq -c '{issuer, jwks_uri, revocation_endpoint}'
rm -f session.json
echo "walk-through done"
