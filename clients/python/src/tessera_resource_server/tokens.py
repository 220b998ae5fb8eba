"""One access token, verified as tessera_token verifies it: header (typ at+jwt, the pinned
algorithm, a known kid), signature (PyJWT's algorithm objects), then typed claims and times."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm

from .b64 import decode
from .revocations import issued_ms

MAX_TOKEN_BYTES = 8 * 1024
MAX_LEEWAY_SECS = 5
"""Clock skew tolerated on exp, iat and nbf at most."""


class TokenError(Exception):
    """Why a token failed: ``expired`` and ``unknown_key`` are acted on; the rest are invalid."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def algorithm_object(alg: str) -> Any:
    """PyJWT's verifier for a JOSE algorithm Tessera signs with (HS256 is never published)."""
    if alg in ("EdDSA", "Ed25519"):
        return OKPAlgorithm()
    if alg == "ES256":
        return ECAlgorithm(ECAlgorithm.SHA256)
    if alg == "RS256":
        return RSAAlgorithm(RSAAlgorithm.SHA256)
    raise ValueError(f"a resource server cannot verify {alg}")


@dataclass(frozen=True)
class Identity:
    """Who a verified, unrevoked access token speaks for."""

    sub: str
    sid: str
    ns: str
    roles: tuple[str, ...]
    perms: tuple[str, ...]
    auth_time: int
    """Unix seconds of the last proof of a credential (``iat`` for tokens that lack it)."""
    exp: int
    iat: int
    jti: str
    issued_at_ms: int
    acr: str | None
    amr: tuple[str, ...]
    jkt: str | None
    """The DPoP key thumbprint the token is bound to (``cnf.jkt``), if any."""
    ext: dict[str, Any] = field(default_factory=dict)

    def has_role(self, role: str) -> bool:
        return role in self.roles

    def has_permission(self, perm: str) -> bool:
        return perm in self.perms


def credential(value: str | None) -> tuple[str, str] | str:
    """An Authorization header as ``(scheme, token)``, or "missing" / "malformed"."""
    if value is None:
        return "missing"
    scheme, _, token = value.partition(" ")
    scheme = scheme.lower()
    if scheme not in ("bearer", "dpop"):
        return "missing"  # another scheme is no credential
    token = token.strip()
    if not token:
        return "malformed"
    return scheme, token


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _strings(v: Any) -> bool:
    return isinstance(v, list) and all(isinstance(x, str) for x in v)


def _typed(c: Any) -> None:
    ok = (
        isinstance(c, dict)
        and all(isinstance(c.get(k), str) for k in ("iss", "sub", "sid", "jti", "ns"))
        and _is_int(c.get("iat"))
        and _is_int(c.get("exp"))
        and _strings(c.get("roles"))
        and _strings(c.get("perms"))
        and ("aud" not in c or isinstance(c["aud"], str) or _strings(c["aud"]))
        and ("nbf" not in c or _is_int(c["nbf"]))
        and ("auth_time" not in c or _is_int(c["auth_time"]))
        and ("ext" not in c or isinstance(c["ext"], dict))
        and ("acr" not in c or isinstance(c["acr"], str))
        and ("amr" not in c or _strings(c["amr"]))
        and ("cnf" not in c or (isinstance(c["cnf"], dict) and isinstance(c["cnf"].get("jkt"), str)))
    )
    if not ok:
        raise TokenError("claims")


def verify_token(
    token: str,
    keys: dict[str, Any],
    algorithm: str,
    *,
    issuer: str,
    audience: tuple[str, ...],
    leeway_secs: int,
    now: int,
) -> dict[str, Any]:
    """Verifies ``token`` at unix second ``now``; its claims, or TokenError."""
    if len(token) > MAX_TOKEN_BYTES:
        raise TokenError("malformed")
    parts = token.split(".")
    if len(parts) != 3 or any(not p for p in parts):
        raise TokenError("malformed")
    h, p, s = (decode(x) for x in parts)
    if h is None or p is None or s is None:
        raise TokenError("encoding")
    try:
        header = json.loads(h)
    except (ValueError, UnicodeDecodeError):
        raise TokenError("header") from None
    if not isinstance(header, dict) or not all(
        isinstance(header.get(k), str) for k in ("typ", "alg", "kid")
    ):
        raise TokenError("header")
    if header["typ"].lower() not in ("at+jwt", "application/at+jwt"):
        raise TokenError("type")
    if header["alg"] != algorithm:
        raise TokenError("algorithm")
    key = keys.get(header["kid"])
    if key is None:
        raise TokenError("unknown_key")
    try:
        ok = algorithm_object(algorithm).verify(f"{parts[0]}.{parts[1]}".encode(), key, s)
    except Exception:
        ok = False
    if not ok:
        raise TokenError("signature")
    try:
        c = json.loads(p)
    except (ValueError, UnicodeDecodeError):
        raise TokenError("claims") from None
    _typed(c)
    leeway = min(max(leeway_secs, 0), MAX_LEEWAY_SECS)
    if c["iss"] != issuer:
        raise TokenError("issuer")
    aud = c.get("aud")
    auds = None if aud is None else [aud] if isinstance(aud, str) else aud
    if (auds is not None) if not audience else not any(a in audience for a in auds or []):
        raise TokenError("audience")
    if c["exp"] <= c["iat"]:
        raise TokenError("claims")
    if c["iat"] > now + leeway:
        raise TokenError("issued_in_future")
    if "nbf" in c and c["nbf"] > now + leeway:
        raise TokenError("not_yet_valid")
    if now >= c["exp"] + leeway:
        raise TokenError("expired")
    return c


def identity_of(c: dict[str, Any]) -> Identity:
    return Identity(
        sub=c["sub"],
        sid=c["sid"],
        ns=c["ns"],
        roles=tuple(c["roles"]),
        perms=tuple(c["perms"]),
        auth_time=c.get("auth_time", c["iat"]),
        exp=c["exp"],
        iat=c["iat"],
        jti=c["jti"],
        issued_at_ms=issued_ms(c["iat"], c["jti"]),
        acr=c.get("acr"),
        amr=tuple(c.get("amr", ())),
        jkt=c["cnf"]["jkt"] if "cnf" in c else None,
        ext=dict(c.get("ext", {})),
    )
