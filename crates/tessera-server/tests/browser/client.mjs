// The browser client (clients/js, served as /tessera.js) in Debian's Chromium against the real
// server, which runs with a short access_ttl. Usage: node client.mjs BASE_URL ADMIN_KEY TTL_SECONDS
import { launch } from "./chromium.mjs";
import assert from "node:assert/strict";

const [base, adminKey, ttlArg] = process.argv.slice(2);
const TTL = Number(ttlArg) * 1000;
const password = "correct horse battery staple";
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
let users = 0;

// A page of a small app, served at the server's origin by Playwright (it never reaches Tessera),
// that imports the client from the server like any app would.
const APP = `<!doctype html><meta charset="utf-8"><title>app</title>
<script type="module">
import { createClient } from "/tessera.js";
const client = createClient({ transport: "cookie" });
window.client = client;
window.events = [];
client.onChange((e) => window.events.push(e.type === "signedOut" ? "signedOut:" + e.reason : e.type));
window.ready = client.ready;
</script>`;

async function api(method, path, body, headers = {}) {
  const res = await fetch(base + path, {
    method,
    headers: { "content-type": "application/json", ...headers },
    body: body && JSON.stringify(body),
  });
  return { status: res.status, body: res.status === 204 ? null : await res.json() };
}

/** A fresh user and a fresh browser profile (cookie jar) with `n` tabs of the app, signed in. */
async function signedInTabs(browser, n) {
  const email = `tab-${++users}@example.com`;
  const reg = await api("POST", "/auth/register", { email, password });
  assert.equal(reg.status, 201);
  await api("POST", "/auth/logout", null, { authorization: `Bearer ${reg.body.access_token}` });
  const context = await browser.newContext();
  await context.route(`${base}/app/**`, (route) => route.fulfill({ contentType: "text/html", body: APP }));
  const refreshes = [];
  const logouts = [];
  context.on("request", (r) => {
    if (r.method() === "POST" && r.url() === `${base}/auth/refresh`) refreshes.push({ at: Date.now(), r });
    if (r.method() === "POST" && r.url() === `${base}/auth/logout`) logouts.push(r);
  });
  const errors = [];
  const tabs = [];
  for (let i = 0; i < n; i++) {
    const page = await context.newPage();
    page.on("pageerror", (e) => errors.push(e.message));
    await page.goto(`${base}/app/`);
    await page.evaluate(() => window.ready);
    if (i === 0) await page.evaluate(([email, password]) => window.client.signIn({ email, password }), [email, password]);
    await page.waitForFunction(() => window.client.status() === "signedIn");
    tabs.push(page);
  }
  return { context, tabs, refreshes, logouts, errors, email, userId: reg.body.user.id };
}

const events = (page) => page.evaluate(() => window.events);
const status = (page) => page.evaluate(() => window.client.status());
const sessionId = (page) => page.evaluate(() => window.client.session()?.sessionId ?? null);
const me = (page) => page.evaluate(async () => (await window.client.fetch("/auth/me")).status);

/** Waits until every tab's last event is `event`; returns how long that took. */
async function allReach(tabs, event, timeout) {
  const started = Date.now();
  await Promise.all(
    tabs.map((p) => p.waitForFunction((e) => window.events.at(-1) === e, event, { timeout, polling: 20 })),
  );
  return Date.now() - started;
}

