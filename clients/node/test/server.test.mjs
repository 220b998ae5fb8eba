// The library against a real Tessera (the Rust test `library_tests.rs` starts the binary and
// passes TESSERA_URL, TESSERA_RESOURCE_KEY and TESSERA_ADMIN_KEY; without them these skip).
// The adapters as frameworks call them: a Web Request handler, and the Express-style
// middleware on a real node:http server.
import assert from "node:assert/strict";
import http from "node:http";
import { after, before, test } from "node:test";

import { AuthError, Require, Tessera } from "../src/index.js";

const URL_ = process.env.TESSERA_URL;
const KEY = process.env.TESSERA_RESOURCE_KEY;
const ADMIN = process.env.TESSERA_ADMIN_KEY;
const skip = URL_ ? false : "needs TESSERA_URL (run through cargo test)";

let tessera;
let n = 0;
async function register() {
  n += 1;
  const res = await fetch(`${URL_}/auth/register`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ email: `node-lib-${process.pid}-${n}@example.com`, password: "correct horse battery staple 1" }),
  });
  assert.equal(res.status, 201);
  return res.json();
}

async function until(what, check, ms = 1000) {
  const started = Date.now();
  for (;;) {
    if (await check()) return Date.now() - started;
    assert.ok(Date.now() - started < ms, `${what} not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

before(async () => {
  if (skip) return;
  tessera = new Tessera({ url: URL_, key: KEY });
  await tessera.ready();
});
after(() => tessera?.close());

test("the key never shows in the verifier's JSON or inspection", { skip }, async () => {
  const util = await import("node:util");
  assert.ok(!JSON.stringify(Object.keys(tessera)).includes(KEY));
  assert.ok(!util.inspect(tessera, { depth: 0 }).includes(KEY));
});

test("a Web Request handler: accepted, refused, and a logout refused within a second", { skip }, async () => {
  const tokens = await register();
  const handler = tessera.handler(async (_req, auth) => Response.json({ sub: auth.sub }));
  const call = (h) => handler(new Request("http://api.test/hello", { headers: h }));
  let res = await call({ authorization: `Bearer ${tokens.access_token}` });
  assert.equal(res.status, 200);
  res = await call({});
  assert.equal(res.status, 401);
  assert.equal(res.headers.get("content-type"), "application/problem+json");
  assert.equal((await res.json()).code, "missing_token");
  res = await call({ authorization: `Bearer ${tokens.access_token}x` });
  assert.equal((await res.json()).code, "invalid_token");

  const out = await fetch(`${URL_}/auth/logout`, { method: "POST", headers: { authorization: `Bearer ${tokens.access_token}` } });
  assert.equal(out.status, 204);
  const took = await until("the logout", async () => {
    const r = await call({ authorization: `Bearer ${tokens.access_token}` });
    return r.status === 401 && (await r.json()).code === "session_revoked";
  });
  console.log(`refused ${took} ms after the logout`);
});

test("Express-style middleware on node:http, with guards", { skip }, async () => {
  const tokens = await register();
  const routes = {
    "/hello": tessera.express(),
    "/admin": tessera.express(Require.permission("admin")),
    "/mfa": tessera.express(Require.acr("aal2")),
  };
  const server = http.createServer((req, res) => {
    routes[req.url](req, res, (err) => {
      if (err) return res.writeHead(500).end();
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(req.auth));
    });
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  const base = `http://127.0.0.1:${server.address().port}`;
  try {
    const get = (path) => fetch(`${base}${path}`, { headers: { authorization: `Bearer ${tokens.access_token}` } });
    let res = await get("/hello");
    assert.equal(res.status, 200);
    const auth = await res.json();
    assert.equal(auth.acr, "aal1");
    assert.ok(auth.authTime > 0 && auth.issuedAtMs > 0);
    res = await get("/admin");
    assert.equal(res.status, 403);
    assert.match(res.headers.get("www-authenticate"), /insufficient_scope/);
    res = await get("/mfa");
    assert.equal(res.status, 401);
    assert.match(res.headers.get("www-authenticate"), /acr_values="aal2"/);
  } finally {
    server.close();
  }
});

test("a ban reaches verify() within a second; another user is unaffected", { skip }, async () => {
  const a = await register();
  const b = await register();
  const sub = JSON.parse(Buffer.from(a.access_token.split(".")[1], "base64url")).sub;
  const req = (t) => ({ method: "GET", url: "/x", headers: { authorization: `Bearer ${t}` } });
  assert.equal((await tessera.verify(req(a.access_token))).sub, sub);
  const res = await fetch(`${URL_}/admin/users/${sub}/ban`, {
    method: "POST",
    headers: { "x-api-key": ADMIN, "content-type": "application/json" },
    body: "{}",
  });
  assert.equal(res.status, 200);
  await until("the ban", () =>
    tessera.verify(req(a.access_token)).then(
      () => false,
      (e) => e instanceof AuthError && e.code === "session_revoked",
    ),
  );
  await tessera.verify(req(b.access_token));
  assert.ok(tessera.status().refused_revoked >= 1);
});

test("guards on their own: recent authentication and assurance", () => {
  const now = Math.floor(Date.now() / 1000);
  const auth = { roles: ["r"], perms: [], authTime: now - 301, acr: null };
  assert.throws(() => Require.recentAuthentication(300)(auth), (e) => e.code === "insufficient_user_authentication" && /max_age=300/.test(e.challenge));
  Require.recentAuthentication(302)(auth);
  assert.throws(() => Require.acr("aal2")(auth), (e) => e.status === 401);
  Require.acr("aal1")(auth); // no acr counts as aal1
  assert.throws(() => Require.acr("aal3")(auth)); // an unknown level is never met
  Require.role("r")(auth);
  assert.throws(() => Require.role("x")(auth), (e) => e.status === 403);
});
