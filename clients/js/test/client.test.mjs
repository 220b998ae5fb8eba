// Unit tests of the client's scheduling and state logic: `node --test clients/js/test/`.
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  createClient,
  creationOptions,
  credentialJSON,
  refreshDelay,
  requestOptions,
  retryDelay,
  signOutReason,
} from "../tessera.js";
import { BASE, fakeLocks, settle, world } from "./world.mjs";

const creds = { email: "ada@example.com", password: "correct horse battery staple" };

test("refreshDelay: ahead of expiry by a quarter (at most 60 s) less up to a tenth (at most 15 s)", () => {
  assert.equal(refreshDelay(3_000, () => 0), 2_250);
  assert.equal(refreshDelay(3_000, () => 1), 1_950);
  assert.equal(refreshDelay(900_000, () => 0), 840_000);
  assert.equal(refreshDelay(900_000, () => 1), 825_000);
  assert.equal(refreshDelay(86_400_000, () => 1), 86_400_000 - 75_000);
  assert.equal(refreshDelay(0, () => 1), 0);
  for (let i = 0; i < 1000; i++) {
    const d = refreshDelay(5_000);
    assert.ok(d >= 3_250 && d <= 3_750, `${d}`);
  }
});

test("retryDelay: doubles from 0.5 s to a 30 s cap, never under half", () => {
  assert.equal(retryDelay(1, () => 0), 250);
  assert.equal(retryDelay(1, () => 1), 500);
  assert.equal(retryDelay(3, () => 1), 2_000);
  assert.equal(retryDelay(30, () => 1), 30_000);
  assert.equal(retryDelay(30, () => 0), 15_000);
});

test("signOutReason: only the codes that end a session", () => {
  assert.equal(signOutReason("session_revoked"), "revoked");
  assert.equal(signOutReason("account_banned"), "revoked");
  assert.equal(signOutReason("refresh_token_reused"), "reused");
  assert.equal(signOutReason("session_expired"), "expired");
  assert.equal(signOutReason("invalid_refresh_token"), "expired");
  for (const code of ["rate_limited", "unavailable", "error", "constructor", "__proto__", undefined]) {
    assert.equal(signOutReason(code), null, code);
  }
});

test("the refresh is scheduled from expires_in, whatever the device clock says", async (t) => {
  const w = world({ ttl: 900 });
  t.after(() => w.close());
  const realNow = Date.now;
  Date.now = () => 946_684_800_000; // the year 2000: a wrong device clock
  t.after(() => (Date.now = realNow));
  const tab = w.tab();
  await tab.client.ready;
  await tab.client.signIn(creds);
  await w.advance(824_000); // random() = 0.5: due at 900 - 60 - 7.5 = 832.5 s
  assert.equal(w.server.count("/auth/refresh"), 0);
  await w.advance(9_000);
  assert.equal(w.server.count("/auth/refresh"), 1);
  await w.advance(831_000); // the next is due 832.5 s after the first left (at 832.5 s)
  assert.equal(w.server.count("/auth/refresh"), 1);
  await w.advance(1_000);
  assert.equal(w.server.count("/auth/refresh"), 2);
  assert.deepEqual(tab.events, ["signedIn", "refreshed", "refreshed"]);
});

test("a timer that fires a little early does not stop the refreshes", async (t) => {
  const w = world({ ttl: 60, early: 200 }); // more than the client's slack
  t.after(() => w.close());
  const tab = w.tab();
  await tab.client.signIn(creds);
  await w.advance(10 * 60_000); // random() = 0.5: one refresh every 42 s
  assert.equal(w.server.count("/auth/refresh"), 14);
  assert.equal(tab.client.status(), "signedIn");
});

