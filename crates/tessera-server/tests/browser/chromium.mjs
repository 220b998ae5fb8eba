// What every browser test starts with: Debian's Chromium, launched quietly, a watch on a page
// for CSP violations and console errors, and Tessera's API from Node (to set the scene).
import { chromium } from "playwright-core";

/** Debian's Chromium, headless, without the background traffic that would muddy timings. */
export function launch() {
  return chromium.launch({
    executablePath: "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
}

/**
 * Collects the page's CSP violations and console errors (less the 401s that deliberate wrong
 * passwords and codes log) into the array it returns. Call before the first navigation.
 */
export async function watch(page) {
  const violations = [];
  page.on("console", (m) => {
    if (m.type() === "error" && !m.text().includes("status of 401")) violations.push(m.text());
  });
  await page.exposeFunction("reportViolation", (v) => violations.push(v));
  await page.addInitScript(() => document.addEventListener("securitypolicyviolation",
    (e) => window.reportViolation(`${e.violatedDirective} ${e.blockedURI}`)));
  return violations;
}

/** `api(method, path, {body, token, ua})` against `base`: `{status, body}`. */
export function tesseraApi(base) {
  return async function api(method, path, { body, token, ua } = {}) {
    const headers = { "content-type": "application/json" };
    if (token) headers.authorization = `Bearer ${token}`;
    if (ua) headers["user-agent"] = ua;
    const res = await fetch(base + path, { method, headers, body: body && JSON.stringify(body) });
    return { status: res.status, body: res.status === 204 ? null : await res.json() };
  };
}
