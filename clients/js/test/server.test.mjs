// The client against a real Tessera, from Node with the body transport. The Rust test
// `js_client` starts the server and sets TESSERA_URL and TESSERA_ADMIN_KEY; run alone, these
// tests skip with a notice.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createClient, memoryStorage } from "../tessera.js";
import { base32, totp, wrongCode } from "./totp.mjs";

const url = process.env.TESSERA_URL;
const adminKey = process.env.TESSERA_ADMIN_KEY;
const skip = url ? false : "TESSERA_URL is not set (the Rust test js_client sets it)";
if (skip) console.error(`\n*** SKIPPED: the client's server tests: ${skip} ***\n`);
const password = "correct horse battery staple";
let n = 0;
const email = () => `js-${process.pid}-${++n}@example.com`;

function client(storage = memoryStorage()) {
  const c = createClient({ baseUrl: url, transport: "body", storage });
  const events = [];
  c.onChange((e) => events.push(e.type === "signedOut" ? `signedOut:${e.reason}` : e.type));
  return Object.assign(c, { events, storage });
}

async function admin(method, path, body) {
  const res = await fetch(url + path, {
    method,
    headers: { "X-Api-Key": adminKey, "Content-Type": "application/json" },
    body: body && JSON.stringify(body),
  });
  return { status: res.status, body: res.status === 204 ? null : await res.json() };
}

test("sign up, call a protected route, refresh with rotation, sign out", { skip }, async (t) => {
  const c = client();
  t.after(() => c.close());
  assert.equal(await c.ready, null);
  const address = email();
  const s = await c.signUp({ email: address, password });
  assert.equal(s.user.email, address);
  assert.ok(s.accessExpiresIn > 0);
  const me = await (await c.fetch(`${url}/auth/me`)).json();
  assert.equal(me.session.id, s.sessionId);

  const key = `tessera:${new URL(url).origin}:refresh`;
  const first = c.storage.getItem(key);
  assert.match(first, /^rt_/);
  assert.equal(await c.refresh(), true);
  const second = c.storage.getItem(key);
  assert.notEqual(second, first, "the refresh token rotated and the new one is kept");
  assert.equal(c.session().sessionId, s.sessionId);

  // A second client resumes from the stored refresh token.
  const again = client(c.storage);
  t.after(() => again.close());
  assert.equal((await again.ready).sessionId, s.sessionId);

  await again.signOut();
  assert.equal(c.storage.getItem(key), null);
  assert.equal((await fetch(`${url}/auth/me`, { headers: { Authorization: `Bearer ${await c.accessToken()}` } })).status, 401);
  assert.deepEqual(again.events, ["signedIn", "signedOut:user"]);
});

test("sessions, revoking one, revoking the others, changing the password", { skip }, async (t) => {
  const address = email();
  const a = client();
  const b = client();
  const c = client();
  t.after(() => [a, b, c].forEach((x) => x.close()));
  await a.signUp({ email: address, password });
  await b.signIn({ email: address, password });
  await c.signIn({ email: address, password });
  const list = await a.sessions();
  assert.equal(list.length, 3);
  assert.equal(list.filter((s) => s.current).length, 1);
  assert.equal(list.find((s) => s.current).id, a.session().sessionId);

  await a.revokeSession(b.session().sessionId);
  assert.equal((await b.fetch(`${url}/auth/me`)).status, 401);
  assert.deepEqual(b.events, ["signedIn", "signedOut:revoked"], "b learns at its next call, with the reason");

  assert.equal(await a.revokeOtherSessions(), 1);
  assert.equal((await a.sessions()).length, 1);

  const newPassword = "another correct horse battery";
  await assert.rejects(a.changePassword({ currentPassword: "wrong password entirely", newPassword }), {
    name: "TesseraError",
    status: 401,
    code: "invalid_credentials",
  });
  await a.changePassword({ currentPassword: password, newPassword });
  assert.equal((await a.fetch(`${url}/auth/me`)).status, 200, "this session lives on");

  await a.revokeSession(a.session().sessionId);
  assert.equal(a.status(), "signedOut");
  assert.deepEqual(a.events, ["signedIn", "signedOut:user"]);
});

test("errors arrive as TesseraError with the API's code", { skip }, async (t) => {
  const c = client();
  t.after(() => c.close());
  await assert.rejects(c.signIn({ email: email(), password: "not the password at all" }), {
    status: 401,
    code: "invalid_credentials",
  });
  await assert.rejects(c.signUp({ email: "not an email", password }), { status: 422, code: "invalid_email" });
  await assert.rejects(c.sessions(), { status: 401, code: "missing_token" });
  assert.equal(c.status(), "signedOut");
});

test("an admin revocation ends the session with reason revoked", { skip }, async (t) => {
  const c = client();
  t.after(() => c.close());
  const { user } = await c.signUp({ email: email(), password });
  const revoked = await admin("DELETE", `/admin/users/${user.id}/sessions`);
  assert.equal(revoked.status, 200);
  assert.equal((await c.fetch(`${url}/auth/me`)).status, 401);
  assert.equal(c.status(), "signedOut");
  assert.deepEqual(c.events, ["signedIn", "signedOut:revoked"]);
});