test("a hidden tab does not refresh on its timer; it does as soon as it is visible", async (t) => {
  const w = world({ ttl: 60 });
  t.after(() => w.close());
  const tab = w.tab({ visible: false });
  await tab.client.signIn(creds);
  await w.advance(120_000);
  assert.equal(w.server.count("/auth/refresh"), 0);
  assert.equal(tab.client.status(), "signedIn");
  tab.setVisible(true);
  await settle();
  assert.equal(w.server.count("/auth/refresh"), 1);
  assert.deepEqual(tab.events, ["signedIn", "refreshed"]);
});

test("a hidden tab that needs a token for a request refreshes for it", async (t) => {
  const w = world({ ttl: 60 });
  t.after(() => w.close());
  const tab = w.tab({ visible: false });
  await tab.client.signIn(creds);
  await w.advance(61_000);
  const res = await tab.client.fetch(`${BASE}/api/x`);
  assert.equal(res.status, 200);
  assert.equal(w.server.count("/auth/refresh"), 1);
  assert.equal(w.server.count("/api/x"), 1, "the expired token was not sent first");
});

test("concurrent 401 token_expired answers make one refresh, and each request is retried once", async (t) => {
  const w = world({ ttl: 60 });
  t.after(() => w.close());
  const tab = w.tab();
  await tab.client.signIn(creds);
  const first = tab.client.session();
  // The API thinks the token expired (its clock runs ahead).
  w.server.api = (req, tok) =>
    tok && tok.sid && req.headers.get("authorization") === `Bearer at-1`
      ? Response.json({ code: "token_expired" }, { status: 401, headers: { "content-type": "application/problem+json" } })
      : Response.json({ ok: true });
  const answers = await Promise.all(Array.from({ length: 5 }, () => tab.client.fetch(`${BASE}/api/x`)));
  assert.deepEqual(answers.map((r) => r.status), [200, 200, 200, 200, 200]);
  assert.equal(w.server.count("/auth/refresh"), 1);
  assert.equal(w.server.count("/api/x"), 10);
  assert.equal(tab.client.session().sessionId, first.sessionId);
});

test("a request is retried at most once, and only for token_expired or session_revoked", async (t) => {
  const w = world({ ttl: 60 });
  t.after(() => w.close());
  const tab = w.tab();
  await tab.client.signIn(creds);
  w.server.api = (req) => {
    const code = new URL(req.url).searchParams.get("code");
    return Response.json({ code }, { status: 401, headers: { "content-type": "application/problem+json" } });
  };
  assert.equal((await tab.client.fetch(`${BASE}/api/x?code=token_expired`)).status, 401);
  assert.equal(w.server.count("/api/x"), 2);
  assert.equal(w.server.count("/auth/refresh"), 1);
  assert.equal((await tab.client.fetch(`${BASE}/api/y?code=invalid_token`)).status, 401);
  assert.equal(w.server.count("/api/y"), 1);
  assert.equal(w.server.count("/auth/refresh"), 1);
});

test("a session_revoked from an API is confirmed by a refresh, then every listener hears `revoked`", async (t) => {
  const w = world({ ttl: 60 });
  t.after(() => w.close());
  const tab = w.tab();
  const { sessionId } = await tab.client.signIn(creds);
  w.server.end(sessionId, "session_revoked");
  const res = await tab.client.fetch(`${BASE}/api/x`);
  assert.equal(res.status, 401);
  assert.equal(tab.client.status(), "signedOut");
  assert.equal(tab.client.session(), null);
  assert.deepEqual(tab.events, ["signedIn", "signedOut:revoked"]);
  assert.equal(await tab.storage.getItem(`tessera:${BASE}:refresh`), null, "the dead refresh token is dropped");
});

for (const [code, reason] of [
  ["refresh_token_reused", "reused"],
  ["session_expired", "expired"],
  ["invalid_refresh_token", "expired"],
]) {
  test(`a refresh answered ${code} signs out with reason ${reason}`, async (t) => {
    const w = world({ ttl: 60 });
    t.after(() => w.close());
    const tab = w.tab();
    const { sessionId } = await tab.client.signIn(creds);
    w.server.end(sessionId, code);
    await w.advance(60_000);
    assert.deepEqual(tab.events, ["signedIn", `signedOut:${reason}`]);
  });
}

