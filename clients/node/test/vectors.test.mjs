// The shared vectors (vectors/*.json at the repository's root), which tessera-revocation,
// tessera-token and the Python library run too: every verifier must agree.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";

import { Revocations, UnreadableEntry, issuedMs } from "../src/revocations.js";
import { verifyProof, thumbprint, DpopError } from "../src/dpop.js";

const root = new URL("../../../vectors/", import.meta.url);
const revocation = JSON.parse(readFileSync(new URL("revocation.json", root), "utf8"));
const dpop = JSON.parse(readFileSync(new URL("dpop.json", root), "utf8"));

test("revocation vectors: every case", () => {
  assert.ok(revocation.cases.length >= 20);
  for (const c of revocation.cases) {
    const r = new Revocations();
    for (const e of c.entries) r.apply(e);
    if (c.prune_at_ms !== undefined) r.prune(c.prune_at_ms);
    const t = c.token;
    assert.equal(r.refuses(t.sid, t.sub, t.ns, t.issued_ms), c.refused, c.name);
  }
});

test("revocation vectors: unreadable entries are refused, never skipped", () => {
  assert.ok(revocation.unreadable.length >= 5);
  for (const u of revocation.unreadable) {
    const r = new Revocations();
    assert.throws(() => r.apply(u.entry), UnreadableEntry, u.name);
    assert.equal(r.size, 0, u.name);
  }
});

test("revocation vectors: issue instants", () => {
  for (const i of revocation.issued) assert.equal(issuedMs(i.iat, i.jti), i.issued_ms, i.name);
});

test("DPoP vectors: thumbprints", () => {
  for (const t of dpop.thumbprints) assert.equal(thumbprint(t.jwk), t.jkt, t.source);
});

test("DPoP vectors: every proof's verdict", async () => {
  assert.ok(dpop.proofs.length >= 9);
  for (const v of dpop.proofs) {
    const check = {
      method: v.check.method,
      url: v.check.url,
      accessToken: v.check.access_token,
      now: v.check.now,
      maxAgeSecs: v.check.max_age_secs,
      algorithms: v.check.algorithms,
    };
    if (v.verdict === "valid") {
      const p = await verifyProof(v.proof, check);
      assert.equal(p.jkt, v.jkt, v.name);
      if (v.jti) assert.equal(p.jti, v.jti, v.name);
    } else {
      await assert.rejects(verifyProof(v.proof, check), (e) => e instanceof DpopError && e.reason === v.verdict, v.name);
    }
  }
});
