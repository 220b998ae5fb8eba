// Account recovery in Debian's Chromium against the real server and a real SMTP server: ask for
// a reset on the account page, read the mail the SMTP catcher received, open its link, set a new
// password, sign in; the old sessions are gone. Then the verification link of the registration.
// Usage: node recovery.mjs BASE_URL ADMIN_KEY MAIL_DIR
import { launch } from "./chromium.mjs";
import assert from "node:assert/strict";
import { readdir, readFile } from "node:fs/promises";

const [base, adminKey, mailDir] = process.argv.slice(2);
const email = "recover@example.com";
const password = "correct horse battery staple";
const newPassword = "an entirely new horse battery";
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function api(method, path, { body, token, key } = {}) {
  const headers = { "content-type": "application/json" };
  if (token) headers.authorization = `Bearer ${token}`;
  if (key) headers["x-api-key"] = key;
  const res = await fetch(base + path, { method, headers, body: body && JSON.stringify(body) });
  return { status: res.status, body: res.status === 204 ? null : await res.json() };
}

/** Waits for a mail whose text holds `#field=`; returns its link's fragment and the mail. */
async function mailWith(field) {
  for (let i = 0; i < 200; i++) {
    for (const f of (await readdir(mailDir)).filter((f) => f.endsWith(".json"))) {
      const mail = JSON.parse(await readFile(`${mailDir}/${f}`, "utf8"));
      const m = mail.text.match(new RegExp(`(\\S*)#${field}=([A-Za-z0-9_-]+)`));
      if (mail.rcpt_tos.includes(email) && m) return { linkBase: m[1], fragment: `#${field}=${m[2]}`, mail };
    }
    await sleep(50);
  }
  throw new Error(`no mail with ${field}`);
}

const reg = await api("POST", "/auth/register", { body: { email, password } });
assert.equal(reg.status, 201);
const other = await api("POST", "/auth/login", { body: { email, password } });
assert.equal(other.status, 200);

const browser = await launch();
try {
  const context = await browser.newContext();
  const page = await context.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(e.message));
  await page.goto(base + "/");

  // Forgot your password? The answer is the same whoever asks.
  await page.getByRole("button", { name: "Forgot your password?" }).click();
  await page.locator("#forgot-email").fill(email);
  await page.getByRole("button", { name: "Send the link" }).click();
  await page.getByRole("status").filter({ hasText: "a link to reset its password is on its way" }).waitFor();

  // The mail: the link's base is the configured page, the token only in the fragment.
  const reset = await mailWith("reset_token");
  assert.equal(reset.linkBase, "http://tessera.test/");
  assert.equal(reset.mail.headers.Subject, "Reset your Tessera password");

  // Open the link (on this test server's address): the form, and the token gone from the bar.
  await page.goto(base + "/" + reset.fragment);
  await page.getByRole("heading", { name: "Choose a new password" }).waitFor();
  assert.ok(!page.url().includes("reset_token"), `the token stays in the address bar: ${page.url()}`);
  await page.locator("#new-password").fill("short");
  await page.getByRole("button", { name: "Set the password" }).click();
  await page.getByRole("alert").filter({ hasText: "longer, less common password" }).waitFor();
  await page.locator("#new-password").fill(newPassword);
  await page.getByRole("button", { name: "Set the password" }).click();
  await page.getByRole("status").filter({ hasText: "Your password was changed" }).waitFor();

  // The old sessions are gone; the new password signs in, and this is the only session.
  for (const t of [reg.body, other.body]) {
    const me = await api("GET", "/auth/me", { token: t.access_token });
    assert.equal(me.status, 401);
    assert.equal(me.body.code, "session_revoked");
  }
  await page.locator("#email").fill(email);
  await page.locator("#password").fill(newPassword);
  await page.getByRole("button", { name: "Sign in", exact: true }).click();
  await page.getByRole("heading", { name: "Your sessions" }).waitFor();
  await page.waitForFunction(() => document.querySelectorAll("#sessions li").length === 1);

  // The same link again: refused, and said so.
  await page.goto(base + "/" + reset.fragment);
  await page.locator("#new-password").fill("yet another new horse battery");
  await page.getByRole("button", { name: "Set the password" }).click();
  await page.getByRole("alert").filter({ hasText: "invalid, used or expired" }).waitFor();

  // The registration's verification link: confirmed, and the token gone from the bar.
  const verify = await mailWith("verify_token");
  await page.goto(base + "/" + verify.fragment);
  await page.getByText("Your email is confirmed").waitFor();
  assert.ok(!page.url().includes("verify_token"));
  const user = await api("GET", `/admin/users/${reg.body.user.id}`, { key: adminKey });
  assert.equal(user.body.email_verified, true);

  assert.deepEqual(errors, []);
  console.log("recovery browser test passed");
} finally {
  await browser.close();
}
