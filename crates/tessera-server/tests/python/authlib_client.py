"""Tessera's OAuth routes as authlib, a standard OAuth client library, uses them.

    python3 authlib_client.py BASE_URL RESOURCE_KEY ACCESS_TOKEN REFRESH_TOKEN

Prints one JSON object of what it saw; the Rust test (oauth_routes.rs) asserts on it.
"""
import json
import sys

import requests
from authlib.integrations.requests_client import OAuth2Session
from authlib.oauth2.rfc8414 import AuthorizationServerMetadata

base, key, access, refresh = sys.argv[1:5]
seen = {}

# RFC 8414: every check authlib's validate() makes, one by one, and which of them fail.
doc = requests.get(f"{base}/.well-known/oauth-authorization-server", timeout=10).json()
metadata = AuthorizationServerMetadata(doc)
failed = {}
for name in sorted(n for n in dir(metadata) if n.startswith("validate_")):
    try:
        getattr(metadata, name)()
    except Exception as e:  # authlib raises ValueError
        failed[name.removeprefix("validate_")] = str(e)
seen["metadata_failed"] = failed

# RFC 7662 as authlib sends it: a form, token_type_hint, the key as a client_secret_basic.
client = OAuth2Session(
    client_id="my-api",
    client_secret=key,
    token_endpoint_auth_method="client_secret_basic",
)
res = client.introspect_token(
    doc["introspection_endpoint"].replace(doc["issuer"], base),
    token=access,
    token_type_hint="access_token",
)
seen["introspect_status"] = res.status_code
seen["introspect_content_type"] = res.headers.get("content-type")
seen["introspection"] = res.json()
res = client.introspect_token(f"{base}/auth/introspect", token=access + "x")
seen["altered"] = res.json()
wrong = OAuth2Session(client_id="my-api", client_secret="not-the-key-0123456789")
res = wrong.introspect_token(f"{base}/auth/introspect", token=access)
seen["wrong_key_status"] = res.status_code

# RFC 7009: revocation with no client authentication, as the metadata says.
public = OAuth2Session(client_id="my-app", token_endpoint_auth_method="none")
res = public.revoke_token(f"{base}/auth/revoke", token=refresh, token_type_hint="refresh_token")
seen["revoke_status"] = res.status_code
res = client.introspect_token(f"{base}/auth/introspect", token=access)
seen["after_revoke"] = res.json()

print(json.dumps(seen))
