"""The verifier: keys from the JWKS and revocations from the feed, kept current in the
background (an asyncio task in an ASGI app, a thread with its own event loop under WSGI); each
request is checked locally, with no I/O unless a token names a key not seen yet."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import httpx

from .dpop import ALGORITHMS, PROOF_MAX_AGE_SECS, DpopError, ReplayCache, verify_proof
from .errors import AuthError
from .feed import Feed
from .revocations import Revocations
from .tokens import (
    MAX_LEEWAY_SECS,
    Identity,
    TokenError,
    algorithm_object,
    credential,
    identity_of,
    verify_token,
)

log = logging.getLogger("tessera_resource_server")

VERIFIED_CAPACITY = 20_000
JWKS_TIMEOUT = 5.0
MAX_JWKS_BYTES = 256 * 1024
_VERIFIABLE = ("EdDSA", "Ed25519", "ES256", "RS256")


def _header(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    if value is not None:
        return value
    for k, v in headers.items():
        if k.lower() == name:
            return v
    return None


class Tessera:
    """A Tessera verifier for one API.

    ``await tessera.start()`` inside a running event loop (an ASGI app's lifespan), or
    ``tessera.start_in_thread()`` for a WSGI app; then ``verify`` (sync) or ``averify``.
    """

    def __init__(
        self,
        url: str,
        key: str,
        *,
        issuer: str | None = None,
        audience: str | list[str] | None = None,
        algorithm: str | None = None,
        leeway_secs: int = 5,
        stale_after: float = 60.0,
        on_stale: str = "refuse",
        public_url: str | None = None,
        jwks_refresh: float = 300.0,
        kid_refetch: float = 1.0,
        poll_interval: float = 5.0,
        stream_idle_timeout: float = 35.0,
    ) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"Tessera URL {url!r}: an http or https URL")
        if not key:
            raise ValueError("the resource-server key is empty")
        if algorithm == "HS256":
            raise ValueError("HS256 keys are never published: a resource server cannot verify them")
        if leeway_secs > MAX_LEEWAY_SECS:
            raise ValueError("leeway_secs: at most 5")
        if on_stale not in ("refuse", "accept"):
            raise ValueError('on_stale: "refuse" or "accept"')
        self.base_url = url.rstrip("/")
        self._key = key
        self.issuer = issuer or self.base_url
        self.audience: tuple[str, ...] = (
            () if audience is None else (audience,) if isinstance(audience, str) else tuple(audience)
        )
        self.algorithm = algorithm
        self.leeway_secs = leeway_secs
        self.stale_after = stale_after
        self.on_stale = on_stale
        self.public_url = public_url.rstrip("/") if public_url else None
        self.jwks_refresh = jwks_refresh
        self.kid_refetch = kid_refetch
        self.poll_interval = poll_interval
        self.stream_idle_timeout = stream_idle_timeout

        self.revoked = Revocations()
        self.feed = Feed(self)
        self._keys: dict[str, Any] = {}
        self._keys_loaded = False
        self._ready = False
        self._ready_event = threading.Event()
        self._verified: dict[str, Identity] = {}
        self._replays = ReplayCache()
        self._jwks_fetches = 0
        self._last_kid_fetch = float("-inf")
        self._inflight: asyncio.Future[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._http: httpx.AsyncClient | None = None
        self.stats = {
            "accepted": 0,
            "refused": 0,
            "refused_revoked": 0,
            "refused_unavailable": 0,
            "stale_accepted": 0,
        }

    def __repr__(self) -> str:  # never the key
        return f"Tessera({self.base_url!r})"

    # ---- background work ----

    async def start(self) -> None:
        """Starts the background work on the running event loop (returns at once)."""
        self._loop = asyncio.get_running_loop()
        self._http = httpx.AsyncClient(headers={"user-agent": "tessera-resource-server-python"})
        self._tasks = [
            asyncio.create_task(self._maintain_keys()),
            asyncio.create_task(self.feed.run(self._http)),
        ]

    def start_in_thread(self) -> None:
        """Starts the background work in a daemon thread with its own event loop (WSGI)."""
        started = threading.Event()

        def run() -> None:
            loop = asyncio.new_event_loop()
            asyncio.set_event_loop(loop)
            loop.run_until_complete(self.start())
            started.set()
            loop.run_forever()

        threading.Thread(target=run, name="tessera-feed", daemon=True).start()
        started.wait()

    async def aclose(self) -> None:
        for t in self._tasks:
            t.cancel()
        if self._http is not None:
            await self._http.aclose()

    async def ready(self) -> None:
        """Returns once the keys and the first revocation snapshot are loaded."""
        while not self._ready:
            await asyncio.sleep(0.02)

    def wait_ready(self, timeout: float | None = None) -> bool:
        """Blocks until ready (or ``timeout`` seconds); whether it is."""
        return self._ready_event.wait(timeout)

    def _update_ready(self) -> None:
        if self._keys_loaded and self.feed.snapshot_loaded and not self._ready:
            self._ready = True
            self._ready_event.set()

    async def _load_keys(self) -> None:
        assert self._http is not None
        try:
            res = await self._http.get(f"{self.base_url}/.well-known/jwks.json", timeout=JWKS_TIMEOUT)
        except httpx.HTTPError as e:
            raise RuntimeError(f"JWKS fetch: {type(e).__name__}") from None
        if res.status_code != 200:
            raise RuntimeError(f"JWKS fetch: status {res.status_code}")
        if len(res.content) > MAX_JWKS_BYTES:
            raise RuntimeError("JWKS fetch: answer too large")
        try:
            doc = json.loads(res.content)
            jwks = doc["keys"]
            assert isinstance(jwks, list)
        except (ValueError, KeyError, TypeError, AssertionError):
            raise RuntimeError("JWKS: no keys array") from None
        if self.algorithm is None:
            found = {k.get("alg") for k in jwks if isinstance(k, dict)} & set(_VERIFIABLE)
            if len(found) != 1:
                raise RuntimeError(f"JWKS names {len(found)} algorithms; pin one with algorithm=")
            self.algorithm = found.pop()
        algo = algorithm_object(self.algorithm)
        keys: dict[str, Any] = {}
        for jwk in jwks:
            if not isinstance(jwk, dict) or jwk.get("alg") != self.algorithm or "d" in jwk:
                continue
            kid = jwk.get("kid")
            if not isinstance(kid, str) or not kid:
                continue
            try:
                keys[kid] = algo.from_jwk(json.dumps(jwk))
            except Exception:
                continue  # a key we cannot read verifies nothing
        if not keys:
            raise RuntimeError(f"JWKS: no usable {self.algorithm} key")
        self._keys = keys
        self._verified = {}
        self._jwks_fetches += 1

    async def _maintain_keys(self) -> None:
        backoff = 0.1
        while True:
            try:
                await self._load_keys()
                break
            except RuntimeError as e:
                log.warning("cannot load Tessera's keys yet (%s); retrying", e)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
        self._keys_loaded = True
        self._update_ready()
        while True:
            await asyncio.sleep(self.jwks_refresh)
            retry = 1.0
            while True:  # the old keys stay in use until a fetch succeeds
                try:
                    await self._load_keys()
                    break
                except RuntimeError as e:
                    log.warning("JWKS refresh failed (%s); keeping the keys we have", e)
                    await asyncio.sleep(retry)
                    retry = min(retry * 2, self.jwks_refresh)

    async def _refetch_for_unknown_kid(self) -> None:
        """At most once per ``kid_refetch``, one fetch at a time that every waiter shares."""
        if self._inflight is not None:
            await asyncio.shield(self._inflight)
            return
        if time.monotonic() - self._last_kid_fetch < self.kid_refetch:
            return
        self._last_kid_fetch = time.monotonic()
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._inflight = fut
        try:
            await self._load_keys()
        except RuntimeError as e:
            log.warning("JWKS fetch for an unknown kid failed: %s", e)
        finally:
            self._inflight = None
            fut.set_result(None)

    # ---- state ----

    def is_stale(self) -> bool:
        """The feed stopped at an entry this version cannot apply, or has been silent too long."""
        if self.feed.blocked:
            return True
        silent = self.feed.silent_ms()
        return not self.feed.connected and silent is not None and silent > self.stale_after * 1000

    def is_ready(self) -> bool:
        """Whether tokens can be verified now: ready, and the feed not stale."""
        return self._ready and not self.is_stale()

    def status(self) -> dict[str, Any]:
        """The verifier's state and counters (the same names as tessera-axum's Status)."""
        return {
            "ready": self._ready,
            "feed_connected": self.feed.connected,
            "feed_silent_ms": self.feed.silent_ms(),
            "stale": self.is_stale(),
            "feed_blocked": self.feed.blocked,
            "cursor": self.feed.cursor,
            "revocations": len(self.revoked),
            **self.stats,
            "jwks_fetches": self._jwks_fetches,
            "feed_reconnects": self.feed.reconnects,
        }

    # ---- verification ----

    def verify(self, headers: Mapping[str, str], method: str = "GET", url: str = "/") -> Identity:
        """Verifies a request's token (and its DPoP proof, for a bound token): the identity, or
        AuthError. ``url`` is the request's path (or full URL). For sync code (WSGI): an unknown
        key is fetched on the background thread's loop."""

        def refetch() -> None:
            loop = self._loop
            if loop is None or not loop.is_running():
                return
            try:
                running = asyncio.get_running_loop()
            except RuntimeError:
                running = None
            if running is loop:
                return  # called on the loop itself: use averify
            asyncio.run_coroutine_threadsafe(self._refetch_for_unknown_kid(), loop).result(JWKS_TIMEOUT + 1)

        return self._counted(lambda: self._check(headers, method, url, refetch))

    async def averify(
        self, headers: Mapping[str, str], method: str = "GET", url: str = "/"
    ) -> Identity:
        """``verify`` for async code (ASGI)."""
        try:
            return self._counted(lambda: self._check(headers, method, url, None))
        except _NeedKeys:
            await self._refetch_for_unknown_kid()
            return self._counted(lambda: self._check(headers, method, url, lambda: None))

    def _counted(self, check: Any) -> Identity:
        try:
            auth = check()
        except AuthError as e:
            self.stats["refused"] += 1
            if e.code == "session_revoked":
                self.stats["refused_revoked"] += 1
            elif e.code == "unavailable":
                self.stats["refused_unavailable"] += 1
            raise
        self.stats["accepted"] += 1
        return auth

    def _check(self, headers: Mapping[str, str], method: str, url: str, refetch: Any) -> Identity:
        cred = credential(_header(headers, "authorization"))
        if cred == "missing":
            raise AuthError("missing_token")
        if cred == "malformed":
            raise AuthError("invalid_token")
        if not self._ready:
            raise AuthError("unavailable")
        scheme, token = cred
        now = int(time.time())
        auth = self._verified.get(token)
        if auth is not None:
            if now >= auth.exp + self.leeway_secs:
                raise AuthError("token_expired")
        else:
            auth = identity_of(self._verify_token(token, now, refetch))
            if len(self._verified) >= VERIFIED_CAPACITY:
                self._verified = {}
            self._verified[token] = auth
        self._check_binding(headers, method, url, token, auth, scheme == "dpop", now)
        if self.revoked.refuses(auth.sid, auth.sub, auth.ns, auth.issued_at_ms):
            raise AuthError("session_revoked")
        if self.is_stale():
            if self.on_stale == "refuse":
                raise AuthError("unavailable")
            self.stats["stale_accepted"] += 1
        return auth

    def _verify_token(self, token: str, now: int, refetch: Any) -> dict[str, Any]:
        def attempt() -> dict[str, Any]:
            return verify_token(
                token,
                self._keys,
                self.algorithm or "",
                issuer=self.issuer,
                audience=self.audience,
                leeway_secs=self.leeway_secs,
                now=now,
            )

        try:
            try:
                return attempt()
            except TokenError as e:
                if e.reason != "unknown_key":
                    raise
                if refetch is None:
                    raise _NeedKeys() from None
                refetch()  # maybe Tessera rotated keys since we last looked
                return attempt()
        except TokenError as e:
            raise AuthError("token_expired" if e.reason == "expired" else "invalid_token") from None

    def _check_binding(
        self,
        headers: Mapping[str, str],
        method: str,
        url: str,
        token: str,
        auth: Identity,
        dpop: bool,
        now: int,
    ) -> None:
        """A DPoP-bound token (cnf.jkt) is good only as ``DPoP`` with a proof by its key."""
        if auth.jkt is None:
            if dpop:
                raise AuthError.dpop("this token is not DPoP-bound: send it as Bearer")
            return
        if not dpop:
            raise AuthError("invalid_token")
        if self.public_url is None:
            raise AuthError.dpop("this API has no public URL to check DPoP proofs against")
        proof = _header(headers, "dpop")
        if proof is None:
            raise AuthError.dpop("a DPoP-bound token needs a DPoP proof")
        path = urlsplit(url).path or "/"
        try:
            p = verify_proof(
                proof,
                method=method,
                url=f"{self.public_url}{path}",
                access_token=token,
                now=now,
                max_age_secs=PROOF_MAX_AGE_SECS,
                algorithms=ALGORITHMS,
            )
        except DpopError:
            raise AuthError.dpop("the DPoP proof does not check out") from None
        if p.jkt != auth.jkt:
            raise AuthError.dpop("the proof's key is not the token's")
        if not self._replays.claim(f"{p.jkt}.{p.jti}", now):
            raise AuthError.dpop("the DPoP proof was used before")


class _NeedKeys(Exception):
    """averify: the token names a key not loaded yet."""
