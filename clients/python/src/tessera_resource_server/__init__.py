"""Protect a Python API with Tessera's access tokens: verified locally from the JWKS, revoked
sessions refused within milliseconds through the revocation feed, DPoP-bound tokens checked.

    tessera = Tessera("https://auth.example.com", key=os.environ["TESSERA_RESOURCE_KEY"])
    await tessera.start()                    # ASGI lifespan; tessera.start_in_thread() for WSGI
    auth = await tessera.averify(headers, "GET", "/hello")   # or tessera.verify(...) in sync code
"""

from .dpop import DpopError, ReplayCache, access_token_hash, normalize_htu, thumbprint, verify_proof
from .errors import AuthError
from .guards import Guard, Require
from .revocations import Revocations, UnreadableEntry, issued_ms
from .tokens import Identity
from .verifier import Tessera

__all__ = [
    "AuthError",
    "DpopError",
    "Guard",
    "Identity",
    "ReplayCache",
    "Require",
    "Revocations",
    "Tessera",
    "UnreadableEntry",
    "access_token_hash",
    "issued_ms",
    "normalize_htu",
    "thumbprint",
    "verify_proof",
]
__version__ = "0.1.0"