test("429 and 503 keep the session and retry after Retry-After", async (t) => {
  const w = world({ ttl: 60 });
  t.after(() => w.close());
  const tab = w.tab();
  await tab.client.signIn(creds);
  let busy = 2;
  w.server.refreshAnswer = () =>
    busy-- > 0
      ? Response.json({ code: busy ? "unavailable" : "rate_limited" }, { status: busy ? 503 : 429, headers: { "retry-after": "7", "content-type": "application/problem+json" } })
      : undefined;
  const original = w.server.refreshAnswer;
  w.server.refreshAnswer = () => original() ?? Response.json(null, { status: 599 });
  await w.advance(43_000); // due at 60 - 15 - 3 = 42 s
  assert.equal(w.server.count("/auth/refresh"), 1);
  await w.advance(5_900); // the refresh left at 42 s, Retry-After 7 s
  assert.equal(w.server.count("/auth/refresh"), 1, "Retry-After is honoured");
  await w.advance(200);
  assert.equal(w.server.count("/auth/refresh"), 2);
  delete w.server.refreshAnswer;
  await w.advance(7_000);
  assert.equal(w.server.count("/auth/refresh"), 3);
  assert.deepEqual(tab.events, ["signedIn", "refreshed"]);
});

test("offline: the session is kept, retries back off, and coming online refreshes at once", async (t) => {
  const w = world({ ttl: 60 });
  t.after(() => w.close());
  const tab = w.tab();
  await tab.client.signIn(creds);
  w.offline = true;
  await w.advance(120_000);
  const tries = w.server.count("/auth/refresh");
  assert.ok(tries >= 3 && tries <= 10, `backoff, not a busy loop: ${tries} tries in 78 s`);
  assert.equal(tab.client.status(), "signedIn");
  w.offline = false;
  tab.online();
  await settle();
  assert.equal(w.server.count("/auth/refresh"), tries + 1);
  assert.deepEqual(tab.events, ["signedIn", "refreshed"]);
  assert.equal((await tab.client.fetch(`${BASE}/api/x`)).status, 200);
});

test("a slow refresh answer from before a sign-out does not bring the session back", async (t) => {
  const w = world({ ttl: 60 });
  t.after(() => w.close());
  const tab = w.tab();
  await tab.client.signIn(creds);
  const release = w.server.hold("/auth/refresh");
  await w.advance(45_000); // the refresh has left, its answer is held
  assert.equal(w.server.count("/auth/refresh"), 1);
  await tab.client.signOut();
  release();
  await settle();
  await w.advance(120_000);
  assert.equal(tab.client.status(), "signedOut");
  assert.equal(tab.client.session(), null);
  assert.deepEqual(tab.events, ["signedIn", "signedOut:user"]);
  assert.equal(await tab.storage.getItem(`tessera:${BASE}:refresh`), null);
});

test("a stale refusal from before a sign-out does not end the session signed in after it", async (t) => {
  const w = world({ ttl: 60 });
  t.after(() => w.close());
  const tab = w.tab();
  await tab.client.signIn(creds);
  const release = w.server.hold("/auth/refresh");
  await w.advance(45_000); // a refresh of s1 has left; its answer will be 401 session_revoked
  await tab.client.signOut();
  release(); // lets the held refresh through (answered by signIn's request below too)
  const { sessionId } = await tab.client.signIn(creds);
  await settle();
  assert.equal(sessionId, "s2");
  assert.equal(tab.client.status(), "signedIn");
  assert.equal(tab.client.session().sessionId, "s2");
  assert.deepEqual(tab.events, ["signedIn", "signedOut:user", "signedIn"]);
});

