"""A resource server protected by Tessera, with the interface every example shares (the same
flags and routes as tessera-axum's ``resource_server`` and the Node example):

    python examples/resource_server.py --tessera http://127.0.0.1:8080 --listen 127.0.0.1:3000 \\
        --key "$TESSERA_RESOURCE_KEY" [--issuer ISS] [--audience AUD] [--public-url URL] [--stale-after 60]

GET /healthz (200 once keys and revocations are loaded and the feed is not stale, else 503),
GET /hello (any valid token), /admin-only (permission admin), /recent (auth_time within 300 s),
/mfa (acr aal2). A plain ASGI app served by uvicorn (``pip install 'clients/python[examples]'``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys

import uvicorn

from tessera_resource_server import Require, Tessera
from tessera_resource_server.asgi import Protect


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--tessera", required=True)
    p.add_argument("--listen", default="127.0.0.1:3000")
    p.add_argument("--key", default=os.environ.get("TESSERA_RESOURCE_KEY"))
    p.add_argument("--issuer")
    p.add_argument("--audience", action="append")
    p.add_argument("--public-url")
    p.add_argument("--stale-after", type=float, default=60.0)
    args = p.parse_args()
    if not args.key:
        sys.exit("a key is needed: --key KEY or TESSERA_RESOURCE_KEY")
    host, _, port = args.listen.rpartition(":")
    tessera = Tessera(
        args.tessera,
        args.key,
        issuer=args.issuer,
        audience=args.audience,
        stale_after=args.stale_after,
        public_url=args.public_url or f"http://{args.listen}",
    )

    async def respond(send, status: int, body: object, ctype: str = "application/json") -> None:
        await send({"type": "http.response.start", "status": status, "headers": [(b"content-type", ctype.encode())]})
        await send({"type": "http.response.body", "body": json.dumps(body).encode()})

    async def hello(scope, receive, send) -> None:
        a = scope["tessera.auth"]
        await respond(send, 200, {"sub": a.sub, "sid": a.sid, "roles": list(a.roles), "perms": list(a.perms)})

    async def ok(scope, receive, send) -> None:
        await respond(send, 200, {"ok": True})

    routes = {
        "/hello": Protect(hello, tessera),
        "/admin-only": Protect(ok, tessera, Require.permission("admin")),
        "/recent": Protect(ok, tessera, Require.recent_authentication(300)),
        "/mfa": Protect(ok, tessera, Require.acr("aal2")),
    }

    async def app(scope, receive, send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await tessera.start()
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await tessera.aclose()
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        if scope["method"] == "GET" and scope["path"] == "/healthz":
            await respond(send, 200 if tessera.is_ready() else 503, tessera.status())
            return
        route = routes.get(scope["path"]) if scope["method"] == "GET" else None
        if route is None:
            problem = {"type": "urn:tessera:problem:not_found", "status": 404, "code": "not_found", "title": "No such route"}
            await respond(send, 404, problem, "application/problem+json")
            return
        await route(scope, receive, send)

    uvicorn.run(app, host=host, port=int(port), log_level="warning", lifespan="on")


if __name__ == "__main__":
    main()
