// Tessera's public keys: loaded before the verifier is ready, refreshed in the background, and
// fetched at once when a token names a `kid` we do not know (a rotation on Tessera): at most
// once per `kidRefetchMs`, one fetch at a time, which every waiting request shares.
import { importJWK } from "jose";

import { readLimited } from "./http.js";

const FETCH_TIMEOUT_MS = 5_000;
const MAX_JWKS_BYTES = 256 * 1024;
/** Algorithms a resource server can verify (HS256 keys are never published). */
const VERIFIABLE = new Set(["EdDSA", "Ed25519", "ES256", "RS256"]);

export class KeyCache {
  constructor({ baseUrl, algorithm, kidRefetchMs, onLoad }) {
    this.url = `${baseUrl}/.well-known/jwks.json`;
    this.algorithm = algorithm ?? null; // pinned by the caller, else by the first JWKS
    this.kidRefetchMs = kidRefetchMs;
    this.onLoad = onLoad;
    this.keys = new Map(); // kid -> KeyLike
    this.fetches = 0;
    this.lastKidFetch = -Infinity;
    this.inflight = null;
  }

  /** Fetches the JWKS and swaps the key set in: keys that left it stop verifying at once. */
  async load() {
    const res = await fetch(this.url, { signal: AbortSignal.timeout(FETCH_TIMEOUT_MS) });
    if (!res.ok) throw new Error(`JWKS fetch: status ${res.status}`);
    const doc = JSON.parse(await readLimited(res, MAX_JWKS_BYTES, "JWKS fetch"));
    if (!Array.isArray(doc?.keys)) throw new Error("JWKS: no keys array");
    if (this.algorithm === null) {
      const found = [...new Set(doc.keys.map((k) => k?.alg).filter((a) => VERIFIABLE.has(a)))];
      if (found.length !== 1) throw new Error(`JWKS names ${found.length} algorithms; pin one with the algorithm option`);
      this.algorithm = found[0];
    }
    const keys = new Map();
    for (const jwk of doc.keys) {
      if (jwk?.alg !== this.algorithm || typeof jwk.kid !== "string" || jwk.kid === "") continue;
      if (jwk.d !== undefined) continue; // never a private key
      try {
        keys.set(jwk.kid, await importJWK(jwk, this.algorithm));
      } catch {
        // A key we cannot read verifies nothing.
      }
    }
    if (keys.size === 0) throw new Error(`JWKS: no usable ${this.algorithm} key`);
    this.keys = keys;
    this.fetches += 1;
    this.onLoad?.();
  }

  /** Fetches again for an unknown kid, unless one is under way (then waits for it) or rate-limited. */
  async refetchForUnknownKid() {
    if (this.inflight) return this.inflight;
    if (Date.now() - this.lastKidFetch < this.kidRefetchMs) return;
    this.lastKidFetch = Date.now();
    this.inflight = this.load()
      .catch((e) => console.warn(`tessera: JWKS fetch for an unknown kid failed: ${e.message}`))
      .finally(() => {
        this.inflight = null;
      });
    return this.inflight;
  }
}
