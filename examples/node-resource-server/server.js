// A Node API protected by Tessera, with no call to Tessera per request:
// tokens are verified locally with `jose` against Tessera's JWKS, and revocations are
// followed on Tessera's revocation feed (Server-Sent Events), so a logout or a ban is
// refused here within milliseconds. See docs/resource-servers.md.
//
//   TESSERA_RESOURCE_KEY=... node server.js --tessera http://127.0.0.1:8080 --listen 127.0.0.1:3001
//
// Routes: GET /hello (any valid token), GET /healthz (200 once keys and revocations are
// loaded and the feed is not stale).
import http from "node:http";
import { createRemoteJWKSet, errors, jwtVerify } from "jose";

const args = Object.fromEntries(
  process.argv.slice(2).flatMap((a, i, all) => (a.startsWith("--") ? [[a.slice(2), all[i + 1]]] : [])),
);
const KEY = process.env.TESSERA_RESOURCE_KEY;
if (!args.tessera || !KEY) {
  console.error("usage: TESSERA_RESOURCE_KEY=... node server.js --tessera URL [--listen HOST:PORT]");
  process.exit(2);
}
const BASE = args.tessera.replace(/\/+$/, "");
const [HOST, PORT] = (args.listen ?? "127.0.0.1:3001").split(/:(?=\d+$)/);
const VERIFY = {
  issuer: args.issuer ?? BASE, // Tessera's `issuer`: by default "http://" + its listen address
  ...(args.audience ? { audience: args.audience } : {}), // only if Tessera sets `audience`
  algorithms: [args.algorithm ?? "EdDSA"], // the one algorithm Tessera signs with, never more
  typ: "at+jwt",
  clockTolerance: 5, // seconds; Tessera itself never allows more
  requiredClaims: ["exp", "iat", "sub", "sid", "jti"],
};
// How long the feed may be unreachable before every token is refused (fail closed).
const STALE_AFTER_MS = Number(args["stale-after"] ?? 60) * 1000;

// Keys: fetched once now, again on an unknown `kid` (at most every 5 s) and every 5 min.
const jwks = createRemoteJWKSet(new URL(`${BASE}/.well-known/jwks.json`), {
  cooldownDuration: 5_000,
  cacheMaxAge: 300_000,
});

// ---- Revocations in force (docs/resource-servers.md, "Entries") ----
let revoked = emptySet();
function emptySet() {
  return { sessions: new Map(), users: new Map(), userNs: new Map(), namespaces: new Map(), all: null };
}
function raise(map, key, e) {
  const old = map.get(key);
  map.set(key, {
    upTo: Math.max(old?.upTo ?? -Infinity, e.issued_up_to_ms),
    until: Math.max(old?.until ?? -Infinity, e.until_ms),
  });
}
function apply(set, e) {
  switch (e.kind) {
    case "session": set.sessions.set(e.session_id, Math.max(set.sessions.get(e.session_id) ?? 0, e.until_ms)); break;
    case "user": raise(set.users, e.user_id, e); break;
    case "user_namespace": raise(set.userNs, `${e.user_id}\u0000${e.namespace}`, e); break;
    case "namespace": raise(set.namespaces, e.namespace, e); break;
    case "all": set.all = { upTo: Math.max(set.all?.upTo ?? -Infinity, e.issued_up_to_ms), until: e.until_ms }; break;
    default: throw new Error(`unknown revocation kind ${e.kind}`); // never skip what we cannot apply
  }
}
// The token's issue instant in unix ms: from its UUIDv7 `jti` when that falls in `iat`'s
// second, else the end of that second (so a cutoff within it still applies).
function issuedMs({ jti, iat }) {
  const hex = (jti || "").replaceAll("-", "");
  const ms = hex.length === 32 && hex[12] === "7" ? parseInt(hex.slice(0, 12), 16) : NaN;
  return Number.isFinite(ms) && Math.floor(ms / 1000) === iat ? ms : iat * 1000 + 999;
}
function refuses(c) {
  const at = issuedMs(c);
  const covers = (cut) => cut !== undefined && cut !== null && at <= cut.upTo;
  return (
    revoked.sessions.has(c.sid) ||
    covers(revoked.all) ||
    covers(revoked.users.get(c.sub)) ||
    covers(revoked.namespaces.get(c.ns)) ||
    covers(revoked.userNs.get(`${c.sub}\u0000${c.ns}`))
  );
}
function prune(now = Date.now()) {
  for (const [k, until] of revoked.sessions) if (until < now) revoked.sessions.delete(k);
  for (const m of [revoked.users, revoked.userNs, revoked.namespaces])
    for (const [k, c] of m) if (c.until < now) m.delete(k);
  if (revoked.all && revoked.all.until < now) revoked.all = null;
}

// ---- Following the feed ----
let cursor = null; // null: take a snapshot
let ready = false;
let connected = false;
let lastHeard = 0;
const heard = () => { lastHeard = Date.now(); };
const stale = () => !connected && Date.now() - lastHeard > STALE_AFTER_MS;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const headers = { "x-api-key": KEY };