test("a slow sign-in answer that lands after signOut() is not adopted, and its session is ended", async (t) => {
  const w = world({ ttl: 60 });
  t.after(() => w.close());
  const tab = w.tab();
  await tab.client.ready;
  const release = w.server.hold("/auth/login");
  const signingIn = tab.client.signIn(creds);
  await settle();
  await tab.client.signOut();
  release();
  await assert.rejects(signingIn, { code: "aborted" });
  await settle();
  assert.equal(tab.client.status(), "signedOut");
  assert.equal(w.server.sessions.get("s1").revoked, "session_revoked");
});

test("the access token is sent only to Tessera's origin and the configured ones", async (t) => {
  const w = world({ ttl: 60 });
  t.after(() => w.close());
  const tab = w.tab({ tokenOrigins: ["https://api.example.com"] });
  await tab.client.signIn(creds);
  w.server.api = (req) =>
    req.url.startsWith("https://tracker")
      ? Response.json({ code: "token_expired" }, { status: 401, headers: { "content-type": "application/problem+json" } })
      : Response.json({});
  assert.equal((await tab.client.fetch("https://tracker.example.net/x")).status, 401);
  assert.equal(w.server.count("/auth/refresh"), 0, "a stranger's 401 does not make a refresh");
  await tab.client.fetch("https://api.example.com/y");
  await tab.client.fetch(`${BASE}/z`);
  const auth = Object.fromEntries(w.server.calls.filter((c) => c.method === "GET").map((c) => [c.url, c.auth]));
  assert.equal(auth["https://tracker.example.net/x"], null);
  assert.equal(auth["https://api.example.com/y"], "Bearer at-1");
  assert.equal(auth[`${BASE}/z`], "Bearer at-1");
});

test("the client never patches globals", async () => {
  const before = [globalThis.fetch, globalThis.Request, globalThis.XMLHttpRequest];
  const client = createClient({ baseUrl: BASE, transport: "body", env: { fetch: async () => new Response(null, { status: 401 }) } });
  await client.ready;
  client.close();
  assert.deepEqual([globalThis.fetch, globalThis.Request, globalThis.XMLHttpRequest], before);
});

test("body transport: the rotated refresh token is kept in storage, and a new client resumes from it", async (t) => {
  const w = world({ ttl: 60 });
  t.after(() => w.close());
  const tab = w.tab();
  await tab.client.signIn(creds);
  const key = `tessera:${BASE}:refresh`;
  assert.equal(await tab.storage.getItem(key), "rt-1");
  await w.advance(45_000);
  assert.equal(await tab.storage.getItem(key), "rt-2");
  tab.client.close();
  const again = w.tab({ storage: tab.storage });
  const session = await again.client.ready;
  assert.equal(session.sessionId, "s1");
  assert.deepEqual(again.events, ["signedIn"]);
  await again.client.signOut();
  assert.equal(await again.storage.getItem(key), null);
});

test("a new client with nothing stored is signed out without a request", async (t) => {
  const w = world({ ttl: 60 });
  t.after(() => w.close());
  const tab = w.tab();
  assert.equal(await tab.client.ready, null);
  assert.equal(tab.client.status(), "signedOut");
  assert.equal(w.server.calls.length, 0);
  assert.deepEqual(tab.events, []);
});

test("tabs: one refresh per period for all of them, adoption on open, sign-out everywhere", async (t) => {
  const w = world({ ttl: 60, locks: fakeLocks() });
  t.after(() => w.close());
  const storage = w.tab().storage; // one shared storage, like localStorage
  const tabs = [w.tab({ storage }), w.tab({ storage }), w.tab({ storage })];
  await Promise.all(tabs.map((x) => x.client.ready));
  await tabs[0].client.signIn(creds);
  await settle();
  for (const x of tabs) assert.equal(x.client.session()?.sessionId, "s1");
  // A tab opened now takes the token from the others: no refresh.
  const late = w.tab({ storage });
  assert.equal((await late.client.ready).sessionId, "s1");
  assert.equal(w.server.count("/auth/refresh"), 0);
  for (let period = 1; period <= 5; period++) {
    await w.advance(45_000);
    assert.equal(w.server.count("/auth/refresh"), period, `period ${period}`);
  }
  await tabs[1].client.signOut();
  await settle();
  for (const x of [...tabs, late]) {
    assert.equal(x.client.status(), "signedOut");
    assert.equal(x.events.at(-1), "signedOut:user");
  }
  assert.equal(w.server.count("/auth/logout"), 1);
});

