// DPoP proofs (RFC 9449) for bound tokens, by the rules of vectors/dpop.json: the same checks as
// Tessera's own (tessera_token::dpop) and tessera-axum's, in the same order, with the same names.
import { createHash, timingSafeEqual } from "node:crypto";
import { compactVerify, importJWK } from "jose";

import { decode, encode } from "./b64.js";

const MAX_PROOF_BYTES = 4 * 1024;
/** Clock skew tolerated on a proof's `iat`, either way (seconds). */
export const PROOF_LEEWAY_SECS = 5;
/** A proof's `iat` may be this old (Tessera's default `dpop.proof_max_age`). */
export const PROOF_MAX_AGE_SECS = 60;
export const ALGORITHMS = ["ES256", "EdDSA", "Ed25519"];
const PUBLIC_MEMBERS = new Set(["kty", "crv", "x", "y", "alg", "use", "kid", "key_ops", "ext"]);

/** A refused proof; `reason` is one of the verdicts of vectors/dpop.json. */
export class DpopError extends Error {
  constructor(reason) {
    super(`DPoP proof refused: ${reason}`);
    this.name = "DpopError";
    this.reason = reason;
  }
}

const sha256 = (s) => encode(createHash("sha256").update(s).digest());

/** RFC 7638 thumbprint of a public P-256 or Ed25519 JWK (the members RFC 7638 names, in order). */
export function thumbprint(jwk) {
  if (jwk.kty === "EC") return sha256(`{"crv":"${jwk.crv}","kty":"EC","x":"${jwk.x}","y":"${jwk.y}"}`);
  return sha256(`{"crv":"${jwk.crv}","kty":"OKP","x":"${jwk.x}"}`);
}

/** `ath`: the access token's SHA-256, base64url. */
export const accessTokenHash = (token) => sha256(token);

