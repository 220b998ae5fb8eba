// DPoP in Debian's Chromium (issue 24): the account page binds its session to a key WebCrypto
// made non-extractable and IndexedDB keeps for every tab; a second tab refreshes with the same
// key; a token copied out of the page is refused by Tessera and by a resource server. Tessera
// runs with dpop.nonce, so the client's retry with the server's nonce is exercised too.
// Usage: node dpop.mjs BASE_URL API_URL
import assert from "node:assert/strict";
import { launch, tesseraApi, watch } from "./chromium.mjs";

const [base, apiBase] = process.argv.slice(2);
const api = tesseraApi(base);
const email = "dpop.browser@example.com";
const password = "correct horse battery staple";
const reg = await api("POST", "/auth/register", { body: { email, password } });
assert.equal(reg.status, 201);
// Registering opened a session; end it so the page's list shows its own alone.
assert.equal((await api("POST", "/auth/logout", { token: reg.body.access_token })).status, 204);

const browser = await launch();
try {
  const context = await browser.newContext();
  const page = await context.newPage();
  const violations = await watch(page);
  let nonceAnswers = 0;
  page.on("response", (r) => r.headers()["dpop-nonce"] && [400, 401].includes(r.status()) && nonceAnswers++);
  await page.goto(base + "/");
  await page.getByLabel("Email", { exact: true }).fill(email);
  await page.getByLabel("Password", { exact: true }).fill(password);
  // What the page received: the token a thief would copy out of it. Awaited, not read in a
  // listener, which could still be reading the body when the assertions run.
  const login = page.waitForResponse((r) => r.url().endsWith("/auth/login") && r.status() === 200);
  await page.getByRole("button", { name: "Sign in", exact: true }).click();
  await page.getByRole("heading", { name: "Your sessions" }).waitFor();
  // The session list loaded: the page's own calls carry their proofs.
  await page.waitForFunction(() => document.querySelectorAll("#sessions li").length === 1);
  const tokenResponse = await (await login).json();
  assert.equal(tokenResponse.token_type, "DPoP");
  const claims = JSON.parse(Buffer.from(tokenResponse.access_token.split(".")[1], "base64url"));

  // The key: in IndexedDB, its private half not extractable, its thumbprint the token's jkt.
  const key = await page.evaluate(async () => {
    const db = await new Promise((ok, no) => {
      const r = indexedDB.open("tessera-dpop");
      r.onsuccess = () => ok(r.result);
      r.onerror = () => no(r.error);
    });
    const names = await new Promise((ok) => {
      const r = db.transaction("keys").objectStore("keys").getAllKeys();
      r.onsuccess = () => ok(r.result);
    });
    const pair = await new Promise((ok) => {
      const r = db.transaction("keys").objectStore("keys").get(names[0]);
      r.onsuccess = () => ok(r.result);
    });
    let exported = true;
    try {
      await crypto.subtle.exportKey("jwk", pair.privateKey);
    } catch {
      exported = false;
    }
    const { crv, kty, x, y } = await crypto.subtle.exportKey("jwk", pair.publicKey);
    const canonical = JSON.stringify({ crv, kty, x, y });
    const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(canonical)));
    const jkt = btoa(String.fromCharCode(...digest)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
    return { count: names.length, extractable: pair.privateKey.extractable, exported, jkt };
  });
  assert.deepEqual(key, { count: 1, extractable: false, exported: false, jkt: claims.cnf.jkt });

  // The copied token: refused by Tessera as Bearer and without a proof, and by the resource server.
  const stolen = tokenResponse.access_token;
  const me = (auth) => fetch(`${base}/auth/me`, { headers: { authorization: auth } });
  let res = await me(`Bearer ${stolen}`);
  assert.equal(res.status, 401);
  assert.equal((await res.json()).code, "invalid_token");
  res = await me(`DPoP ${stolen}`);
  assert.equal(res.status, 401);
  assert.equal((await res.json()).code, "invalid_dpop_proof");
  res = await fetch(`${apiBase}/hello`, { headers: { authorization: `Bearer ${stolen}` } });
  assert.equal(res.status, 401);

  // A second tab, the first one closed: it must refresh, and can only with the same key.
  let refreshes = [];
  context.on("response", (r) => r.url().endsWith("/auth/refresh") && refreshes.push(r.status()));
  await page.close();
  const second = await context.newPage();
  await second.goto(base + "/");
  await second.getByRole("heading", { name: "Your sessions" }).waitFor();
  await second.waitForFunction(() => document.querySelectorAll("#sessions li").length === 1);
  // One refresh, by the shared key (after a use_dpop_nonce answer: a new tab has no nonce yet).
  assert.deepEqual(refreshes.filter((c) => c !== 400), [200], `refreshes: ${refreshes}`);

  // Sign out needs no proof and ends the session.
  await second.getByRole("button", { name: "Sign out", exact: true }).click();
  await second.getByRole("heading", { name: "Sign in" }).waitFor();

  // Browsed at another origin than the issuer's (127.0.0.1 for localhost), the page cannot name
  // the issuer in its proofs: it signs in unbound instead of failing.
  const elsewhere = await browser.newPage();
  await elsewhere.goto(base.replace("localhost", "127.0.0.1") + "/");
  await elsewhere.getByLabel("Email", { exact: true }).fill(email);
  await elsewhere.getByLabel("Password", { exact: true }).fill(password);
  // Awaited, not read in a listener: the page can show its sessions before a listener's own
  // read of the body finishes (seen once in CI, after the server got faster).
  const elsewhereLogin = elsewhere.waitForResponse(
    (r) => r.url().endsWith("/auth/login") && r.status() === 200,
  );
  await elsewhere.getByRole("button", { name: "Sign in", exact: true }).click();
  await elsewhere.getByRole("heading", { name: "Your sessions" }).waitFor();
  assert.equal((await (await elsewhereLogin).json()).token_type, "Bearer");

  // The nonce round trips log their 400/401 (use_dpop_nonce, then the retry succeeds).
  assert.deepEqual(violations.filter((v) => !v.includes("status of 400")), [], "no CSP violations or console errors");
  assert.ok(nonceAnswers > 0, "the server asked for a nonce, and the client came back with it");
  console.log("dpop browser test passed");
} finally {
  await browser.close();
}
