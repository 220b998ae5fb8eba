// Passkeys through the account page in Debian's Chromium (issue 23), with a virtual authenticator
// (Chrome DevTools Protocol: ctap2, internal, resident key, user verification): add a passkey,
// sign in with it alone, use it as the second step after the password and to confirm it's you;
// a user who did not verify and a bogus signature are refused. Browsed at http://localhost:PORT
// (WebAuthn refuses IP addresses). Usage: node passkey.mjs BASE_URL ENROLL_WINDOW_SECS
import assert from "node:assert/strict";
import { launch, tesseraApi, watch } from "./chromium.mjs";

const [base, windowSecs] = process.argv.slice(2);
const email = "ada.passkey@example.com";
const password = "correct horse battery staple";

const api = tesseraApi(base);

assert.equal((await api("POST", "/auth/register", { body: { email, password } })).status, 201);

const browser = await launch();
try {
  const context = await browser.newContext({ viewport: { width: 1000, height: 900 } });
  const page = await context.newPage();
  const violations = await watch(page);
  const cdp = await context.newCDPSession(page);
  await cdp.send("WebAuthn.enable");
  const { authenticatorId } = await cdp.send("WebAuthn.addVirtualAuthenticator", {
    options: {
      protocol: "ctap2",
      transport: "internal",
      hasResidentKey: true,
      hasUserVerification: true,
      isUserVerified: true,
      automaticPresenceSimulation: true,
    },
  });
  const alert = (text) => page.getByRole("alert").filter({ hasText: text }).waitFor();
  const status = (text) => page.getByRole("status").filter({ hasText: text }).waitFor();
  const heading = (name) => page.getByRole("heading", { name }).waitFor();
  async function signOut() {
    await page.getByRole("button", { name: "Sign out", exact: true }).click();
    await heading("Sign in");
  }

  await page.goto(base + "/");
  await page.getByLabel("Email", { exact: true }).fill(email);
  await page.getByLabel("Password", { exact: true }).fill(password);
  await page.getByRole("button", { name: "Sign in", exact: true }).click();
  await heading("Your sessions");

  // Add a passkey: the authenticator now holds one resident credential for localhost.
  await page.getByRole("button", { name: "Add a passkey" }).click();
  await status("Passkey added");
  const { credentials } = await cdp.send("WebAuthn.getCredentials", { authenticatorId });
  assert.equal(credentials.length, 1);
  assert.equal(credentials[0].isResidentCredential, true);
  assert.equal(credentials[0].rpId, "localhost");
  await page.waitForFunction(() => document.querySelectorAll("#codes-list li").length === 10);
  await page.getByRole("button", { name: "I have saved them" }).click();
  await page.getByText("On: sign in with a passkey").waitFor();
  await page.locator("#factors li", { hasText: "Passkey" }).waitFor();

  // The sign-in card offers passkeys in the email field's autofill (conditional mediation):
  // the virtual authenticator, which needs no person, answers it at once, so signing out lands
  // back in the account, signed in with the passkey alone.
  await page.getByRole("button", { name: "Sign out", exact: true }).click();
  await heading("Your sessions");
  assert.equal(await page.locator("#who").textContent(), email);
  // From here, without autofill (as a browser that has none), the button.
  await page.addInitScript(() => {
    if (window.PublicKeyCredential) PublicKeyCredential.isConditionalMediationAvailable = async () => false;
  });
  await page.reload();
  await heading("Your sessions");
  await signOut();
  await page.waitForTimeout(300);
  await heading("Sign in");
  await page.getByRole("button", { name: "Sign in with a passkey" }).click();
  await heading("Your sessions");
  assert.equal(await page.locator("#who").textContent(), email);

  // A user who did not verify, then a bogus signature: refused, with words.
  await signOut();
  await cdp.send("WebAuthn.setUserVerified", { authenticatorId, isUserVerified: false });
  await page.getByRole("button", { name: "Sign in with a passkey" }).click();
  await alert("passkey");
  await cdp.send("WebAuthn.setUserVerified", { authenticatorId, isUserVerified: true });
  await cdp.send("WebAuthn.setResponseOverrideBits", { authenticatorId, isBogusSignature: true });
  await page.getByRole("button", { name: "Sign in with a passkey" }).click();
  await alert("could not be verified");
  await cdp.send("WebAuthn.setResponseOverrideBits", { authenticatorId, isBogusSignature: false });
  await heading("Sign in");

  // The password, then the passkey as the second step.
  await page.getByLabel("Email", { exact: true }).fill(email);
  await page.getByLabel("Password", { exact: true }).fill(password);
  await page.getByRole("button", { name: "Sign in", exact: true }).click();
  await heading("Two-step verification");
  await page.getByRole("button", { name: "Use your passkey" }).click();
  await heading("Your sessions");
  const signedInAt = Date.now();

  // Once the sign-in is older than mfa.enroll_window, a change asks "confirm it's you": the
  // passkey does it, and the change goes ahead (here: new recovery codes).
  await page.waitForTimeout(Math.max(0, Number(windowSecs) * 1000 + 1500 - (Date.now() - signedInAt)));
  await page.getByRole("button", { name: "New recovery codes" }).click();
  await heading("Confirm it's you");
  await page.getByRole("button", { name: "Use a passkey instead" }).click();
  await status("New recovery codes");
  await page.waitForFunction(() => document.querySelectorAll("#codes-list li").length === 10);

  const { credentials: after } = await cdp.send("WebAuthn.getCredentials", { authenticatorId });
  assert.ok(after[0].signCount >= 4, `the counter moved with each use: ${after[0].signCount}`);
  assert.deepEqual(violations, [], "no CSP violations or console errors");
  console.log("passkey browser test passed");
} finally {
  await browser.close();
}
