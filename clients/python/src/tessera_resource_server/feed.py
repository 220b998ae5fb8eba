"""Following Tessera's revocation feed, as tessera-axum's feed.rs does, step for step: a snapshot
of what is in force, then the Server-Sent Events stream from its cursor (Last-Event-ID); when
the stream breaks, a poll from the cursor (nothing is missed while reconnecting) and a new
stream, with backoff. A ``reset``, or a cursor Tessera no longer knows (404; 400 from older
versions), starts over from a snapshot."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import TYPE_CHECKING, Any

import httpx

from .revocations import Revocations, UnreadableEntry

if TYPE_CHECKING:
    from .verifier import Tessera

log = logging.getLogger("tessera_resource_server")

FETCH_TIMEOUT = 10.0
MAX_PAGE_BYTES = 4 * 1024 * 1024
MAX_LINE = 64 * 1024
PRUNE_EVERY = 10.0


class _Reset(Exception):
    pass


class _Broken(Exception):
    pass


def _now_ms() -> int:
    return int(time.time() * 1000)


class Feed:
    def __init__(self, t: Tessera) -> None:
        self.t = t
        self.cursor: str | None = None
        self.connected = False
        self.blocked = False
        self.last_contact: float | None = None
        self.stale_logged = False
        self.reconnects = 0
        self.snapshot_loaded = False
        self._last_prune = time.monotonic()

    def silent_ms(self) -> int | None:
        if self.last_contact is None:
            return None
        return int((time.monotonic() - self.last_contact) * 1000)

    def heard(self) -> None:
        self.last_contact = time.monotonic()
        if self.stale_logged:
            self.stale_logged = False
            log.info("Tessera's revocation feed is reachable again")

    def lost(self, why: str) -> None:
        if self.t.is_stale():
            if not self.stale_logged:
                self.stale_logged = True
                policy = (
                    "still accepting tokens: revocations made meanwhile are NOT applied"
                    if self.t.on_stale == "accept"
                    else "refusing every token with 503 until it is back"
                )
                log.error("Tessera's revocation feed is unreachable (%s); %s", why, policy)
        else:
            log.warning("Tessera's revocation feed dropped (%s); catching up and reconnecting", why)

    async def run(self, http: httpx.AsyncClient) -> None:
        backoff = 0.1
        cap = self.t.poll_interval
        while True:
            if self.cursor is None:
                try:
                    await self.snapshot(http)
                    self.snapshot_loaded = True
                    self.t._update_ready()
                except (_Broken, UnreadableEntry) as e:
                    self.lost(str(e) or "an entry this version cannot apply")
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, cap)
                    continue
            try:
                await self.stream(http)
                outcome: Exception = _Broken("stream: closed by Tessera")
            except (_Reset, _Broken, UnreadableEntry) as e:
                outcome = e
            finally:
                self.connected = False
            if isinstance(outcome, _Reset):
                log.warning("Tessera no longer knows our feed cursor; taking a fresh snapshot")
                self.cursor = None
                continue
            if self._reset_backoff:
                backoff = 0.1
            self.lost(str(outcome) or "an entry this version cannot apply")
            self.reconnects += 1
            # Catch up by polling before waiting, so a stream that keeps failing still delivers.
            try:
                await self.poll(http)
            except _Reset:
                self.cursor = None
            except (_Broken, UnreadableEntry) as e:
                self.lost(str(e) or "an entry this version cannot apply")
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, cap)

    async def page(self, http: httpx.AsyncClient, after: str | None) -> dict[str, Any]:
        params = {"after": after} if after is not None else None
        try:
            async with http.stream(
                "GET",
                f"{self.t.base_url}/auth/revocations",
                params=params,
                headers={"x-api-key": self.t._key},
                timeout=FETCH_TIMEOUT,
            ) as res:
                if res.status_code in (400, 404) and after is not None:
                    raise _Reset()
                if res.status_code == 401:
                    raise _Broken("feed: Tessera refused the resource-server key (401)")
                if res.status_code != 200:
                    raise _Broken(f"feed: status {res.status_code}")
                body = bytearray()
                async for chunk in res.aiter_bytes():
                    body += chunk
                    if len(body) > MAX_PAGE_BYTES:
                        raise _Broken("feed page: answer too large")
        except httpx.HTTPError as e:
            raise _Broken(f"feed: {type(e).__name__}") from None
        try:
            page = json.loads(body)
        except ValueError:
            raise _Broken("feed: unreadable page") from None
        if (
            not isinstance(page, dict)
            or not isinstance(page.get("cursor"), str)
            or not isinstance(page.get("revocations"), list)
        ):
            raise _Broken("feed: unreadable page")
        return page

    async def snapshot(self, http: httpx.AsyncClient) -> None:
        fresh = Revocations()
        after: str | None = None
        while True:
            try:
                page = await self.page(http, after)
            except _Reset:
                raise _Broken("feed: cursor refused during a snapshot") from None
            for e in page["revocations"]:
                try:
                    fresh.apply(e)
                except UnreadableEntry:
                    self.blocked = True
                    raise
            after = page["cursor"]
            if page.get("more") is not True:
                break
        fresh.prune(_now_ms())
        self.t.revoked = fresh
        self.blocked = False
        self.cursor = after
        self.heard()

    def apply(self, entry: Any, event_id: str | None) -> None:
        """Applies one entry and moves past it; one this version cannot apply is never skipped."""
        try:
            self.t.revoked.apply(entry)
        except UnreadableEntry:
            self.blocked = True
            raise
        self.blocked = False
        self.cursor = event_id if event_id is not None else entry["id"]

    async def poll(self, http: httpx.AsyncClient) -> None:
        while True:
            page = await self.page(http, self.cursor)
            for e in page["revocations"]:
                self.apply(e, None)
            self.cursor = page["cursor"]
            self.heard()
            if page.get("more") is not True:
                return

    async def stream(self, http: httpx.AsyncClient) -> None:
        self._reset_backoff = False
        headers = {
            "x-api-key": self.t._key,
            "accept": "text/event-stream",
            "last-event-id": self.cursor or "",
        }
        timeout = httpx.Timeout(FETCH_TIMEOUT, read=self.t.stream_idle_timeout)
        try:
            async with http.stream(
                "GET", f"{self.t.base_url}/auth/revocations/stream", headers=headers, timeout=timeout
            ) as res:
                if res.status_code == 400:
                    raise _Reset()
                if res.status_code == 401:
                    raise _Broken("stream: Tessera refused the resource-server key (401)")
                if res.status_code != 200:
                    raise _Broken(f"stream: status {res.status_code}")
                # Answering is not enough to count as heard from.
                self.connected = True
                parser = SseParser()
                async for chunk in res.aiter_bytes():
                    for event, data, event_id in parser.push(chunk):
                        if event == "revocation":
                            try:
                                entry = json.loads(data)
                            except ValueError:
                                raise _Broken("stream: an entry that is not JSON") from None
                            self.apply(entry, event_id)
                        elif event == "reset":
                            raise _Reset()
                    # Only a chunk applied in full counts as hearing from Tessera.
                    self.heard()
                    self._reset_backoff = True
                    if time.monotonic() - self._last_prune >= PRUNE_EVERY:
                        self.t.revoked.prune(_now_ms())
                        self._last_prune = time.monotonic()
        except httpx.ReadTimeout:
            raise _Broken("stream: silent for too long") from None
        except httpx.HTTPError as e:
            raise _Broken(f"stream: {type(e).__name__}") from None

    _reset_backoff = False


class SseParser:
    """Server-Sent Events: (event, data, id) per blank-line dispatch; a line longer than any
    entry could be is an error, not a growing buffer."""

    def __init__(self) -> None:
        self._buffer = ""
        self._event = ""
        self._data: str | None = None
        self._id: str | None = None

    def push(self, chunk: bytes) -> list[tuple[str, str, str | None]]:
        self._buffer += chunk.decode("utf-8", errors="replace")
        out: list[tuple[str, str, str | None]] = []
        while True:
            i = min((j for j in (self._buffer.find("\n"), self._buffer.find("\r")) if j >= 0), default=-1)
            if i < 0:
                break
            if self._buffer[i] == "\r" and i + 1 == len(self._buffer):
                break  # maybe the first half of \r\n
            width = 2 if self._buffer[i] == "\r" and self._buffer[i + 1] == "\n" else 1
            line, self._buffer = self._buffer[:i], self._buffer[i + width :]
            if line == "":
                if self._data is not None:
                    out.append((self._event or "message", self._data, self._id))
                self._event, self._data, self._id = "", None, None
            elif not line.startswith(":"):
                name, _, value = line.partition(":")
                value = value[1:] if value.startswith(" ") else value
                if name == "event":
                    self._event = value
                elif name == "data":
                    self._data = value if self._data is None else f"{self._data}\n{value}"
                elif name == "id":
                    self._id = value
        if len(self._buffer) > MAX_LINE:
            raise _Broken("stream: a line too long to be an entry")
        return out
