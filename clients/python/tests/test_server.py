"""The library against a real Tessera (the Rust test ``library_tests.rs`` starts the binary and
passes TESSERA_URL, TESSERA_RESOURCE_KEY and TESSERA_ADMIN_KEY; without them these skip): the
ASGI and WSGI adapters called as servers call them, and the sync and async verify."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import time

import httpx
import pytest

from tessera_resource_server import AuthError, Require, Tessera
from tessera_resource_server.asgi import Protect as AsgiProtect
from tessera_resource_server.wsgi import Protect as WsgiProtect

URL = os.environ.get("TESSERA_URL")
KEY = os.environ.get("TESSERA_RESOURCE_KEY", "")
ADMIN = os.environ.get("TESSERA_ADMIN_KEY", "")
needs_tessera = pytest.mark.skipif(not URL, reason="needs TESSERA_URL (run through cargo test)")
_n = [0]


def register() -> dict:
    _n[0] += 1
    res = httpx.post(
        f"{URL}/auth/register",
        json={"email": f"py-lib-{os.getpid()}-{_n[0]}@example.com", "password": "correct horse battery staple 1"},
    )
    assert res.status_code == 201
    return res.json()


def sub_of(token: str) -> str:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))["sub"]


@pytest.fixture(scope="module")
def threaded() -> Tessera:
    t = Tessera(URL or "http://unused", KEY or "unused")
    t.start_in_thread()
    assert t.wait_ready(10)
    return t


@needs_tessera
def test_wsgi_accepts_refuses_and_sees_a_logout_within_a_second(threaded: Tessera) -> None:
    tokens = register()

    def view(environ, start_response):
        start_response("200 OK", [("content-type", "text/plain")])
        return [environ["tessera.auth"].sub.encode()]

    app = WsgiProtect(view, threaded)

    def call(auth: str | None) -> tuple[str, dict, bytes]:
        seen = {}

        def start_response(status, headers):
            seen["status"], seen["headers"] = status, dict(headers)

        environ = {"REQUEST_METHOD": "GET", "PATH_INFO": "/hello"}
        if auth:
            environ["HTTP_AUTHORIZATION"] = auth
        body = b"".join(app(environ, start_response))
        return seen["status"], seen["headers"], body

    status, _, body = call(f"Bearer {tokens['access_token']}")
    assert status == "200 OK" and body.decode() == sub_of(tokens["access_token"])
    status, headers, body = call(None)
    assert status.startswith("401") and headers["content-type"] == "application/problem+json"
    assert json.loads(body)["code"] == "missing_token"
    status, _, body = call(f"Bearer {tokens['access_token']}x")
    assert json.loads(body)["code"] == "invalid_token"

    assert httpx.post(f"{URL}/auth/logout", headers={"authorization": f"Bearer {tokens['access_token']}"}).status_code == 204
    started = time.monotonic()
    while True:
        status, _, body = call(f"Bearer {tokens['access_token']}")
        if status.startswith("401"):
            assert json.loads(body)["code"] == "session_revoked"
            break
        assert time.monotonic() - started < 1.0, "the logout never arrived"
        time.sleep(0.005)


@needs_tessera
def test_sync_verify_sees_a_ban_and_guards_refuse(threaded: Tessera) -> None:
    a, b = register(), register()
    auth = threaded.verify({"Authorization": f"Bearer {a['access_token']}"}, "GET", "/x")
    assert auth.acr == "aal1" and auth.auth_time > 0
    with pytest.raises(AuthError) as e:
        Require.permission("admin")(auth)
    assert e.value.status == 403
    with pytest.raises(AuthError) as e:
        Require.acr("aal2")(auth)
    assert 'acr_values="aal2"' in (e.value.challenge or "")
    res = httpx.post(f"{URL}/admin/users/{sub_of(a['access_token'])}/ban", headers={"x-api-key": ADMIN}, json={})
    assert res.status_code == 200
    started = time.monotonic()
    while True:
        try:
            threaded.verify({"authorization": f"Bearer {a['access_token']}"})
        except AuthError as err:
            assert err.code == "session_revoked"
            break
        assert time.monotonic() - started < 1.0
        time.sleep(0.005)
    threaded.verify({"authorization": f"Bearer {b['access_token']}"})


@needs_tessera
def test_asgi_protect_and_averify_on_an_event_loop() -> None:
    async def run() -> None:
        t = Tessera(URL or "", KEY)
        await t.start()
        await asyncio.wait_for(t.ready(), 10)
        tokens = register()

        async def inner(scope, receive, send):
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": scope["tessera.auth"].sid.encode()})

        app = AsgiProtect(inner, t, Require.token())
        sent: list[dict] = []

        async def send(message):
            sent.append(message)

        headers = [(b"authorization", f"Bearer {tokens['access_token']}".encode())]
        await app({"type": "http", "method": "GET", "path": "/hello", "headers": headers}, None, send)
        assert sent[0]["status"] == 200
        sent.clear()
        await app({"type": "http", "method": "GET", "path": "/hello", "headers": []}, None, send)
        assert sent[0]["status"] == 401
        assert (b"content-type", b"application/problem+json") in sent[0]["headers"]
        assert t.status()["refused"] == 1
        await t.aclose()

    asyncio.run(run())


def test_the_key_never_shows_in_repr() -> None:
    t = Tessera("http://127.0.0.1:1", "a-secret-resource-key")
    assert "a-secret-resource-key" not in repr(t)


def test_guards_on_their_own() -> None:
    from tessera_resource_server.tokens import identity_of

    now = int(time.time())
    auth = identity_of(
        {"sub": "u", "sid": "s", "ns": "web", "roles": ["r"], "perms": [], "iat": now, "exp": now + 60,
         "jti": "j", "auth_time": now - 301}
    )
    with pytest.raises(AuthError) as e:
        Require.recent_authentication(300)(auth)
    assert "max_age=300" in (e.value.challenge or "")
    Require.recent_authentication(302)(auth)
    Require.acr("aal1")(auth)  # no acr counts as aal1
    with pytest.raises(AuthError):
        Require.acr("aal3")(auth)  # an unknown level is never met
    Require.role("r")(auth)
    with pytest.raises(AuthError):
        Require.role("x")(auth)


@needs_tessera
def test_fastapi_dependency_and_problem_json() -> None:
    fastapi = pytest.importorskip("fastapi")
    from fastapi.testclient import TestClient

    from tessera_resource_server.fastapi import install, require

    t = Tessera(URL or "", KEY)
    app = fastapi.FastAPI()
    install(app, t)

    @app.get("/hello")
    async def hello(auth=fastapi.Depends(require(t))):  # noqa: B008
        return {"sub": auth.sub}

    @app.get("/admin")
    async def admin(auth=fastapi.Depends(require(t, Require.permission("admin")))):  # noqa: B008
        return {"ok": True}

    tokens = register()
    bearer = {"authorization": f"Bearer {tokens['access_token']}"}
    with TestClient(app) as client:
        started = time.monotonic()
        while not t.is_ready():
            assert time.monotonic() - started < 10
            time.sleep(0.02)
        res = client.get("/hello", headers=bearer)
        assert res.status_code == 200 and res.json()["sub"] == sub_of(tokens["access_token"])
        res = client.get("/hello")
        assert res.status_code == 401 and res.headers["content-type"] == "application/problem+json"
        assert res.json()["code"] == "missing_token"
        res = client.get("/admin", headers=bearer)
        assert res.status_code == 403 and "insufficient_scope" in res.headers["www-authenticate"]