test("tabs: a tab waking with an old token takes the newer one another tab holds", async (t) => {
  const w = world({ ttl: 60, locks: fakeLocks() });
  t.after(() => w.close());
  const storage = w.tab().storage;
  const a = w.tab({ storage });
  const asleep = w.tab({ storage, visible: false });
  await a.client.signIn(creds);
  await settle();
  assert.equal(asleep.client.session()?.sessionId, "s1");
  asleep.frozen = true; // misses the next broadcast, as a frozen tab would
  await w.advance(46_000);
  assert.equal(w.server.count("/auth/refresh"), 1);
  asleep.frozen = false;
  await w.advance(15_000); // its token has expired now
  const res = await asleep.client.fetch(`${BASE}/api/x`);
  assert.equal(res.status, 200);
  assert.equal(w.server.count("/auth/refresh"), 1, "it asked the other tab instead of refreshing");
  assert.equal(w.server.calls.findLast((c) => c.path === "/api/x").auth, "Bearer at-2");
});

test("tabs: a frozen tab delays the others' refresh once, not every period", async (t) => {
  const w = world({ ttl: 60, locks: fakeLocks() });
  t.after(() => w.close());
  const storage = w.tab().storage;
  const a = w.tab({ storage });
  const frozen = w.tab({ storage, visible: false });
  await a.client.signIn(creds);
  await settle();
  assert.equal(frozen.client.session()?.sessionId, "s1");
  frozen.frozen = true; // holds its presence lock, answers nothing
  await w.advance(42_100); // due at 42 s: the ask waits for the frozen tab...
  assert.equal(w.server.count("/auth/refresh"), 0);
  await w.advance(2_000); // ...for 2 s, once
  assert.equal(w.server.count("/auth/refresh"), 1);
  await w.advance(42_000); // the next is due 42 s after that one, and does not wait
  assert.equal(w.server.count("/auth/refresh"), 2);
  // Once it speaks again, it is asked again: waking, it takes the newest token.
  frozen.frozen = false;
  frozen.setVisible(true);
  await w.advance(20_000);
  assert.equal(frozen.client.session()?.sessionId, "s1");
  assert.equal(w.server.count("/auth/refresh"), 2, "the woken tab took the token of the other");
  frozen.frozen = true; // it spoke, so it is waited for again
  await w.advance(22_000); // due at 128 s
  assert.equal(w.server.count("/auth/refresh"), 2);
  await w.advance(2_000);
  assert.equal(w.server.count("/auth/refresh"), 3);
});

test("a listener that throws does not stop the others or the client", async (t) => {
  const w = world({ ttl: 60 });
  t.after(() => w.close());
  const tab = w.tab();
  tab.client.onChange(() => {
    throw new Error("listener bug");
  });
  const seen = [];
  const stop = tab.client.onChange((e) => seen.push(e.type));
  await tab.client.signIn(creds);
  stop();
  await w.advance(45_000);
  await settle();
  assert.deepEqual(seen, ["signedIn"]);
  assert.equal(tab.client.status(), "signedIn");
  assert.deepEqual(w.reported.map((e) => e.message), ["listener bug", "listener bug"]);
});