/** The URL as `htu` compares it: scheme and host lower-cased, no default port, no query or fragment. */
export function normalizeHtu(url) {
  if (typeof url !== "string") return null;
  const bare = url.split(/[?#]/)[0];
  const sep = bare.indexOf("://");
  if (sep < 0) return null;
  const scheme = bare.slice(0, sep).toLowerCase();
  if (scheme !== "http" && scheme !== "https") return null;
  const rest = bare.slice(sep + 3);
  const slash = rest.indexOf("/");
  let authority = slash < 0 ? rest : rest.slice(0, slash);
  const path = slash < 0 ? "/" : rest.slice(slash);
  if (authority === "" || authority.includes("@")) return null;
  authority = authority.toLowerCase();
  const dflt = scheme === "https" ? ":443" : ":80";
  if (authority.endsWith(dflt)) authority = authority.slice(0, -dflt.length);
  return `${scheme}://${authority}${path}`;
}

function json(bytes, reason) {
  try {
    const v = JSON.parse(Buffer.from(bytes).toString("utf8"));
    if (v === null || typeof v !== "object" || Array.isArray(v)) throw new Error();
    return v;
  } catch {
    throw new DpopError(reason);
  }
}

function keyOf(jwk) {
  if (jwk === null || typeof jwk !== "object" || Array.isArray(jwk)) throw new DpopError("key");
  if (Object.keys(jwk).some((k) => !PUBLIC_MEMBERS.has(k))) throw new DpopError("key");
  const str = (k) => {
    if (typeof jwk[k] !== "string") throw new DpopError("key");
    return jwk[k];
  };
  const [kty, crv, x] = [str("kty"), str("crv"), str("x")];
  if (kty === "EC" && crv === "P-256") {
    const y = str("y");
    if (decode(x)?.length !== 32 || decode(y)?.length !== 32) throw new DpopError("key");
    return { jwk: { kty, crv, x, y }, kind: "EC" };
  }
  if (kty === "OKP" && crv === "Ed25519") {
    if (decode(x)?.length !== 32) throw new DpopError("key");
    return { jwk: { kty, crv, x }, kind: "OKP" };
  }
  throw new DpopError("key");
}

/**
 * Checks one proof (RFC 9449 §4.3) except replay and nonce freshness, which need state.
 * @param {string} proof
 * @param {{method: string, url: string, accessToken?: string, now: number, maxAgeSecs?: number, algorithms?: string[]}} check
 * @returns {Promise<{jkt: string, jti: string, iat: number, nonce?: string}>}
 */
export async function verifyProof(proof, check) {
  if (typeof proof !== "string" || proof.length > MAX_PROOF_BYTES) throw new DpopError("malformed");
  const parts = proof.split(".");
  if (parts.length !== 3) throw new DpopError("malformed");
  const [h, p, s] = parts.map(decode);
  if (!h || !p || !s) throw new DpopError("malformed");
  const header = json(h, "header");
  const names = Object.keys(header);
  if (names.some((k) => !["typ", "alg", "jwk"].includes(k)) || names.length !== 3) throw new DpopError("header");
  if (typeof header.typ !== "string" || typeof header.alg !== "string") throw new DpopError("header");
  if (header.jwk === null || typeof header.jwk !== "object" || Array.isArray(header.jwk)) throw new DpopError("header");
  if (header.typ.toLowerCase() !== "dpop+jwt") throw new DpopError("header");
  const algorithms = check.algorithms ?? ALGORITHMS;
  if (!ALGORITHMS.includes(header.alg) || !algorithms.includes(header.alg)) throw new DpopError("algorithm");
  const key = keyOf(header.jwk);
  const fits = key.kind === "EC" ? header.alg === "ES256" : header.alg !== "ES256";
  if (!fits) throw new DpopError("algorithm");
  let imported;
  try {
    imported = await importJWK(key.jwk, header.alg);
  } catch {
    throw new DpopError("key"); // not a point of the curve
  }
  try {
    await compactVerify(proof, imported, { algorithms: [header.alg] });
  } catch {
    throw new DpopError("signature");
  }
  const c = json(p, "claims");
  const optStr = (v) => v === undefined || v === null || typeof v === "string";
  if (typeof c.jti !== "string" || typeof c.htm !== "string" || typeof c.htu !== "string") throw new DpopError("claims");
  if (!Number.isSafeInteger(c.iat) || !optStr(c.ath) || !optStr(c.nonce)) throw new DpopError("claims");
  if (c.jti.length === 0 || c.jti.length > 256) throw new DpopError("claims");
  if (c.htm !== check.method) throw new DpopError("method");
  const want = normalizeHtu(check.url);
  if (want === null || normalizeHtu(c.htu) !== want) throw new DpopError("url");
  const age = check.now - c.iat;
  const maxAge = check.maxAgeSecs ?? PROOF_MAX_AGE_SECS;
  if (age > maxAge + PROOF_LEEWAY_SECS || age < -PROOF_LEEWAY_SECS) throw new DpopError("time");
  if (check.accessToken !== undefined) {
    const expected = Buffer.from(accessTokenHash(check.accessToken));
    const got = Buffer.from(typeof c.ath === "string" ? c.ath : "");
    if (got.length !== expected.length || !timingSafeEqual(got, expected)) throw new DpopError("access_token_hash");
  }
  return { jkt: thumbprint(key.jwk), jti: c.jti, iat: c.iat, nonce: c.nonce ?? undefined };
}

/** The proofs' `jti`s seen within their window: each is accepted once. */
export class ReplayCache {
  constructor(capacity = 200_000) {
    this.capacity = capacity;
    this.seen = new Map(); // key -> forget after (unix s)
  }

  /** false if `key` was seen and has not expired, or the cache is full of live entries. */
  claim(key, now) {
    if (this.seen.size >= this.capacity) {
      for (const [k, until] of this.seen) if (until <= now) this.seen.delete(k);
      if (this.seen.size >= this.capacity) return false;
    }
    const until = this.seen.get(key);
    if (until !== undefined && until > now) return false;
    this.seen.set(key, now + PROOF_MAX_AGE_SECS + 2 * PROOF_LEEWAY_SECS);
    return true;
  }
}
