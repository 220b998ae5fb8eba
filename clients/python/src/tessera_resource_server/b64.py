"""Strict base64url without padding, as JOSE has it: one spelling per value."""

from __future__ import annotations

import base64
import binascii
import re

_B64URL = re.compile(r"^[A-Za-z0-9_-]*$")


def decode(s: object) -> bytes | None:
    """The bytes of a base64url string, or None if it is not strictly one."""
    if not isinstance(s, str) or not _B64URL.match(s) or len(s) % 4 == 1:
        return None
    try:
        raw = base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))
    except (binascii.Error, ValueError):
        return None
    return raw if encode(raw) == s else None


def encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
