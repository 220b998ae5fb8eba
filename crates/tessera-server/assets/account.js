// The account page: the first user of the browser client (/tessera.js, from clients/js). The
// client keeps the access token in memory, the refresh token in the HttpOnly cookie, sends the
// CSRF token, and refreshes once for all open tabs; this file only draws what it reports.
import { createClient } from "/tessera.js";
import { mountMfa } from "/account-mfa.js";

const $ = (id) => document.getElementById(id);
// Bound to a key only this browser holds (DPoP): a token copied out of the page is worthless.
// Proofs name the issuer's URL (API.md §10), so the page binds only when browsed there (the
// zero-config issuer is http://127.0.0.1:8080; browsed as localhost:8080, it signs in unbound).
const issuer = await fetch("/.well-known/oauth-authorization-server", { cache: "no-store" })
  .then((r) => r.json())
  .then((m) => m.issuer, () => null);
const atIssuer = typeof issuer === "string" && URL.canParse(issuer) && new URL(issuer).origin === location.origin;
const client = createClient({ transport: "cookie", dpop: atIssuer });

const MESSAGES = {
  invalid_credentials: "That email and password don't match an account.",
  invalid_request: "Please enter your email and password.",
  account_banned: "This account has been suspended. Contact support for help.",
  password_expired: "Your password has expired. Change it before signing in.",
  unavailable: "The service is briefly unavailable. Please try again in a moment.",
  session_revoked: "This session was signed out. Please sign in again.",
  session_expired: "Your session has expired. Please sign in again.",
  refresh_token_reused: "For your safety this session was signed out. Please sign in again.",
  invalid_email_token: "This link is invalid, used or expired. Ask for a new one.",
  weak_password: "Please choose a longer, less common password.",
  email_not_verified: "Please confirm your email first: use the link we sent you.",
  email_not_configured: "This server cannot send email. Ask your administrator to reset your password.",
  invalid_mfa_code: "That code didn't work. Check it (and your phone's clock) and try again.",
  invalid_mfa_token: "That sign-in took too long or had too many wrong codes. Please sign in again.",
  insufficient_user_authentication: "Please confirm it's you first.",
};

/** What the page says when the client reports a sign-out it did not ask for. */
const SIGNED_OUT = {
  revoked: MESSAGES.session_revoked,
  expired: MESSAGES.session_expired,
  reused: MESSAGES.refresh_token_reused,
};

function message(problem) {
  if (problem && problem.code === "rate_limited") {
    const s = problem.retryAfter || 60;
    return `Too many attempts. Please wait ${s} second${s === 1 ? "" : "s"} and try again.`;
  }
  return (problem && MESSAGES[problem.code]) || "Something went wrong. Please try again.";
}

const VIEWS = ["signin", "second", "confirm", "account", "forgot", "reset"];

function show(view, error = "") {
  $("loading").hidden = true;
  for (const v of VIEWS) $(v).hidden = v !== view;
  const session = client.session();
  $("who").textContent = session ? session.user.email : "";
  $("who").hidden = !session;
  if (view === "signin") {
    $("signin-error").textContent = error;
    $("signin-error").hidden = !error;
    $("email").focus();
    mfa.signinShown();
  }
}

/** A message on the sign-in card (a reset done, an email confirmed). */
function signinNotice(text) {
  $("signin-notice").textContent = text;
  $("signin-notice").hidden = !text;
}

function device(ua) {
  if (!ua) return { name: "Unknown device", phone: false };
  if (ua === "tessera-cli") return { name: "Command line", phone: false };
  const browser = /Edg\//.test(ua) ? "Edge" : /OPR\//.test(ua) ? "Opera" : /Firefox\//.test(ua) ? "Firefox"
    : /Chrome\//.test(ua) ? "Chrome" : /Safari\//.test(ua) ? "Safari" : null;
  const os = /Android/.test(ua) ? "Android" : /iPhone|iPad/.test(ua) ? "iOS" : /Mac OS X/.test(ua) ? "macOS"
    : /Windows/.test(ua) ? "Windows" : /CrOS/.test(ua) ? "ChromeOS" : /Linux/.test(ua) ? "Linux" : null;
  const phone = /Android|iPhone|iPad|Mobile/.test(ua);
  if (browser && os) return { name: `${browser} on ${os}`, phone };
  return { name: browser || os || ua.slice(0, 60), phone };
}

function ago(iso) {
  const s = Math.max(0, (Date.now() - Date.parse(iso)) / 1000);
  if (s < 60) return "Active just now";
  const units = [[86400, "day"], [3600, "hour"], [60, "minute"]];
  for (const [size, unit] of units) {
    if (s >= size) {
      const n = Math.floor(s / size);
      return `Active ${n} ${unit}${n === 1 ? "" : "s"} ago`;
    }
  }
  return "Active recently";
}

function notice(text) {
  $("account-notice").textContent = text;
  $("account-notice").hidden = !text;
}

function fail(e) {
  // A 401 here means the session is gone: the client has reported it, and onChange shows why.
  if (e && e.status === 401) return;
  $("account-error").textContent = message(e);
  $("account-error").hidden = false;
}

