// examples/browser-spa in Chromium, exactly as docs/browser-client.md shows it: the page and
// Tessera on one origin, /api/* passed to the tessera-axum example resource server (as the
// reverse proxy of the docs would). Usage: node spa.mjs TESSERA_URL API_URL
import { launch } from "./chromium.mjs";
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";

const [base, apiBase] = process.argv.slice(2);
const email = "spa@example.com";
const password = "correct horse battery staple";
const example = new URL("../../../../examples/browser-spa/", import.meta.url);

const reg = await fetch(`${base}/auth/register`, {
  method: "POST",
  headers: { "content-type": "application/json" },
  body: JSON.stringify({ email, password }),
});
assert.equal(reg.status, 201); // a session on "another device", to list and revoke

const browser = await launch();
try {
  const context = await browser.newContext();
  // The reverse proxy: the app's files, and /api/* to the resource server.
  await context.route(`${base}/spa/**`, async (route) => {
    const file = new URL(route.request().url()).pathname.replace(/^\/spa\/?/, "") || "index.html";
    const type = file.endsWith(".js") ? "text/javascript" : "text/html";
    await route.fulfill({ contentType: type, body: await readFile(new URL(file, example), "utf8") });
  });
  await context.route(`${base}/api/**`, async (route) => {
    const url = apiBase + new URL(route.request().url()).pathname.replace(/^\/api/, "");
    await route.fulfill({ response: await route.fetch({ url }) });
  });
  const page = await context.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(e.message));
  await page.goto(`${base}/spa/`);

  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in", exact: true }).click();
  await page.getByText(`Signed in as ${email}`).waitFor();

  // The API protected by tessera-axum answers with the token's subject.
  await page.getByRole("button", { name: "Call the API" }).click();
  await page.locator("#answer").filter({ hasText: /^200 / }).waitFor();
  const answer = JSON.parse((await page.locator("#answer").textContent()).slice(4));
  assert.equal(answer.sub, (await reg.json()).user.id);

  // Devices: this one and the registration's; revoke the other.
  await page.waitForFunction(() => document.querySelectorAll("#devices li").length === 2);
  await page.getByRole("button", { name: "Revoke" }).click();
  await page.waitForFunction(() => document.querySelectorAll("#devices li").length === 1);

  await page.getByRole("button", { name: "Sign out", exact: true }).click();
  await page.getByText("Signed out").waitFor();
  // Signed out: the API refuses the page's calls (there is no token to send).
  assert.equal(await page.evaluate(async () => (await fetch("/api/hello")).status), 401);
  assert.deepEqual(errors, []);
  console.log("spa browser test passed");
} finally {
  await browser.close();
}
