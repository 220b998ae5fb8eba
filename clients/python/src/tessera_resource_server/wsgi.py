"""WSGI (Flask, Django): wrap a WSGI app (or one view's) so that it runs only for an authorized
request, with the identity in ``environ["tessera.auth"]``. The verifier's background work runs
in a thread: call ``tessera.start_in_thread()`` once at start-up."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from .errors import AuthError
from .guards import Guard
from .verifier import Tessera

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def environ_headers(environ: dict[str, Any]) -> dict[str, str]:
    """The request headers of a WSGI environ, by lower-case name."""
    out = {k[5:].replace("_", "-").lower(): v for k, v in environ.items() if k.startswith("HTTP_")}
    return out


class Protect:
    """``Protect(app, tessera, *guards)``: a WSGI app that verifies, runs the guards, then calls
    ``app`` with ``environ["tessera.auth"]`` set; refusals are answered as problem+json."""

    def __init__(self, app: WSGIApp, tessera: Tessera, *guards: Guard) -> None:
        self.app = app
        self.tessera = tessera
        self.guards = guards

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        try:
            auth = self.tessera.verify(
                environ_headers(environ), environ.get("REQUEST_METHOD", "GET"), environ.get("PATH_INFO", "/")
            )
            for guard in self.guards:
                guard(auth)
        except AuthError as e:
            status, headers, body = e.response()
            reason = {401: "Unauthorized", 403: "Forbidden", 503: "Service Unavailable"}.get(status, "Error")
            start_response(f"{status} {reason}", headers)
            return [body]
        environ["tessera.auth"] = auth
        return self.app(environ, start_response)
