// The account page: sign in with the cookie transport, list and revoke sessions, sign out.
// The access token lives only in this closure (never in storage); the refresh token is an
// HttpOnly cookie the page cannot read; every cookie-authenticated call sends the CSRF token.
"use strict";
(() => {
  const $ = (id) => document.getElementById(id);
  let accessToken = null;
  let csrfToken = null;

  const MESSAGES = {
    invalid_credentials: "That email and password don't match an account.",
    invalid_request: "Please enter your email and password.",
    account_banned: "This account has been suspended. Contact support for help.",
    password_expired: "Your password has expired. Change it before signing in.",
    unavailable: "The service is briefly unavailable. Please try again in a moment.",
    session_revoked: "This session was signed out. Please sign in again.",
    session_expired: "Your session has expired. Please sign in again.",
    refresh_token_reused: "For your safety this session was signed out. Please sign in again.",
  };

  function message(problem) {
    if (problem && problem.code === "rate_limited") {
      const s = problem.retryAfter || 60;
      return `Too many attempts. Please wait ${s} second${s === 1 ? "" : "s"} and try again.`;
    }
    return (problem && MESSAGES[problem.code]) || "Something went wrong. Please try again.";
  }

  function csrfFromCookie() {
    const row = document.cookie.split("; ").find((c) => /^(__Host-)?tessera_csrf=/.test(c));
    return row ? decodeURIComponent(row.slice(row.indexOf("=") + 1)) : null;
  }

  async function call(method, path, { body, auth = true, csrf = false } = {}) {
    const headers = {};
    if (body !== undefined) headers["Content-Type"] = "application/json";
    if (auth && accessToken) headers["Authorization"] = `Bearer ${accessToken}`;
    if (csrf) headers["X-CSRF-Token"] = csrfToken || csrfFromCookie() || "";
    const res = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "same-origin",
      cache: "no-store",
    });
    if (res.ok) return res.status === 204 ? null : res.json();
    let problem = { code: "error" };
    try { problem = await res.json(); } catch (_) { /* not JSON */ }
    problem.status = res.status;
    problem.retryAfter = Number(res.headers.get("Retry-After")) || undefined;
    throw problem;
  }

  function adopt(tokens) {
    accessToken = tokens.access_token;
    csrfToken = tokens.csrf_token;
    $("who").textContent = tokens.user.email;
    $("who").hidden = false;
  }

  // Uses the refresh cookie (plus the CSRF token) for a new access token.
  async function refresh() {
    if (!csrfFromCookie()) return false;
    try {
      adopt(await call("POST", "/auth/refresh", { auth: false, csrf: true }));
      return true;
    } catch (_) {
      return false;
    }
  }

  // Calls an access-token route, refreshing once if the token has expired.
  async function authed(method, path, opts) {
    try {
      return await call(method, path, opts);
    } catch (e) {
      if (e.code === "token_expired" && (await refresh())) return call(method, path, opts);
      throw e;
    }
  }

  function show(view) {
    $("loading").hidden = true;
    $("signin").hidden = view !== "signin";
    $("account").hidden = view !== "account";
    if (view === "signin") {
      accessToken = null;
      $("who").hidden = true;
      $("email").focus();
    }
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

  function fail(where, e) {
    if (e && e.status === 401) {
      show("signin");
      $("signin-error").textContent = message(e);
      $("signin-error").hidden = false;
      return;
    }
    $(where).textContent = message(e);
    $(where).hidden = false;
  }

  async function loadSessions() {
    $("account-error").hidden = true;
    const { sessions } = await authed("GET", "/auth/sessions");
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

  async function revokeOne(id, name, button) {
    button.disabled = true;
    try {
      await authed("DELETE", `/auth/sessions/${encodeURIComponent(id)}`);
      await loadSessions();
      notice(`${name} was signed out.`);
    } catch (e) {
      button.disabled = false;
      fail("account-error", e);
    }
  }

  $("revoke-others").addEventListener("click", async (ev) => {
    ev.currentTarget.disabled = true;
    try {
      const { revoked } = await authed("DELETE", "/auth/sessions?keep_current=true");
      await loadSessions();
      notice(`Signed out ${revoked} other device${revoked === 1 ? "" : "s"}.`);
    } catch (e) {
      fail("account-error", e);
    } finally {
      $("revoke-others").disabled = false;
    }
  });

  $("signout").addEventListener("click", async () => {
    try {
      await call("POST", "/auth/logout");
    } catch (_) {
      // Already signed out on the server: the cookies are cleared either way.
    }
    notice("");
    $("password").value = "";
    show("signin");
  });

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
      adopt(await call("POST", "/auth/login", { auth: false, body: { email, password, transport: "cookie" } }));
      $("password").value = "";
      show("account");
      await loadSessions();
    } catch (e) {
      error.textContent = message(e);
      error.hidden = false;
    } finally {
      $("signin-submit").disabled = false;
    }
  });

  (async () => {
    if (await refresh()) {
      show("account");
      try { await loadSessions(); } catch (e) { fail("account-error", e); }
    } else {
      show("signin");
    }
  })();
})();