const browser = await launch();
try {
  // 1. Three tabs over several refresh periods: one refresh request per period, never reuse.
  {
    const s = await signedInTabs(browser, 3);
    assert.equal(s.refreshes.length, 0, "the 2nd and 3rd tab took the token from the first");
    const periods = 4;
    await sleep(periods * TTL + TTL / 2);
    const answers = await Promise.all(s.refreshes.map(({ r }) => r.response()));
    assert.deepEqual(answers.map((a) => a.status()), answers.map(() => 200));
    assert.ok(s.refreshes.length >= periods, `${s.refreshes.length} refreshes in ${periods}.5 periods`);
    const gaps = s.refreshes.slice(1).map((x, i) => x.at - s.refreshes[i].at);
    // The refresh is due after 65 to 75 % of the token's life: two in one period is a duplicate.
    for (const gap of gaps) assert.ok(gap > TTL * 0.5, `two refreshes ${gap} ms apart: ${gaps}`);
    const ids = await Promise.all(s.tabs.map(sessionId));
    assert.ok(ids[0] && ids.every((id) => id === ids[0]), "one session for all tabs");
    for (const page of s.tabs) {
      assert.equal(await status(page), "signedIn");
      assert.ok(!(await events(page)).some((e) => e.startsWith("signedOut")));
      assert.equal(await me(page), 200);
    }
    const reuse = await api("GET", `/admin/events?user_id=${s.userId}&type=session.reuse_detected`, null, { "x-api-key": adminKey });
    assert.equal(reuse.status, 200);
    assert.deepEqual(reuse.body.events, [], "reuse detection never tripped");
    console.log(`three tabs: ${s.refreshes.length} refreshes in ${periods}.5 periods, gaps ${gaps.join(", ")} ms`);

    // 2. Sign-out in one tab reaches the others, with one logout request.
    await s.tabs[1].evaluate(() => window.client.signOut());
    const took = await allReach(s.tabs, "signedOut:user", 1000);
    assert.equal(s.logouts.length, 1);
    for (const page of s.tabs) assert.equal(await sessionId(page), null);
    const before = s.refreshes.length;
    await sleep(TTL);
    assert.equal(s.refreshes.length, before, "no tab refreshes after the sign-out");
    await s.tabs[0].reload();
    assert.equal(await s.tabs[0].evaluate(() => window.ready), null, "a reload stays signed out");
    console.log(`sign-out reached every tab in ${took} ms`);
    assert.deepEqual(s.errors, []);
    await s.context.close();
  }

  // 3. An admin revocation signs every tab out with reason `revoked`, within one refresh period.
  {
    const s = await signedInTabs(browser, 3);
    const revoked = await api("DELETE", `/admin/users/${s.userId}/sessions`, null, { "x-api-key": adminKey });
    assert.equal(revoked.status, 200);
    const took = await allReach(s.tabs, "signedOut:revoked", TTL + 2000);
    console.log(`admin revocation reached every tab in ${took} ms`);
    await s.context.close();
  }

  // 4. Offline for longer than the token lives, then online: the session recovers at once.
  {
    const s = await signedInTabs(browser, 2);
    await s.context.setOffline(true);
    await sleep(TTL + 1500);
    for (const page of s.tabs) assert.equal(await status(page), "signedIn", "offline is not a sign-out");
    const marks = await Promise.all(s.tabs.map((p) => p.evaluate(() => window.events.length)));
    await s.context.setOffline(false);
    const started = Date.now();
    await Promise.all(
      s.tabs.map((p, i) => p.waitForFunction((n) => window.events.slice(n).includes("refreshed"), marks[i], { timeout: 1500, polling: 20 })),
    );
    console.log(`back online: refreshed in ${Date.now() - started} ms`);
    for (const page of s.tabs) {
      assert.equal(await me(page), 200);
      assert.ok(!(await events(page)).some((e) => e.startsWith("signedOut")));
    }
    await s.context.close();
  }

  // 5. A slow refresh answer from before a sign-out does not bring the session back.
  {
    const s = await signedInTabs(browser, 1);
    const [page] = s.tabs;
    let held = 0;
    await page.route(`${base}/auth/refresh`, async (route) => {
      const response = await route.fetch(); // the server rotates now...
      held++;
      await sleep(1500); // ...and the answer arrives after the sign-out
      await route.fulfill({ response });
    });
    await page.evaluate(() => {
      window.pending = window.client.refresh();
    });
    await sleep(400);
    assert.equal(held, 1, "the refresh reached the server before the sign-out");
    await page.evaluate(() => window.client.signOut());
    assert.equal(await page.evaluate(() => window.pending), false);
    await sleep(500);
    assert.equal(await status(page), "signedOut");
    assert.equal(await sessionId(page), null);
    assert.deepEqual(await events(page), ["signedIn", "signedOut:user"]);
    await page.unroute(`${base}/auth/refresh`);
    await page.reload();
    assert.equal(await page.evaluate(() => window.ready), null, "still signed out after a reload");
    await s.context.close();
  }
  console.log("client browser test passed");
} finally {
  await browser.close();
}