test("tessera.d.ts declares exactly what tessera.js exports, and every client method", async () => {
  const { readFile } = await import("node:fs/promises");
  const dts = await readFile(new URL("../tessera.d.ts", import.meta.url), "utf8");
  const module = await import("../tessera.js");
  const declared = [...dts.matchAll(/^export (?:function|class) (\w+)/gm)].map((m) => m[1]).sort();
  assert.deepEqual(declared, Object.keys(module).sort());
  const client = module.createClient({ baseUrl: BASE, transport: "body", env: { fetch: async () => new Response(null, { status: 401 }) } });
  await client.ready;
  client.close();
  const body = dts.slice(dts.indexOf("export interface TesseraClient"), dts.indexOf("export function createClient"));
  const methods = [...body.matchAll(/^  (?:readonly )?(\w+)[(:]/gm)].map((m) => m[1]).sort();
  assert.deepEqual(methods, Object.keys(client).sort());
});

test("docs/browser-client.md shows the example app exactly as it is in examples/browser-spa", async () => {
  const { readFile } = await import("node:fs/promises");
  const root = new URL("../../../", import.meta.url);
  const doc = await readFile(new URL("docs/browser-client.md", root), "utf8");
  for (const [file, lang] of [["index.html", "html"], ["app.js", "js"]]) {
    const shown = doc.split(`\`${file}\`:\n\n\`\`\`${lang}\n`)[1]?.split("```\n")[0];
    assert.equal(shown, await readFile(new URL(`examples/browser-spa/${file}`, root), "utf8"), file);
  }
});

test("tabs: a refresh lock held by a hung tab is taken after 10 s", async (t) => {
  const locks = fakeLocks();
  const w = world({ ttl: 60, locks });
  t.after(() => w.close());
  const tab = w.tab();
  await tab.client.signIn(creds);
  // Another tab took the lock and never gives it back (frozen mid-refresh).
  locks.request(`tessera:${BASE}:refresh`, () => new Promise(() => {}));
  await w.advance(42_500); // the refresh is due, and waits
  assert.equal(w.server.count("/auth/refresh"), 0);
  await w.advance(9_000);
  assert.equal(w.server.count("/auth/refresh"), 0);
  await w.advance(1_000);
  assert.equal(w.server.count("/auth/refresh"), 1);
  assert.deepEqual(tab.events, ["signedIn", "refreshed"]);
});

test("WebAuthn JSON forms convert both ways where the browser lacks parse*FromJSON and toJSON", () => {
  const bytes = (...b) => Uint8Array.from(b);
  const json = {
    challenge: "AAEC_w",
    rp: { id: "example.com", name: "x" },
    user: { id: "-_8", name: "a", displayName: "a" },
    excludeCredentials: [{ type: "public-key", id: "AQ" }],
  };
  const created = creationOptions(json, undefined);
  assert.deepEqual(created.challenge, bytes(0, 1, 2, 255));
  assert.deepEqual(created.user.id, bytes(251, 255));
  assert.deepEqual(created.excludeCredentials[0].id, bytes(1));
  const requested = requestOptions({ challenge: "AAEC_w", rpId: "example.com" }, undefined);
  assert.deepEqual(requested.allowCredentials, []);
  // Where the browser has them, its own parsers are used.
  const PKC = { parseRequestOptionsFromJSON: (j) => ({ native: j }) };
  assert.deepEqual(requestOptions({ challenge: "x" }, PKC), { native: { challenge: "x" } });
  const buf = (...b) => Uint8Array.from(b).buffer;
  const assertion = credentialJSON({
    id: "AQI",
    rawId: buf(1, 2),
    type: "public-key",
    response: { clientDataJSON: buf(123), authenticatorData: buf(0, 255), signature: buf(7), userHandle: buf(251) },
    getClientExtensionResults: () => ({}),
  });
  assert.deepEqual(assertion, {
    id: "AQI",
    rawId: "AQI",
    type: "public-key",
    response: { clientDataJSON: "ew", authenticatorData: "AP8", signature: "Bw", userHandle: "-w" },
    clientExtensionResults: {},
  });
  assert.deepEqual(credentialJSON({ toJSON: () => ({ native: true }) }), { native: true });
});