async function page(after) {
  const url = new URL(`${BASE}/auth/revocations`);
  if (after !== null) url.searchParams.set("after", after);
  const res = await fetch(url, { headers, signal: AbortSignal.timeout(10_000) });
  if ((res.status === 404 || res.status === 400) && after !== null) return null; // cursor unknown: snapshot again
  if (!res.ok) throw new Error(`feed answered ${res.status}`);
  return res.json();
}

async function snapshot() {
  const fresh = emptySet();
  let after = null;
  for (;;) {
    const p = await page(after);
    for (const e of p.revocations) apply(fresh, e);
    after = p.cursor;
    if (!p.more) break;
  }
  revoked = fresh;
  cursor = after;
  heard();
}

async function poll() {
  for (;;) {
    const p = await page(cursor);
    if (p === null) { cursor = null; return; }
    for (const e of p.revocations) apply(revoked, e);
    cursor = p.cursor;
    heard();
    if (!p.more) return;
  }
}

async function stream() {
  const idle = new AbortController();
  let timer = setTimeout(() => idle.abort(), 35_000); // Tessera sends a heartbeat every 15 s
  const res = await fetch(`${BASE}/auth/revocations/stream`, {
    headers: { ...headers, accept: "text/event-stream", "last-event-id": cursor },
    signal: idle.signal,
  });
  if (res.status === 400) { cursor = null; return; }
  if (!res.ok) throw new Error(`stream answered ${res.status}`);
  connected = true;
  heard();
  const decoder = new TextDecoder();
  let buffer = "";
  let event = { type: "", data: "", id: null };
  try {
    for await (const chunk of res.body) {
      clearTimeout(timer);
      timer = setTimeout(() => idle.abort(), 35_000);
      buffer += decoder.decode(chunk, { stream: true });
      let nl;
      while ((nl = buffer.indexOf("\n")) >= 0) {
        const line = buffer.slice(0, nl).replace(/\r$/, "");
        buffer = buffer.slice(nl + 1);
        if (line === "") {
          if (event.type === "revocation") {
            apply(revoked, JSON.parse(event.data));
            cursor = event.id;
          } else if (event.type === "reset") {
            cursor = null;
            return;
          }
          event = { type: "", data: "", id: null };
        } else if (!line.startsWith(":")) {
          const i = line.indexOf(":");
          const field = i < 0 ? line : line.slice(0, i);
          const value = i < 0 ? "" : line.slice(i + 1).replace(/^ /, "");
          if (field === "event") event.type = value;
          else if (field === "data") event.data += (event.data ? "\n" : "") + value;
          else if (field === "id") event.id = value;
        }
      }
      heard();
      prune();
    }
    throw new Error("stream closed by Tessera");
  } finally {
    clearTimeout(timer);
    connected = false;
  }
}

async function follow() {
  let backoff = 100;
  for (;;) {
    try {
      if (cursor === null) {
        await snapshot();
        await jwks.reload();
        ready = true;
      }
      backoff = 100;
      await stream();
    } catch (err) {
      console.warn(`revocation feed: ${err.message}; catching up and reconnecting`);
      if (stale()) console.error("revocation feed unreachable too long: refusing every token");
      try { if (cursor !== null) await poll(); } catch { /* still down */ }
      await sleep(backoff);
      backoff = Math.min(backoff * 2, 5_000);
    }
  }
}

// ---- The API ----
function problem(res, status, code, title) {
  const h = { "content-type": "application/problem+json", "cache-control": "no-store" };
  if (status === 401) h["www-authenticate"] = `Bearer error="invalid_token", error_description="${code}"`;
  if (status === 503) h["retry-after"] = "5";
  res.writeHead(status, h).end(JSON.stringify({ type: `urn:tessera:problem:${code}`, status, code, title }));
}

async function authenticate(req) {
  const m = /^bearer +(\S+)\s*$/i.exec(req.headers.authorization ?? "");
  if (!m) return { error: [401, "missing_token", "An access token is required"] };
  if (!ready || stale()) return { error: [503, "unavailable", "Tokens cannot be checked right now"] };
  let claims;
  try {
    ({ payload: claims } = await jwtVerify(m[1], jwks, VERIFY));
  } catch (e) {
    if (e instanceof errors.JWTExpired) return { error: [401, "token_expired", "The access token has expired"] };
    return { error: [401, "invalid_token", "The access token is not valid"] };
  }
  if (refuses(claims)) return { error: [401, "session_revoked", "The session has been revoked"] };
  return { claims };
}

const server = http.createServer(async (req, res) => {
  const path = new URL(req.url, "http://x").pathname;
  if (req.method === "GET" && path === "/healthz") {
    const ok = ready && !stale();
    res.writeHead(ok ? 200 : 503, { "content-type": "application/json" });
    return res.end(JSON.stringify({ ready, connected, stale: stale(), cursor }));
  }
  if (req.method === "GET" && path === "/hello") {
    const { claims, error } = await authenticate(req);
    if (error) return problem(res, ...error);
    const { sub, sid, roles, perms } = claims;
    res.writeHead(200, { "content-type": "application/json" });
    return res.end(JSON.stringify({ sub, sid, roles, perms }));
  }
  problem(res, 404, "not_found", "No such route");
});

server.listen(Number(PORT), HOST, () => console.log(`node resource server on http://${HOST}:${PORT}`));
follow();
