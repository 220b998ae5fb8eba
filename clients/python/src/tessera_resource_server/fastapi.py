"""FastAPI (and Starlette): a dependency that hands a handler the identity, and the exception
handler that answers refusals as problem+json. FastAPI is not a dependency of this package: this
module imports it only when used."""


from collections.abc import Awaitable, Callable
from typing import Any

from .errors import AuthError
from .guards import Guard
from .tokens import Identity
from .verifier import Tessera


def install(app: Any, tessera: Tessera) -> None:
    """Answers AuthError as problem+json, and runs the verifier with the app (FastAPI or
    Starlette ``app``): start on start-up, stop on shutdown."""
    from starlette.responses import Response

    async def handler(_request: Any, e: AuthError) -> Any:
        status, headers, body = e.response()
        return Response(body, status_code=status, headers=dict(headers))

    app.add_exception_handler(AuthError, handler)
    app.router.on_startup.append(tessera.start)
    app.router.on_shutdown.append(tessera.aclose)


def require(tessera: Tessera, *guards: Guard) -> Callable[[Any], Awaitable[Identity]]:
    """A dependency: ``auth: Identity = Depends(require(tessera, Require.permission("admin")))``."""
    from starlette.requests import Request

    async def dependency(request: Request) -> Identity:
        auth = await tessera.averify(request.headers, request.method, request.url.path)
        for guard in guards:
            guard(auth)
        return auth

    return dependency
