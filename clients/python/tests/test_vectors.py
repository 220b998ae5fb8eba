"""The shared vectors (vectors/*.json at the repository's root), which tessera-revocation,
tessera-token and the Node library run too: every verifier must agree."""

import json
from pathlib import Path

import pytest

from tessera_resource_server import DpopError, Revocations, UnreadableEntry, issued_ms, thumbprint, verify_proof

VECTORS = Path(__file__).resolve().parents[3] / "vectors"
REVOCATION = json.loads((VECTORS / "revocation.json").read_text())
DPOP = json.loads((VECTORS / "dpop.json").read_text())


@pytest.mark.parametrize("case", REVOCATION["cases"], ids=lambda c: c["name"])
def test_revocation_case(case):
    r = Revocations()
    for e in case["entries"]:
        r.apply(e)
    if "prune_at_ms" in case:
        r.prune(case["prune_at_ms"])
    t = case["token"]
    assert r.refuses(t["sid"], t["sub"], t["ns"], t["issued_ms"]) == case["refused"]


@pytest.mark.parametrize("case", REVOCATION["unreadable"], ids=lambda c: c["name"])
def test_unreadable_entries_are_refused_never_skipped(case):
    r = Revocations()
    with pytest.raises(UnreadableEntry):
        r.apply(case["entry"])
    assert len(r) == 0


@pytest.mark.parametrize("case", REVOCATION["issued"], ids=lambda c: c["name"])
def test_issue_instants(case):
    assert issued_ms(case["iat"], case["jti"]) == case["issued_ms"]


def test_the_vectors_are_all_there():
    assert len(REVOCATION["cases"]) >= 20 and len(REVOCATION["unreadable"]) >= 5
    assert len(DPOP["proofs"]) >= 9


@pytest.mark.parametrize("case", DPOP["thumbprints"], ids=lambda c: c["source"])
def test_thumbprints(case):
    assert thumbprint(case["jwk"]) == case["jkt"]


@pytest.mark.parametrize("case", DPOP["proofs"], ids=lambda c: c["name"])
def test_dpop_proof_verdicts(case):
    c = case["check"]
    kwargs = dict(
        method=c["method"],
        url=c["url"],
        now=c["now"],
        access_token=c.get("access_token"),
        max_age_secs=c["max_age_secs"],
        algorithms=c["algorithms"],
    )
    if case["verdict"] == "valid":
        p = verify_proof(case["proof"], **kwargs)
        assert p.jkt == case["jkt"]
        if "jti" in case:
            assert p.jti == case["jti"]
    else:
        with pytest.raises(DpopError) as e:
            verify_proof(case["proof"], **kwargs)
        assert e.value.reason == case["verdict"]
