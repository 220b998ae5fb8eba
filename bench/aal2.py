"""Signs in with a second factor, for the benchmarks: enrols a TOTP factor for an existing
user, then logs in with the password and a TOTP code. Prints the aal2 token response's access
and refresh tokens, one per line.

    python3 bench/aal2.py http://127.0.0.1:PORT EMAIL PASSWORD
"""
import base64
import hashlib
import hmac
import json
import struct
import sys
import time
import urllib.error
import urllib.request


def call(base, path, body, token=None):
    req = urllib.request.Request(base + path, json.dumps(body).encode(), method="POST")
    req.add_header("content-type", "application/json")
    if token:
        req.add_header("authorization", "Bearer " + token)
    try:
        with urllib.request.urlopen(req) as res:
            return res.status, json.load(res)
    except urllib.error.HTTPError as e:
        return e.code, json.load(e)


def totp(secret, step):
    """RFC 6238 with SHA-1, 6 digits, 30 s steps (API.md §9)."""
    key = base64.b32decode(secret + "=" * (-len(secret) % 8))
    mac = hmac.new(key, struct.pack(">Q", step), hashlib.sha1).digest()
    offset = mac[-1] & 0x0F
    code = struct.unpack(">I", mac[offset:offset + 4])[0] & 0x7FFFFFFF
    return f"{code % 1_000_000:06d}"


def main():
    base, email, password = sys.argv[1:4]
    status, first = call(base, "/auth/login", {"email": email, "password": password})
    assert status == 200, first
    status, enrolled = call(base, "/auth/mfa/totp", {"name": "bench"}, first["access_token"])
    assert status == 201, enrolled
    step = int(time.time()) // 30
    factor = enrolled["factor"]["id"]
    status, confirmed = call(base, f"/auth/mfa/totp/{factor}/confirm",
                             {"code": totp(enrolled["secret"], step)}, first["access_token"])
    assert status == 200, confirmed
    status, challenge = call(base, "/auth/login", {"email": email, "password": password})
    assert status == 401 and challenge["code"] == "mfa_required", challenge
    # The next step's code: the one just used for confirming cannot be used again.
    status, tokens = call(base, "/auth/mfa/verify",
                          {"mfa_token": challenge["mfa_token"], "code": totp(enrolled["secret"], step + 1)})
    assert status == 200 and tokens.get("acr") != "aal1", tokens
    print(tokens["access_token"])
    print(tokens["refresh_token"])


main()
