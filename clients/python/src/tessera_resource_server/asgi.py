"""ASGI: wrap an ASGI app (or one route's app) so that it runs only for an authorized request,
with the identity in ``scope["tessera.auth"]``; refusals are answered as problem+json."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from .errors import AuthError
from .guards import Guard
from .verifier import Tessera

Scope = MutableMapping[str, Any]
ASGIApp = Callable[[Scope, Callable[[], Awaitable[Any]], Callable[[Any], Awaitable[None]]], Awaitable[None]]


def _headers(scope: Scope) -> dict[str, str]:
    out: dict[str, str] = {}
    for k, v in scope.get("headers", []):
        name = k.decode("latin-1").lower()
        out.setdefault(name, v.decode("latin-1"))
    return out


async def send_error(send: Callable[[Any], Awaitable[None]], e: AuthError) -> None:
    status, headers, body = e.response()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(k.encode(), v.encode()) for k, v in headers],
        }
    )
    await send({"type": "http.response.body", "body": body})


class Protect:
    """``Protect(app, tessera, *guards)``: an ASGI app that verifies, runs the guards, then
    calls ``app`` with ``scope["tessera.auth"]`` set. Lifespan and websocket scopes pass
    through untouched."""

    def __init__(self, app: ASGIApp, tessera: Tessera, *guards: Guard) -> None:
        self.app = app
        self.tessera = tessera
        self.guards = guards

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        try:
            auth = await self.tessera.averify(_headers(scope), scope["method"], scope["path"])
            for guard in self.guards:
                guard(auth)
        except AuthError as e:
            await send_error(send, e)
            return
        scope["tessera.auth"] = auth
        await self.app(scope, receive, send)
