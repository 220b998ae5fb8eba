"""DPoP proofs (RFC 9449) for bound tokens, by the rules of vectors/dpop.json: the checks of
Tessera's own verifier (tessera_token::dpop) and tessera-axum, in the same order, with the same
verdict names. Signatures are checked by PyJWT's algorithm objects (cryptography)."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from dataclasses import dataclass
from typing import Any

from jwt.algorithms import ECAlgorithm, OKPAlgorithm

from .b64 import decode, encode

MAX_PROOF_BYTES = 4 * 1024
PROOF_LEEWAY_SECS = 5
"""Clock skew tolerated on a proof's ``iat``, either way."""
PROOF_MAX_AGE_SECS = 60
"""A proof's ``iat`` may be this old (Tessera's default ``dpop.proof_max_age``)."""
ALGORITHMS = ("ES256", "EdDSA", "Ed25519")
_PUBLIC_MEMBERS = {"kty", "crv", "x", "y", "alg", "use", "kid", "key_ops", "ext"}


class DpopError(Exception):
    """A refused proof; ``reason`` is one of the verdicts of vectors/dpop.json."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"DPoP proof refused: {reason}")
        self.reason = reason


@dataclass(frozen=True)
class Proof:
    jkt: str
    jti: str
    iat: int
    nonce: str | None


def _sha256(s: str) -> str:
    return encode(hashlib.sha256(s.encode()).digest())


def thumbprint(jwk: dict[str, str]) -> str:
    """RFC 7638 thumbprint of a public P-256 or Ed25519 JWK."""
    if jwk["kty"] == "EC":
        return _sha256(f'{{"crv":"{jwk["crv"]}","kty":"EC","x":"{jwk["x"]}","y":"{jwk["y"]}"}}')
    return _sha256(f'{{"crv":"{jwk["crv"]}","kty":"OKP","x":"{jwk["x"]}"}}')


def access_token_hash(token: str) -> str:
    """``ath``: the access token's SHA-256, base64url."""
    return _sha256(token)


def normalize_htu(url: object) -> str | None:
    """The URL as ``htu`` compares it: scheme and host lower-cased, no default port, no query or
    fragment, an empty path as ``/``; None if it is no absolute http(s) URL."""
    if not isinstance(url, str):
        return None
    bare = url.split("?", 1)[0].split("#", 1)[0]
    if "://" not in bare:
        return None
    scheme, rest = bare.split("://", 1)
    scheme = scheme.lower()
    if scheme not in ("http", "https"):
        return None
    i = rest.find("/")
    authority, path = (rest, "/") if i < 0 else (rest[:i], rest[i:])
    if not authority or "@" in authority:
        return None
    authority = authority.lower()
    default = ":443" if scheme == "https" else ":80"
    if authority.endswith(default):
        authority = authority[: -len(default)]
    return f"{scheme}://{authority}{path}"


def _object(raw: bytes, reason: str) -> dict[str, Any]:
    try:
        v = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise DpopError(reason) from None
    if not isinstance(v, dict):
        raise DpopError(reason)
    return v


