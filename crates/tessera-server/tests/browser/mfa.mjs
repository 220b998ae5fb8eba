// Second factors through the account page in Debian's Chromium (issue 22): enrol an
// authenticator app from the QR code's key, see the recovery codes once, sign in in two steps
// (a code, then a recovery code), confirm it's you for a change once the sign-in is old, and
// remove the factor. The test computes codes as an authenticator app does (RFC 6238).
// Usage: node mfa.mjs BASE_URL ENROLL_WINDOW_SECS SCREENSHOT_PATH
import { launch, tesseraApi, watch } from "./chromium.mjs";
import assert from "node:assert/strict";
// The authenticator app's arithmetic, shared with the client's own tests.
import { base32, totp, wrongCode } from "../../../../clients/js/test/totp.mjs";

const [base, windowSecs, screenshot] = process.argv.slice(2);
const email = "grace@example.com";
const password = "correct horse battery staple";

const api = tesseraApi(base);

assert.equal((await api("POST", "/auth/register", { body: { email, password } })).status, 201);
// Another device, signed in with the password alone before the factor exists.
const other = await api("POST", "/auth/login", { body: { email, password } });
assert.equal(other.status, 200);

const browser = await launch();
try {
  const context = await browser.newContext({ viewport: { width: 1000, height: 900 }, deviceScaleFactor: 1 });
  const page = await context.newPage();
  const violations = await watch(page);
  const status = (text) => page.getByRole("status").filter({ hasText: text }).waitFor();
  const alert = (text) => page.getByRole("alert").filter({ hasText: text }).waitFor();

  async function signIn() {
    await page.getByLabel("Email", { exact: true }).fill(email);
    await page.getByLabel("Password", { exact: true }).fill(password);
    await page.getByRole("button", { name: "Sign in", exact: true }).click();
  }
  async function signOut() {
    await page.getByRole("button", { name: "Sign out", exact: true }).click();
    await page.getByRole("heading", { name: "Sign in" }).waitFor();
  }

  await page.goto(base + "/");
  await page.getByLabel("Email", { exact: true }).waitFor();
  await signIn();
  await page.getByRole("heading", { name: "Your sessions" }).waitFor();
  await page.getByText("Off: your password alone signs you in").waitFor();

  // Enrol: a QR code the browser draws (an image the CSP allows), and the key as text.
  await page.getByRole("button", { name: "Add an authenticator app" }).click();
  const qr = page.getByRole("img", { name: "QR code for your authenticator app" });
  await qr.waitFor();
  await page.waitForFunction(() => document.getElementById("enrol-qr").naturalWidth > 0);
  assert.match(await qr.getAttribute("src"), /^data:image\/svg\+xml/);
  const secret = base32(await page.locator("#enrol-secret").textContent());
  assert.equal(secret.length, 20, "a 160-bit secret");
  await page.screenshot({ path: screenshot });

  await page.getByLabel("Code from the app").fill(wrongCode(secret));
  await page.getByRole("button", { name: "Turn on" }).click();
  await alert("That code didn't work");
  await page.getByLabel("Code from the app").fill(totp(secret));
  await page.getByRole("button", { name: "Turn on" }).click();
  await status("Two-step verification is on");
  const codes = page.getByRole("list", { name: "Recovery codes" }).getByRole("listitem");
  await page.waitForFunction(() => document.querySelectorAll("#codes-list li").length === 10);
  const first = await codes.allTextContents();
  assert.equal(new Set(first).size, 10);
  await page.getByText("On: signing in needs your password and a code").waitFor();
  // The password-only session of the other device ended with the first factor.
  const gone = await api("GET", "/auth/me", { token: other.body.access_token });
  assert.equal(gone.status, 401);
  assert.equal(gone.body.code, "session_revoked");
  await page.getByRole("button", { name: "I have saved them" }).click();
  assert.equal(await page.locator("#codes-list li").count(), 0, "the codes leave the page once saved");

  // New codes need aal2: this tab's token was refreshed after the confirmation, so it says so.
  await page.getByRole("button", { name: "New recovery codes" }).click();
  await status("New recovery codes");
  await page.waitForFunction(() => document.querySelectorAll("#codes-list li").length === 10);
  const fresh = await codes.allTextContents();
  assert.ok(fresh.every((c) => !first.includes(c)), "a whole new set");
  await page.getByRole("button", { name: "I have saved them" }).click();

  // Two steps: the password, then the app's code (the next step: the current one was spent).
  await signOut();
  await signIn();
  await page.getByRole("heading", { name: "Two-step verification" }).waitFor();
  await page.getByLabel("Code from your app", { exact: true }).fill(wrongCode(secret));
  await page.getByRole("button", { name: "Verify" }).click();
  await alert("That code didn't work");
  await page.getByLabel("Code from your app", { exact: true }).fill(totp(secret, 1));
  await page.getByRole("button", { name: "Verify" }).click();
  await page.getByRole("heading", { name: "Your sessions" }).waitFor();
  const storage = await page.evaluate(() => [localStorage.length, sessionStorage.length]);
  assert.deepEqual(storage, [0, 0], "nothing of the sign-in is stored");

  // Or a recovery code: the replaced set no longer works, the new one does (once).
  await signOut();
  await signIn();
  await page.getByRole("button", { name: "Use a recovery code instead" }).click();
  await page.getByLabel("Recovery code", { exact: true }).fill(first[0]);
  await page.getByRole("button", { name: "Verify" }).click();
  await alert("That code didn't work");
  await page.getByLabel("Recovery code", { exact: true }).fill(fresh[0]);
  await page.getByRole("button", { name: "Verify" }).click();
  await page.getByRole("heading", { name: "Your sessions" }).waitFor();
  const signedInAt = Date.now();

  // Once the sign-in is older than mfa.enroll_window, a change asks "confirm it's you" first,
  // with the password and a code, then goes ahead.
  await page.waitForTimeout(Math.max(0, Number(windowSecs) * 1000 + 1500 - (Date.now() - signedInAt)));
  await page.getByRole("button", { name: "Remove Authenticator app" }).click();
  await page.getByRole("heading", { name: "Confirm it's you" }).waitFor();
  await page.getByLabel("Your password", { exact: true }).fill(password);
  await page.getByLabel("Code from your app, or a recovery code").fill(first[1]);
  await page.getByRole("button", { name: "Confirm" }).click();
  await alert("That code didn't work");
  await page.getByLabel("Your password", { exact: true }).fill(password);
  await page.getByLabel("Code from your app, or a recovery code").fill(fresh[1]);
  await page.getByRole("button", { name: "Confirm" }).click();
  await status("Authenticator app was removed");
  await page.getByText("Off: your password alone signs you in").waitFor();
  assert.equal(await page.locator("#factors li").count(), 0);

  // Without a factor, the password alone signs in again.
  await signOut();
  await signIn();
  await page.getByRole("heading", { name: "Your sessions" }).waitFor();

  assert.deepEqual(violations, [], "no CSP violations or console errors");
  console.log("mfa browser test passed");
} finally {
  await browser.close();
}