test("a stolen refresh token used after the grace: the client learns `reused`", { skip }, async (t) => {
  const c = client();
  t.after(() => c.close());
  await c.signUp({ email: email(), password });
  const key = `tessera:${new URL(url).origin}:refresh`;
  const stolen = c.storage.getItem(key);
  // The thief refreshes first; the client, now holding a rotated-out token, comes back later.
  const thief = await fetch(`${url}/auth/refresh`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ refresh_token: stolen }),
  });
  assert.equal(thief.status, 200);
  await new Promise((r) => setTimeout(r, Number(process.env.TESSERA_REUSE_GRACE_MS ?? 1000) + 300));
  assert.equal(await c.refresh(), false);
  assert.equal(c.status(), "signedOut");
  assert.deepEqual(c.events, ["signedIn", "signedOut:reused"]);
});

test("recovery and verification calls reach their routes (this server sends no mail)", { skip }, async (t) => {
  const c = client();
  t.after(() => c.close());
  await c.signUp({ email: email(), password });
  await assert.rejects(c.requestPasswordReset("anyone@example.com"), { status: 501, code: "email_not_configured" });
  await assert.rejects(c.sendVerification(), { status: 501, code: "email_not_configured" });
  await assert.rejects(c.resetPassword({ token: "not-a-token", newPassword: "a long new password here" }), {
    status: 400,
    code: "invalid_email_token",
  });
  await assert.rejects(c.verifyEmail("not-a-token"), { status: 400, code: "invalid_email_token" });
});

/** The claims of an access token (read, not verified: the server's tests verify). */
const claims = (token) => JSON.parse(Buffer.from(token.split(".")[1], "base64url").toString());

test("second factors: enrol, sign in in two steps, step up, new codes, remove", { skip }, async (t) => {
  const address = email();
  const c = client();
  const other = client();
  t.after(() => [c, other].forEach((x) => x.close()));
  await c.signUp({ email: address, password });
  await other.signIn({ email: address, password });
  assert.deepEqual(await c.factors(), []);

  const e = await c.enrollTotp({ name: "phone" });
  assert.equal(e.factor.confirmed, false);
  assert.match(e.otpauth_url, /^otpauth:\/\/totp\//);
  assert.match(e.qr_svg, /<svg/);
  const secret = base32(e.secret);
  await assert.rejects(c.confirmTotp(e.factor.id, wrongCode(secret)), { status: 401, code: "invalid_mfa_code" });
  assert.equal(claims(await c.accessToken()).acr, "aal1");
  const confirmed = await c.confirmTotp(e.factor.id, totp(secret));
  assert.equal(confirmed.factor.confirmed, true);
  assert.equal(confirmed.recovery_codes.length, 10);
  // The client refreshed at once: this session's token now says aal2. The other session ended.
  assert.equal(claims(await c.accessToken()).acr, "aal2");
  assert.equal((await other.fetch(`${url}/auth/me`)).status, 401);
  assert.equal(other.status(), "signedOut");

  // Two steps: the first rejects with what the second needs.
  const second = client();
  t.after(() => second.close());
  const mfa = await second.signIn({ email: address, password }).then(
    () => assert.fail("a password alone signed in"),
    (err) => err,
  );
  assert.equal(mfa.code, "mfa_required");
  assert.match(mfa.mfaToken, /\S/);
  assert.deepEqual(mfa.factors, [{ id: e.factor.id, type: "totp", name: "phone" }]);
  assert.equal(second.status(), "signedOut");
  await assert.rejects(second.verifyMfa({ mfaToken: mfa.mfaToken, code: wrongCode(secret) }), {
    status: 401,
    code: "invalid_mfa_code",
  });
  const s = await second.verifyMfa({ mfaToken: mfa.mfaToken, code: confirmed.recovery_codes[0] });
  assert.equal(s.user.email, address);
  assert.equal(claims(await second.accessToken()).acr, "aal2");
  assert.ok(second.storage.getItem(`tessera:${new URL(url).origin}:refresh`), "the refresh token is kept");

  // Step up: a fresh auth_time, swapped into the same session.
  const before = await second.accessToken();
  await new Promise((r) => setTimeout(r, 1100));
  await assert.rejects(second.reauthenticate({ password, code: wrongCode(secret) }), { code: "invalid_mfa_code" });
  await second.reauthenticate({ password, code: confirmed.recovery_codes[1] });
  const after = await second.accessToken();
  assert.notEqual(after, before);
  assert.ok(claims(after).auth_time > claims(before).auth_time);
  assert.equal(claims(after).sid, claims(before).sid);
  assert.deepEqual(second.events, ["signedIn", "refreshed"]);

  const fresh = await second.newRecoveryCodes();
  assert.equal(fresh.length, 10);
  assert.ok(fresh.every((code) => !confirmed.recovery_codes.includes(code)));
  await second.removeFactor(e.factor.id);
  assert.deepEqual(await second.factors(), []);
  // The session whose second factor it was (the one that confirmed it) ended with it; this
  // one, opened with a recovery code, goes on.
  assert.equal((await c.fetch(`${url}/auth/me`)).status, 401);
  assert.equal(c.status(), "signedOut");
  assert.equal((await second.fetch(`${url}/auth/me`)).status, 200);
});