def _key_of(jwk: Any) -> tuple[str, dict[str, str]]:
    if not isinstance(jwk, dict) or any(k not in _PUBLIC_MEMBERS for k in jwk):
        raise DpopError("key")
    kty, crv, x = jwk.get("kty"), jwk.get("crv"), jwk.get("x")
    if not all(isinstance(v, str) for v in (kty, crv, x)):
        raise DpopError("key")
    xb = decode(x)
    if kty == "EC" and crv == "P-256":
        y = jwk.get("y")
        yb = decode(y)
        if xb is None or yb is None or len(xb) != 32 or len(yb) != 32:
            raise DpopError("key")
        return "EC", {"kty": kty, "crv": crv, "x": x, "y": y}  # type: ignore[dict-item]
    if kty == "OKP" and crv == "Ed25519":
        if xb is None or len(xb) != 32:
            raise DpopError("key")
        return "OKP", {"kty": kty, "crv": crv, "x": x}  # type: ignore[dict-item]
    raise DpopError("key")


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def verify_proof(
    proof: str,
    *,
    method: str,
    url: str,
    now: int,
    access_token: str | None = None,
    max_age_secs: int = PROOF_MAX_AGE_SECS,
    algorithms: tuple[str, ...] | list[str] = ALGORITHMS,
) -> Proof:
    """Checks one proof (RFC 9449 §4.3) except replay and nonce freshness, which need state."""
    if not isinstance(proof, str) or len(proof) > MAX_PROOF_BYTES:
        raise DpopError("malformed")
    parts = proof.split(".")
    if len(parts) != 3:
        raise DpopError("malformed")
    h, p, s = (decode(x) for x in parts)
    if h is None or p is None or s is None:
        raise DpopError("malformed")
    header = _object(h, "header")
    if set(header) != {"typ", "alg", "jwk"}:
        raise DpopError("header")
    typ, alg, jwk = header["typ"], header["alg"], header["jwk"]
    if not isinstance(typ, str) or not isinstance(alg, str) or not isinstance(jwk, dict):
        raise DpopError("header")
    if typ.lower() != "dpop+jwt":
        raise DpopError("header")
    if alg not in ALGORITHMS or alg not in algorithms:
        raise DpopError("algorithm")
    kind, public = _key_of(jwk)
    if (kind == "EC") != (alg == "ES256"):
        raise DpopError("algorithm")
    algo = ECAlgorithm(ECAlgorithm.SHA256) if kind == "EC" else OKPAlgorithm()
    try:
        key = algo.from_jwk(json.dumps(public))
    except Exception:  # not a point of the curve
        raise DpopError("key") from None
    signing_input = f"{parts[0]}.{parts[1]}".encode()
    try:
        ok = algo.verify(signing_input, key, s)
    except Exception:
        ok = False
    if not ok:
        raise DpopError("signature")
    c = _object(p, "claims")
    jti, htm, htu, iat = c.get("jti"), c.get("htm"), c.get("htu"), c.get("iat")
    ath, nonce = c.get("ath"), c.get("nonce")
    if not (isinstance(jti, str) and isinstance(htm, str) and isinstance(htu, str) and _is_int(iat)):
        raise DpopError("claims")
    if not (ath is None or isinstance(ath, str)) or not (nonce is None or isinstance(nonce, str)):
        raise DpopError("claims")
    if not jti or len(jti) > 256:
        raise DpopError("claims")
    if htm != method:
        raise DpopError("method")
    want = normalize_htu(url)
    if want is None or normalize_htu(htu) != want:
        raise DpopError("url")
    age = now - iat
    if age > max_age_secs + PROOF_LEEWAY_SECS or age < -PROOF_LEEWAY_SECS:
        raise DpopError("time")
    if access_token is not None:
        expected = access_token_hash(access_token)
        if not isinstance(ath, str) or not hmac.compare_digest(ath.encode(), expected.encode()):
            raise DpopError("access_token_hash")
    return Proof(jkt=thumbprint(public), jti=jti, iat=iat, nonce=nonce)


class ReplayCache:
    """The proofs' ``jti``s seen within their window: each is accepted once."""

    def __init__(self, capacity: int = 200_000) -> None:
        self.capacity = capacity
        self._seen: dict[str, int] = {}
        self._lock = threading.Lock()

    def claim(self, key: str, now: int) -> bool:
        """False if ``key`` was seen and has not expired, or the cache is full of live entries."""
        with self._lock:
            if len(self._seen) >= self.capacity:
                self._seen = {k: t for k, t in self._seen.items() if t > now}
                if len(self._seen) >= self.capacity:
                    return False
            until = self._seen.get(key)
            if until is not None and until > now:
                return False
            self._seen[key] = now + PROOF_MAX_AGE_SECS + 2 * PROOF_LEEWAY_SECS
            return True
