// The account page in Debian's Chromium: sign in, see the session, revoke another device's
// session, share the session with a second tab, sign out of both. Usage: node account.mjs BASE_URL SCREENSHOT_PATH
import { launch, tesseraApi, watch } from "./chromium.mjs";
import assert from "node:assert/strict";

const [base, screenshot] = process.argv.slice(2);
const email = "ada@example.com"; // each test server has a fresh database
const password = "correct horse battery staple";
const PHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1";

const api = tesseraApi(base);

const reg = await api("POST", "/auth/register", { body: { email, password } });
assert.equal(reg.status, 201);
// Registering opened a session; end it so the list shows only the devices below.
assert.equal((await api("POST", "/auth/logout", { token: reg.body.access_token })).status, 204);
// "Another device": a phone that logged in earlier.
const phone = await api("POST", "/auth/login", { body: { email, password }, ua: PHONE });
assert.equal(phone.status, 200);

// Waits until the session list shows exactly `n` rows (the page re-renders asynchronously).
async function rowsToBe(page, n) {
  await page.waitForFunction((n) => document.querySelectorAll("#sessions li").length === n, n);
}

const browser = await launch();
try {
  const context = await browser.newContext({ viewport: { width: 1000, height: 720 }, deviceScaleFactor: 1 });
  const page = await context.newPage();
  const violations = await watch(page);

  const response = await page.goto(base + "/");
  const csp = response.headers()["content-security-policy"];
  for (const d of ["script-src 'self'", "style-src 'self'", "frame-ancestors 'none'", "object-src 'none'", "base-uri 'none'"]) {
    assert.ok(csp.includes(d), `CSP lacks ${d}: ${csp}`);
  }
  assert.equal(response.headers()["referrer-policy"], "no-referrer");

  // Signed out: the form, with labels.
  await page.getByLabel("Email", { exact: true }).waitFor();
  await page.getByLabel("Email", { exact: true }).fill(email);
  await page.getByLabel("Password", { exact: true }).fill("not the right password");
  await page.getByRole("button", { name: "Sign in", exact: true }).click();
  await page.getByRole("alert").filter({ hasText: "don't match" }).waitFor();

  await page.getByLabel("Password", { exact: true }).fill(password);
  await page.getByRole("button", { name: "Sign in", exact: true }).click();
  await page.getByRole("heading", { name: "Your sessions" }).waitFor();
  const rows = page.locator("#sessions li");
  await rowsToBe(page, 2);
  const badges = page.locator("#sessions .badge:visible");
  assert.equal(await badges.count(), 1, "exactly one row is this browser");
  assert.equal(await page.locator("#sessions li", { has: badges }).locator(".revoke:visible").count(), 0, "no revoke button on this browser's row");
  await rows.filter({ hasText: "Safari on iOS" }).waitFor();
  assert.equal(await page.locator("#who").textContent(), email);

  // The access token is in memory only; the refresh cookie is out of the page's reach.
  const storage = await page.evaluate(() => [localStorage.length, sessionStorage.length, document.cookie]);
  assert.equal(storage[0], 0);
  assert.equal(storage[1], 0);
  assert.ok(!storage[2].includes("tessera_refresh"), "the refresh cookie is HttpOnly");
  assert.ok(storage[2].includes("tessera_csrf"), "the csrf cookie is readable");

  await page.screenshot({ path: screenshot });

  // Revoke the phone.
  await page.getByRole("button", { name: "Revoke Safari on iOS" }).click();
  await page.getByRole("status").filter({ hasText: "Safari on iOS was signed out" }).waitFor();
  await rowsToBe(page, 1);
  const gone = await api("GET", "/auth/me", { token: phone.body.access_token });
  assert.equal(gone.status, 401);
  assert.equal(gone.body.code, "session_revoked");

  // A reload keeps the session (cookie refresh with the csrf token), with nothing stored.
  await page.reload();
  await page.getByRole("heading", { name: "Your sessions" }).waitFor();
  await rowsToBe(page, 1);

  // Sign out all other devices.
  await api("POST", "/auth/login", { body: { email, password }, ua: PHONE });
  await api("POST", "/auth/login", { body: { email, password } });
  await page.reload();
  await rowsToBe(page, 3);
  await page.getByRole("button", { name: "Sign out all other devices" }).click();
  await page.getByRole("status").filter({ hasText: "Signed out 2 other devices" }).waitFor();
  await rowsToBe(page, 1);

  // A second tab shares the session (no sign-in, no refresh of its own)...
  let refreshes = 0;
  context.on("request", (r) => r.url().endsWith("/auth/refresh") && refreshes++);
  const second = await context.newPage();
  await second.goto(base + "/");
  await second.getByRole("heading", { name: "Your sessions" }).waitFor();
  await rowsToBe(second, 1);
  assert.equal(refreshes, 0, "the second tab took the token from the first");

  // Sign out: back to the form in both tabs, and a reload does not sign back in.
  await page.getByRole("button", { name: "Sign out", exact: true }).click();
  await page.getByRole("heading", { name: "Sign in" }).waitFor();
  await second.getByRole("heading", { name: "Sign in" }).waitFor({ timeout: 1000 });
  await second.close();
  await page.reload();
  await page.getByRole("heading", { name: "Sign in" }).waitFor();
  assert.ok(!(await page.evaluate(() => document.cookie)).includes("tessera_csrf="), "cookies cleared");

  assert.deepEqual(violations, [], "no CSP violations or console errors");
  console.log("browser test passed");
} finally {
  await browser.close();
}