async function loadSessions() {
  $("account-error").hidden = true;
  const sessions = await client.sessions();
  const list = $("sessions");
  list.replaceChildren();
  for (const s of sessions) {
    const row = $("session-row").content.firstElementChild.cloneNode(true);
    const d = device(s.user_agent);
    row.dataset.id = s.id;
    row.classList.toggle("phone", d.phone);
    row.querySelector(".name").textContent = d.name;
    row.querySelector(".name").title = s.user_agent || "";
    row.querySelector(".ip").textContent = s.ip || "Unknown location";
    row.querySelector(".seen").textContent = s.current ? "Active now" : ago(s.last_active_at);
    if (s.namespace && s.namespace !== "default") row.querySelector(".ns").textContent = s.namespace;
    else row.querySelector(".ns-wrap").hidden = true;
    const revoke = row.querySelector(".revoke");
    if (s.current) {
      row.querySelector(".badge").hidden = false;
      revoke.hidden = true;
    } else {
      revoke.setAttribute("aria-label", `Revoke ${d.name}`);
      revoke.addEventListener("click", () => revokeOne(s.id, d.name, revoke));
    }
    list.append(row);
  }
  $("revoke-others").hidden = sessions.length < 2;
}

async function showAccount() {
  show("account");
  try {
    await Promise.all([loadSessions(), mfa.load()]);
  } catch (e) {
    fail(e);
  }
}

const mfa = mountMfa({ $, client, show, message, showAccount, loadSessions });

async function revokeOne(id, name, button) {
  button.disabled = true;
  try {
    await client.revokeSession(id);
    await loadSessions();
    notice(`${name} was signed out.`);
  } catch (e) {
    button.disabled = false;
    fail(e);
  }
}

$("revoke-others").addEventListener("click", async (ev) => {
  ev.currentTarget.disabled = true;
  try {
    const revoked = await client.revokeOtherSessions();
    await loadSessions();
    notice(`Signed out ${revoked} other device${revoked === 1 ? "" : "s"}.`);
  } catch (e) {
    fail(e);
  } finally {
    $("revoke-others").disabled = false;
  }
});

$("signout").addEventListener("click", () => client.signOut());

$("signin-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const email = $("email").value.trim();
  const password = $("password").value;
  const error = $("signin-error");
  error.hidden = true;
  if (!email || !password) {
    error.textContent = MESSAGES.invalid_request;
    error.hidden = false;
    return;
  }
  $("signin-submit").disabled = true;
  try {
    mfa.stopAutofill();
    await client.signIn({ email, password });
    $("password").value = "";
  } catch (e) {
    if (e.code === "mfa_required") {
      $("password").value = "";
      mfa.secondStep(e);
      return;
    }
    error.textContent = message(e);
    error.hidden = false;
  } finally {
    $("signin-submit").disabled = false;
  }
});

// Every change of the session, in this tab or another one, lands here.
client.onChange((event) => {
  // A reset link being followed keeps its form up whatever the session does meanwhile.
  if (event.type === "signedIn" && !resetToken) showAccount();
  else if (event.type === "signedOut") {
    notice("");
    mfa.reset();
    $("password").value = "";
    show("signin", SIGNED_OUT[event.reason] || "");
  }
});

// Account recovery (API.md §7): the links carry their token in the fragment, which no server
// sees; it is read, then cleared from the address bar before anything else happens.
let resetToken = null;

$("forgot-link").addEventListener("click", () => {
  $("forgot-email").value = $("email").value;
  $("forgot-status").hidden = true;
  $("forgot-error").hidden = true;
  show("forgot");
  $("forgot-email").focus();
});
$("forgot-back").addEventListener("click", () => show("signin"));

$("forgot-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const email = $("forgot-email").value.trim();
  $("forgot-error").hidden = true;
  if (!email) {
    $("forgot-error").textContent = "Please enter your email.";
    $("forgot-error").hidden = false;
    return;
  }
  $("forgot-submit").disabled = true;
  try {
    await client.requestPasswordReset(email);
    // The same words whether or not the address has an account.
    $("forgot-status").textContent = `If ${email} has an account, a link to reset its password is on its way.`;
    $("forgot-status").hidden = false;
  } catch (e) {
    $("forgot-error").textContent = message(e);
    $("forgot-error").hidden = false;
  } finally {
    $("forgot-submit").disabled = false;
  }
});

$("reset-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  $("reset-error").hidden = true;
  $("reset-submit").disabled = true;
  try {
    await client.resetPassword({ token: resetToken, newPassword: $("new-password").value });
    resetToken = null;
    $("new-password").value = "";
    show("signin");
    signinNotice("Your password was changed and every device was signed out. Sign in with your new password.");
  } catch (e) {
    $("reset-error").textContent = message(e);
    $("reset-error").hidden = false;
  } finally {
    $("reset-submit").disabled = false;
  }
});

/** The `name` parameter of the fragment, which is then cleared from the address bar. */
function takeFromFragment(name) {
  const params = new URLSearchParams(location.hash.slice(1));
  const value = params.get(name);
  if (value) history.replaceState(null, "", location.pathname + location.search);
  return value;
}

/** A reset or verification link opened here: its form, or its answer. */
async function followLink(session) {
  resetToken = takeFromFragment("reset_token");
  const verifyToken = resetToken ? null : takeFromFragment("verify_token");
  const note = verifyToken
    ? await client.verifyEmail(verifyToken).then(
        () => "Your email is confirmed. Thank you.",
        (e) => message(e),
      )
    : "";
  if (resetToken) {
    $("reset-error").hidden = true;
    show("reset");
    $("new-password").focus();
  } else if (!session) {
    show("signin");
    signinNotice(note);
  } else {
    show("account");
    notice(note);
  }
}

// A link opened in a tab where the page already runs changes only the fragment.
window.addEventListener("hashchange", () => followLink(client.session()));

// A restored session is drawn by its signedIn event; a link's form goes over it.
client.ready.then((session) => followLink(session));
