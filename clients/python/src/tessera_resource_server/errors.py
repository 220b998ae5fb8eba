"""Why a request was refused: the codes, statuses, problem+json bodies and WWW-Authenticate
challenges of tessera-axum and Tessera itself. No error ever carries the token."""

from __future__ import annotations

import json

_TITLES = {
    "missing_token": "An access token is required",
    "invalid_token": "The access token is not valid",
    "token_expired": "The access token has expired",
    "session_revoked": "The session has been revoked",
    "insufficient_scope": "The access token does not allow this",
    "insufficient_user_authentication": "A more recent authentication is required",
    "invalid_dpop_proof": "Invalid DPoP proof",
    "unavailable": "Tokens cannot be checked right now",
}

_DEFAULT = object()


class AuthError(Exception):
    """A refusal with a stable ``code`` (API.md §2); ``response()`` is what to answer."""

    def __init__(
        self,
        code: str,
        *,
        status: int | None = None,
        detail: str | None = None,
        challenge: object = _DEFAULT,
        title: str | None = None,
    ) -> None:
        super().__init__(code)
        self.code = code
        if status is None:
            status = 403 if code == "insufficient_scope" else 503 if code == "unavailable" else 401
        self.status = status
        self.title = title or _TITLES.get(code, code)
        self.detail = detail
        if challenge is _DEFAULT:
            challenge = (
                None
                if code == "unavailable"
                else f'Bearer error="invalid_token", error_description="{code}"'
            )
        self.challenge: str | None = challenge  # type: ignore[assignment]

    def response(self) -> tuple[int, list[tuple[str, str]], bytes]:
        """``(status, headers, body)``: a problem+json answer (RFC 9457)."""
        body: dict[str, object] = {
            "type": f"urn:tessera:problem:{self.code}",
            "status": self.status,
            "code": self.code,
            "title": self.title,
        }
        if self.detail is not None:
            body["detail"] = self.detail
        headers = [("content-type", "application/problem+json"), ("cache-control", "no-store")]
        if self.challenge:
            headers.append(("www-authenticate", self.challenge))
        if self.code == "unavailable":
            headers.append(("retry-after", "5"))
        return self.status, headers, json.dumps(body).encode()

    @classmethod
    def insufficient_scope(cls, needed: str) -> AuthError:
        return cls(
            "insufficient_scope",
            detail=f"needs {needed}",
            challenge='Bearer error="insufficient_scope", error_description="insufficient_scope"',
        )

    @classmethod
    def not_recent(cls, max_age: int) -> AuthError:
        return cls(
            "insufficient_user_authentication",
            detail=f"sign in again: this needs an authentication within {max_age} s",
            challenge='Bearer error="insufficient_user_authentication", error_description="A more '
            f'recent authentication is required", max_age={max_age}',
        )

    @classmethod
    def assurance(cls, acr: str) -> AuthError:
        return cls(
            "insufficient_user_authentication",
            title="A stronger authentication is required",
            detail=f"this needs a session of assurance {acr}: sign in with a second factor",
            challenge='Bearer error="insufficient_user_authentication", error_description="A '
            f'stronger authentication is required", acr_values="{acr}"',
        )

    @classmethod
    def dpop(cls, why: str) -> AuthError:
        return cls(
            "invalid_dpop_proof",
            detail=why,
            challenge='DPoP error="invalid_dpop_proof", algs="ES256 EdDSA Ed25519"',
        )
