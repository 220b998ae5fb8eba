// One access token, verified as tessera_token verifies it: header (typ at+jwt, the one pinned
// algorithm, a known kid), signature (jose), then typed claims and their times.
import { compactVerify } from "jose";

import { decode } from "./b64.js";
import { issuedMs } from "./revocations.js";

const MAX_TOKEN_BYTES = 8 * 1024;
/** Clock skew tolerated on `exp`, `iat` and `nbf` at most, in seconds. */
export const MAX_LEEWAY_SECS = 5;

/** Why a token failed; "expired" and "unknown_key" are acted on, the rest are invalid_token. */
export class TokenError extends Error {
  constructor(reason) {
    super(reason);
    this.reason = reason;
  }
}

/** What an Authorization header holds: {scheme: "bearer"|"dpop", token} | "missing" | "malformed". */
export function credential(value) {
  if (value === undefined || value === null) return "missing";
  if (typeof value !== "string") return "malformed";
  const i = value.indexOf(" ");
  const scheme = (i < 0 ? value : value.slice(0, i)).toLowerCase();
  if (scheme !== "bearer" && scheme !== "dpop") return "missing"; // another scheme is no credential
  const token = i < 0 ? "" : value.slice(i + 1).trim();
  if (token === "") return "malformed";
  return { scheme, token };
}

const str = (v) => typeof v === "string";
const int = (v) => Number.isSafeInteger(v);
const strings = (v) => Array.isArray(v) && v.every(str);

/** The claims' types as Tessera issues them: anything else is a malformed token. */
function typed(c) {
  const ok =
    c !== null &&
    typeof c === "object" &&
    [c.iss, c.sub, c.sid, c.jti, c.ns].every(str) &&
    int(c.iat) &&
    int(c.exp) &&
    strings(c.roles) &&
    strings(c.perms) &&
    (c.aud === undefined || str(c.aud) || strings(c.aud)) &&
    (c.nbf === undefined || int(c.nbf)) &&
    (c.auth_time === undefined || int(c.auth_time)) &&
    (c.ext === undefined || (c.ext !== null && typeof c.ext === "object" && !Array.isArray(c.ext))) &&
    (c.acr === undefined || str(c.acr)) &&
    (c.amr === undefined || strings(c.amr)) &&
    (c.cnf === undefined || (c.cnf !== null && typeof c.cnf === "object" && str(c.cnf.jkt)));
  if (!ok) throw new TokenError("claims");
}

/**
 * Verifies `token` at unix second `now` against `keys` (a KeyCache) and `opts`
 * ({issuer, audience: string[], leewaySecs}); returns the claims.
 */
export async function verifyToken(token, keys, opts, now) {
  if (token.length > MAX_TOKEN_BYTES) throw new TokenError("malformed");
  const parts = token.split(".");
  if (parts.length !== 3 || parts.some((p) => p === "")) throw new TokenError("malformed");
  const [h, p, s] = parts.map(decode);
  if (!h || !p || !s) throw new TokenError("encoding");
  let header;
  try {
    header = JSON.parse(h.toString("utf8"));
  } catch {
    throw new TokenError("header");
  }
  if (!str(header?.typ) || !str(header.alg) || !str(header.kid)) throw new TokenError("header");
  const typ = header.typ.toLowerCase();
  if (typ !== "at+jwt" && typ !== "application/at+jwt") throw new TokenError("type");
  if (header.alg !== keys.algorithm) throw new TokenError("algorithm");
  const key = keys.keys.get(header.kid);
  if (!key) throw new TokenError("unknown_key");
  try {
    await compactVerify(token, key, { algorithms: [keys.algorithm] });
  } catch {
    throw new TokenError("signature");
  }
  let c;
  try {
    c = JSON.parse(p.toString("utf8"));
  } catch {
    throw new TokenError("claims");
  }
  typed(c);
  const leeway = Math.min(Math.max(opts.leewaySecs, 0), MAX_LEEWAY_SECS);
  if (c.iss !== opts.issuer) throw new TokenError("issuer");
  const aud = c.aud === undefined ? null : str(c.aud) ? [c.aud] : c.aud;
  if (opts.audience.length === 0 ? aud !== null : !(aud ?? []).some((a) => opts.audience.includes(a)))
    throw new TokenError("audience");
  if (c.exp <= c.iat) throw new TokenError("claims");
  if (c.iat > now + leeway) throw new TokenError("issued_in_future");
  if (c.nbf !== undefined && c.nbf > now + leeway) throw new TokenError("not_yet_valid");
  if (now >= c.exp + leeway) throw new TokenError("expired");
  return c;
}

/** The identity a verified token speaks for (what handlers get as `auth`). */
export function identityOf(c) {
  return Object.freeze({
    sub: c.sub,
    sid: c.sid,
    ns: c.ns,
    roles: Object.freeze([...c.roles]),
    perms: Object.freeze([...c.perms]),
    // Tokens of a Tessera before API.md v1.1 have no auth_time: iat stands in (as in tessera-axum).
    authTime: c.auth_time ?? c.iat,
    ext: c.ext ?? {},
    exp: c.exp,
    iat: c.iat,
    jti: c.jti,
    issuedAtMs: issuedMs(c.iat, c.jti),
    acr: c.acr ?? null,
    amr: c.amr ?? [],
    jkt: c.cnf?.jkt ?? null,
  });
}
