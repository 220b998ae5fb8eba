"""The revocations in force, by the rules of vectors/revocation.json: the rules Tessera's nodes
and tessera-axum apply (tessera-revocation)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any


class UnreadableEntry(Exception):
    """An entry this version cannot apply: never skip one, it may revoke the token at hand."""


@dataclass
class _Cutoff:
    up_to: int
    until: int


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


class Revocations:
    """What is revoked: sessions, and per-user, per-user-and-namespace, per-namespace and global
    cutoffs on the issue instant."""

    def __init__(self) -> None:
        self.sessions: dict[str, int] = {}
        self.users: dict[str, _Cutoff] = {}
        self.user_namespaces: dict[tuple[str, str], _Cutoff] = {}
        self.namespaces: dict[str, _Cutoff] = {}
        self.all: _Cutoff | None = None

    def apply(self, e: Any) -> None:
        """Applies one feed entry (idempotent); raises UnreadableEntry if it cannot."""
        if not isinstance(e, dict) or not isinstance(e.get("id"), str) or not _is_int(e.get("until_ms")):
            raise UnreadableEntry(e)
        until = e["until_ms"]

        def need(name: str) -> str:
            v = e.get(name)
            if not isinstance(v, str):
                raise UnreadableEntry(e)
            return v

        def cutoff() -> _Cutoff:
            v = e.get("issued_up_to_ms")
            if not _is_int(v):
                raise UnreadableEntry(e)
            return _Cutoff(v, until)

        kind = e.get("kind")
        if kind == "session":
            sid = need("session_id")
            self.sessions[sid] = max(self.sessions.get(sid, until), until)
        elif kind == "user":
            _raise(self.users, need("user_id"), cutoff())
        elif kind == "user_namespace":
            _raise(self.user_namespaces, (need("user_id"), need("namespace")), cutoff())
        elif kind == "namespace":
            _raise(self.namespaces, need("namespace"), cutoff())
        elif kind == "all":
            c = cutoff()
            if self.all is None:
                self.all = c
            else:
                self.all = _Cutoff(max(self.all.up_to, c.up_to), max(self.all.until, c.until))
        else:
            raise UnreadableEntry(e)

    def refuses(self, sid: str, sub: str, ns: str, issued_ms: int) -> bool:
        """Whether a token of session ``sid``, user ``sub``, namespace ``ns``, issued at
        ``issued_ms`` (unix ms), is refused."""

        def covers(c: _Cutoff | None) -> bool:
            return c is not None and issued_ms <= c.up_to

        return (
            sid in self.sessions
            or covers(self.all)
            or covers(self.users.get(sub))
            or covers(self.namespaces.get(ns))
            or (bool(self.user_namespaces) and covers(self.user_namespaces.get((sub, ns))))
        )

    def prune(self, now_ms: int) -> None:
        """Forgets what can no longer refuse an unexpired token (kept while until_ms >= now)."""
        self.sessions = {k: v for k, v in self.sessions.items() if v >= now_ms}
        self.users = {k: c for k, c in self.users.items() if c.until >= now_ms}
        self.user_namespaces = {k: c for k, c in self.user_namespaces.items() if c.until >= now_ms}
        self.namespaces = {k: c for k, c in self.namespaces.items() if c.until >= now_ms}
        if self.all is not None and self.all.until < now_ms:
            self.all = None

    def __len__(self) -> int:
        return (
            len(self.sessions)
            + len(self.users)
            + len(self.user_namespaces)
            + len(self.namespaces)
            + (1 if self.all is not None else 0)
        )


def _raise(table: dict[Any, _Cutoff], key: Any, c: _Cutoff) -> None:
    old = table.get(key)
    table[key] = c if old is None else _Cutoff(max(old.up_to, c.up_to), max(old.until, c.until))


_UUID7 = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-7[0-9a-fA-F]{3}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


def issued_ms(iat: int, jti: str) -> int:
    """A token's issue instant in unix ms: its UUIDv7 ``jti``'s timestamp when that falls in the
    second ``iat`` names, else the end of that second (a cutoff within it still applies)."""
    if isinstance(jti, str) and _UUID7.match(jti):
        ms = int(jti.replace("-", "")[:12], 16)
        if ms // 1000 == iat:
            return ms
    return iat * 1000 + 999
