"""Guards: what a route needs beyond a valid token, as tessera-axum's ``Require``. Each is a
callable of the identity that raises the AuthError to answer with."""

from __future__ import annotations

import time
from collections.abc import Callable

from .errors import AuthError
from .tokens import Identity

Guard = Callable[[Identity], None]
_RANK = {"aal1": 1, "aal2": 2}


class Require:
    @staticmethod
    def token() -> Guard:
        """Any valid, unrevoked token."""
        return lambda auth: None

    @staticmethod
    def role(role: str) -> Guard:
        """The role ``role``; otherwise 403 insufficient_scope."""

        def guard(auth: Identity) -> None:
            if role not in auth.roles:
                raise AuthError.insufficient_scope(f"role {role}")

        return guard

    @staticmethod
    def permission(perm: str) -> Guard:
        """The permission ``perm``; otherwise 403 insufficient_scope."""

        def guard(auth: Identity) -> None:
            if perm not in auth.perms:
                raise AuthError.insufficient_scope(f"permission {perm}")

        return guard

    @staticmethod
    def recent_authentication(max_age_secs: int) -> Guard:
        """An authentication (``auth_time``) within ``max_age_secs``; otherwise 401
        insufficient_user_authentication with ``max_age`` (RFC 9470)."""

        def guard(auth: Identity) -> None:
            if int(time.time()) - auth.auth_time > max_age_secs:
                raise AuthError.not_recent(max_age_secs)

        return guard

    @staticmethod
    def acr(level: str) -> Guard:
        """A session of assurance ``level`` or higher (aal1 < aal2); an unknown level is never met."""

        def guard(auth: Identity) -> None:
            have = _RANK.get(auth.acr or "aal1", 0)
            need = _RANK.get(level, 0)
            if not (need > 0 and have >= need):
                raise AuthError.assurance(level)

        return guard
