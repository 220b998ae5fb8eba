// Tessera's browser client: one session shared by every tab, refreshed once per period for all of
// them, never lost to a race. No dependencies and no build step: import it from a
// <script type="module">, or from Node 20+ with the body transport.
//
// How the tabs agree (details in docs/browser-client.md):
// - A refresh runs under a Web Lock named after the Tessera origin, so one tab at a time does it.
//   The winner hands the new access token to the other tabs over a BroadcastChannel.
// - A tab that gets the lock first checks whether its token changed while it waited, then asks
//   the open tabs (counted by their presence locks) for a newer token. It refreshes only if no
//   tab has one. A tab that did not answer (frozen) is not waited for again until it speaks.
// - Every sign-out bumps a generation counter, and the ended session's id is remembered. A
//   response to a request started before the sign-out is dropped, and so is a token message
//   for an ended session.

/** Refresh this far ahead of expiry: a quarter of the token's life, at most a minute... */
const LEAD_FRACTION = 0.25;
const LEAD_MAX_MS = 60_000;
/** ...plus a random part, so the tabs' timers do not fire together. */
const JITTER_FRACTION = 0.1;
const JITTER_MAX_MS = 15_000;
/** How long a tab waits for the refresh lock before it takes it (a holder that hangs). */
const LOCK_WAIT_MS = 10_000;
/** How long a tab waits for the other tabs to answer "who has a newer token?". */
const ASK_TIMEOUT_MS = 2_000;
/** A request to Tessera that takes longer than this counts as a network failure. */
const REQUEST_TIMEOUT_MS = 15_000;
/** A token this close to its expiry is refreshed before it is sent. */
const SEND_MARGIN_MS = 500;
/**
 * A refresh this close to its time counts as due: browsers fire timers up to a few ms early
 * (the timer and `performance.now()` run on different clocks).
 */
const TIMER_SLACK_MS = 50;

const REASONS = {
  session_revoked: "revoked",
  account_banned: "revoked",
  refresh_token_reused: "reused",
  session_expired: "expired",
  invalid_refresh_token: "expired",
  csrf_failed: "expired",
};

/**
 * The `signedOut` reason for an error code of a refresh, or null when the code does not end the
 * session (a 429 or a 503 is retried instead).
 */
export function signOutReason(code) {
  return Object.hasOwn(REASONS, code) ? REASONS[code] : null;
}

/**
 * Milliseconds from receiving a token that lives `expiresInMs` until its refresh: ahead of
 * expiry by a quarter of its life (at most 60 s), less a random part of up to a tenth (at most
 * 15 s). Counted from the server's `expires_in`, never from the device's clock.
 */
export function refreshDelay(expiresInMs, random = Math.random) {
  const lead = Math.min(expiresInMs * LEAD_FRACTION, LEAD_MAX_MS);
  const jitter = Math.min(expiresInMs * JITTER_FRACTION, JITTER_MAX_MS) * random();
  return Math.max(0, expiresInMs - lead - jitter);
}

/** Backoff after the `attempt`-th failed refresh in a row: 0.5 s doubling to 30 s, half jittered. */
export function retryDelay(attempt, random = Math.random) {
  const full = Math.min(30_000, 500 * 2 ** Math.max(0, attempt - 1));
  return full / 2 + (full / 2) * random();
}

/** An error answer of Tessera (problem+json), or of a request that could not be made. */
export class TesseraError extends Error {
  constructor(status, problem = {}, retryAfter = undefined) {
    super(problem.title || problem.detail || `HTTP ${status}`);
    this.name = "TesseraError";
    this.status = status;
    this.code = typeof problem.code === "string" ? problem.code : "error";
    this.detail = problem.detail;
    this.retryAfter = retryAfter;
    // `mfa_required` (API.md §9.1): what the second step of the sign-in needs.
    if (typeof problem.mfa_token === "string") {
      this.mfaToken = problem.mfa_token;
      this.factors = Array.isArray(problem.factors) ? problem.factors : [];
    }
  }
}

async function problemOf(res) {
  let body = {};
  if ((res.headers.get("content-type") || "").includes("json")) {
    try {
      body = (await res.json()) || {};
    } catch {
      // Not JSON after all: the status alone has to do.
    }
  }
  return new TesseraError(res.status, body, Number(res.headers.get("retry-after")) || undefined);
}

// WebAuthn's JSON forms (API.md §9.3). Browsers with PublicKeyCredential.parse*FromJSON and
// toJSON() use them; for the others, the few binary members are converted here.
const b64url = {
  decode(s) {
    const bin = atob(s.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((s.length + 3) % 4));
    return Uint8Array.from(bin, (c) => c.charCodeAt(0));
  },
  encode(buf) {
    const bytes = new Uint8Array(buf instanceof ArrayBuffer ? buf : buf.buffer);
    return btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  },
};

function withIds(list) {
  return (list || []).map((c) => ({ ...c, id: b64url.decode(c.id) }));
}

/** `PublicKeyCredentialCreationOptionsJSON` → the options `navigator.credentials.create` takes. */
export function creationOptions(json, PKC = globalThis.PublicKeyCredential) {
  if (PKC && typeof PKC.parseCreationOptionsFromJSON === "function") return PKC.parseCreationOptionsFromJSON(json);
  return {
    ...json,
    challenge: b64url.decode(json.challenge),
    user: { ...json.user, id: b64url.decode(json.user.id) },
    excludeCredentials: withIds(json.excludeCredentials),
  };
}

/** `PublicKeyCredentialRequestOptionsJSON` → the options `navigator.credentials.get` takes. */
export function requestOptions(json, PKC = globalThis.PublicKeyCredential) {
  if (PKC && typeof PKC.parseRequestOptionsFromJSON === "function") return PKC.parseRequestOptionsFromJSON(json);
  return { ...json, challenge: b64url.decode(json.challenge), allowCredentials: withIds(json.allowCredentials) };
}

/** A `PublicKeyCredential` → its JSON form (`RegistrationResponseJSON` / `AuthenticationResponseJSON`). */
export function credentialJSON(cred) {
  if (typeof cred.toJSON === "function") return cred.toJSON();
  const r = cred.response;
  const response = { clientDataJSON: b64url.encode(r.clientDataJSON) };
  if (r.attestationObject) {
    response.attestationObject = b64url.encode(r.attestationObject);
    response.transports = typeof r.getTransports === "function" ? r.getTransports() : [];
  } else {
    response.authenticatorData = b64url.encode(r.authenticatorData);
    response.signature = b64url.encode(r.signature);
    if (r.userHandle) response.userHandle = b64url.encode(r.userHandle);
  }
  return {
    id: cred.id,
    rawId: b64url.encode(cred.rawId),
    type: cred.type,
    response,
    clientExtensionResults: cred.getClientExtensionResults ? cred.getClientExtensionResults() : {},
  };
}

// DPoP (API.md §10, RFC 9449): one non-extractable P-256 key per Tessera origin, kept in
// IndexedDB so every tab of the page's origin signs with the same key.
const DPOP_DB = "tessera-dpop";
const DPOP_STORE = "keys";
/** The routes whose proof binds (or, for refresh, must match) the session's key. */
const BINDING_PATHS = new Set(["/auth/login", "/auth/register", "/auth/refresh", "/auth/mfa/verify", "/auth/passkeys/login"]);

const utf8 = (s) => new TextEncoder().encode(s);
const b64json = (v) => b64url.encode(utf8(JSON.stringify(v)));

function idb(env, mode, fn) {
  return new Promise((resolve, reject) => {
    const open = env.indexedDB.open(DPOP_DB, 1);
    open.onupgradeneeded = () => open.result.createObjectStore(DPOP_STORE);
    open.onerror = () => reject(open.error);
    open.onsuccess = () => {
      const db = open.result;
      const tx = db.transaction(DPOP_STORE, mode);
      const req = fn(tx.objectStore(DPOP_STORE));
      tx.oncomplete = () => {
        db.close();
        resolve(req.result);
      };
      tx.onerror = () => {
        db.close();
        reject(tx.error);
      };
    };
  });
}

/**
 * The DPoP key of `name` (made on first use; never extractable) and the proofs it signs. Made
 * under a Web Lock, so two tabs starting at once end with one key.
 */
function dpopSigner(env, name) {
  let keys = null;
  async function load() {
    if (keys) return keys;
    const make = () => env.crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, false, ["sign", "verify"]);
    if (!env.indexedDB) return (keys = await make()); // Node: this process only
    const getOrMake = async () => {
      const found = await idb(env, "readonly", (s) => s.get(name));
      if (found) return found;
      const made = await make();
      await idb(env, "readwrite", (s) => s.put(made, name));
      return made;
    };
    keys = env.locks ? await env.locks.request(`${name}:dpop-key`, getOrMake) : await getOrMake();
    return keys;
  }
  return {
    /** A proof for `method` `url` (query and fragment left out), with `ath` for `token`. */
    async proof(method, url, token, nonce) {
      const k = await load();
      const { kty, crv, x, y } = await env.crypto.subtle.exportKey("jwk", k.publicKey);
      const u = new URL(url);
      const claims = { jti: randomId(), htm: method, htu: u.origin + u.pathname, iat: Math.floor(Date.now() / 1000) };
      if (token) claims.ath = b64url.encode(await env.crypto.subtle.digest("SHA-256", utf8(token)));
      if (nonce) claims.nonce = nonce;
      const input = `${b64json({ typ: "dpop+jwt", alg: "ES256", jwk: { kty, crv, x, y } })}.${b64json(claims)}`;
      const sig = await env.crypto.subtle.sign({ name: "ECDSA", hash: "SHA-256" }, k.privateKey, utf8(input));
      return `${input}.${b64url.encode(sig)}`;
    },
  };
}

/** A storage adapter that keeps values in memory (the body transport's default). */
export function memoryStorage() {
  const map = new Map();
  return {
    getItem: (k) => (map.has(k) ? map.get(k) : null),
    setItem: (k, v) => void map.set(k, String(v)),
    removeItem: (k) => void map.delete(k),
  };
}

function environment(over = {}) {
  const g = globalThis;
  const pick = (name, fallback) => (name in over ? over[name] : fallback);
  return {
    fetch: pick("fetch", g.fetch && g.fetch.bind(g)),
    now: pick("now", () => g.performance.now()),
    random: pick("random", Math.random),
    setTimeout: pick("setTimeout", g.setTimeout.bind(g)),
    clearTimeout: pick("clearTimeout", g.clearTimeout.bind(g)),
    locks: pick("locks", g.navigator && g.navigator.locks),
    credentials: pick("credentials", g.navigator && g.navigator.credentials),
    crypto: pick("crypto", g.crypto),
    indexedDB: pick("indexedDB", g.indexedDB),
    BroadcastChannel: pick("BroadcastChannel", g.BroadcastChannel),
    document: pick("document", g.document),
    window: pick("window", g.window),
    location: pick("location", g.location),
    // Where a listener's exception goes: the page's error handlers, never the client's flow.
    reportError: pick("reportError", g.reportError ? g.reportError.bind(g) : (e) => queueMicrotask(() => {
      throw e;
    })),
  };
}

function randomId() {
  const bytes = new Uint8Array(12);
  globalThis.crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * A client for one Tessera server. See tessera.d.ts for the types and docs/browser-client.md for
 * what it guarantees.
 */
export function createClient(options = {}) {
  const env = environment(options.env);
  const base = String(options.baseUrl ?? "").replace(/\/+$/, "");
  const transport = options.transport ?? "cookie";
  if (transport !== "cookie" && transport !== "body") {
    throw new TypeError(`transport must be "cookie" or "body", not ${JSON.stringify(transport)}`);
  }
  const pageOrigin = env.location ? env.location.origin : null;
  const origin = base ? new URL(base, env.location ? env.location.href : undefined).origin : pageOrigin;
  const key = options.storageKey ?? `tessera:${origin ?? "default"}`;
  // The body transport keeps the refresh token here; the cookie transport only the csrf token,
  // and only when it is given a storage (for a page on another origin than Tessera's).
  const storage = options.storage ?? (transport === "body" ? memoryStorage() : null);
  const csrfCookies = [options.csrfCookie, "__Host-tessera_csrf", "tessera_csrf"].filter(Boolean);
  // The access token goes only to these origins: never to a third party the app happens to call.
  const tokenOrigins = new Set([origin, pageOrigin, ...(options.tokenOrigins ?? [])].filter(Boolean));

  // `dpop: true`: every session this client opens is bound to a key only it holds (API.md §10).
  const dpop = options.dpop ? dpopSigner(env, `${key}:dpop`) : null;
  /** The last `DPoP-Nonce` Tessera handed out, sent back in the next proof. */
  let dpopNonce = null;
  const tabId = randomId();
  const listeners = new Set();
  const ended = new Set();
  const asks = new Map();
  /** Tabs that let an ask time out (frozen, most likely): not waited for until they speak. */
  const silent = new Set();
  let state = null; // { accessToken, expiresAt, refreshAt, sessionId, user, csrf }, times from env.now()
  let status = "unknown";
  let generation = 0;
  let refreshing = null;
  let timer = null;
  let failures = 0;
  let pendingLogout = null;
  let closed = false;

  // Cross-tab coordination needs both Web Locks and BroadcastChannel; without them (Node, old
  // browsers) the client still single-flights within itself.
  const channel = env.locks && env.BroadcastChannel ? new env.BroadcastChannel(key) : null;
  let leave = () => {};
  if (channel) {
    // Held for this tab's life: the other tabs count these to know how many answers to await.
    const held = new Promise((resolve) => (leave = resolve));
    env.locks.request(`${key}:tab:${tabId}`, () => held).catch(() => {});
    channel.onmessage = (ev) => receive(ev.data);
  }

  const post = (message) => channel && !closed && channel.postMessage({ ...message, from: tabId });
  const hidden = () => !!env.document && env.document.visibilityState === "hidden";
  const isDue = () => !!state && env.now() >= state.refreshAt - TIMER_SLACK_MS;

  function emit(type, extra = {}) {
    const event = { type, session: session(), ...extra };
    for (const listener of [...listeners]) {
      try {
        listener(event);
      } catch (e) {
        env.reportError(e); // a listener's bug must not stop the client or the other listeners
      }
    }
  }

  function session() {
    if (!state) return null;
    const remaining = state.expiresAt - env.now();
    return {
      user: state.user,
      sessionId: state.sessionId,
      accessExpiresAt: new Date(Date.now() + remaining),
      accessExpiresIn: Math.max(0, Math.floor(remaining / 1000)),
    };
  }

  function snapshot() {
    return state && {
      accessToken: state.accessToken,
      remainingMs: state.expiresAt - env.now(),
      sessionId: state.sessionId,
      user: state.user,
      csrf: state.csrf,
      tokenType: state.tokenType,
    };
  }

  function setState(next, event) {
    const remaining = next.expiresAt - env.now();
    state = { ...next, refreshAt: env.now() + refreshDelay(remaining, env.random) };
    status = "signedIn";
    failures = 0;
    schedule(state.refreshAt - env.now());
    emit(event);
  }

  /** Takes a token another tab received; false if it is no newer than ours or its session ended. */
  function adopt(snap) {
    if (!snap || typeof snap.accessToken !== "string" || ended.has(snap.sessionId)) return false;
    if (!(snap.remainingMs > 0)) return false;
    const expiresAt = env.now() + snap.remainingMs;
    const same = !!state && state.sessionId === snap.sessionId;
    if (same && (state.accessToken === snap.accessToken || expiresAt <= state.expiresAt)) return false;
    if (!same) generation++; // another session now: what was in flight for the old one is void
    const { accessToken, sessionId, user, csrf, tokenType } = snap;
    setState({ accessToken, expiresAt, sessionId, user, csrf, tokenType }, same ? "refreshed" : "signedIn");
    return true;
  }

  function receive(m) {
    if (!m || closed || m.from === tabId) return;
    silent.delete(m.from);
    if (m.to && m.to !== tabId) return;
    if (m.t === "ask") post({ t: "reply", to: m.from, id: m.id, token: snapshot() });
    else if (m.t === "reply") asks.get(m.id)?.(m.from, m.token);
    else if (m.t === "token") adopt(m.token);
    else if (m.t === "signedOut" && state && state.sessionId === m.sessionId) end(m.reason, false);
  }

  /** Asks the other open tabs for their tokens; resolves with the newest, or null. */
  async function askPeers() {
    if (!channel) return null;
    const waiting = new Set();
    try {
      const { held = [] } = await env.locks.query();
      const prefix = `${key}:tab:`;
      for (const { name } of held) {
        if (!name.startsWith(prefix)) continue;
        const peer = name.slice(prefix.length);
        if (peer !== tabId && !silent.has(peer)) waiting.add(peer);
      }
    } catch {
      return null;
    }
    if (waiting.size === 0) return null;
    const id = randomId();
    return new Promise((resolve) => {
      let best = null;
      const done = () => {
        env.clearTimeout(t);
        asks.delete(id);
        resolve(best);
      };
      const t = env.setTimeout(() => {
        for (const peer of waiting) silent.add(peer);
        done();
      }, ASK_TIMEOUT_MS);
      asks.set(id, (peer, snap) => {
        if (snap && (!best || snap.remainingMs > best.remainingMs)) best = snap;
        waiting.delete(peer);
        if (waiting.size === 0) done();
      });
      post({ t: "ask", id });
    });
  }

  async function withLock(fn) {
    if (!env.locks) return fn();
    const name = `${key}:refresh`;
    const waited = new AbortController();
    const t = env.setTimeout(() => waited.abort(), LOCK_WAIT_MS);
    try {
      return await env.locks.request(name, { signal: waited.signal }, (lock) => {
        env.clearTimeout(t);
        return fn(lock);
      });
    } catch (e) {
      if (!waited.signal.aborted || !e || e.name !== "AbortError") throw e;
      // The holder has hung (a frozen tab mid-request): take the lock from it.
      return env.locks.request(name, { steal: true }, fn);
    }
  }

  /** Keeps the nonce of a DPoP answer; whether the answer asks for a retry with it. */
  async function nonceRetry(res) {
    const fresh = res.headers.get("dpop-nonce");
    if (fresh) dpopNonce = fresh;
    if (!fresh || (res.status !== 400 && res.status !== 401)) return false;
    const { code } = await problemOf(res.clone());
    return code === "use_dpop_nonce";
  }

  async function request(method, path, { body, headers = {}, credentials } = {}) {
    const attempt = async () => {
      const h = { ...headers };
      if (body !== undefined) h["Content-Type"] = "application/json";
      if (dpop && BINDING_PATHS.has(path)) h.DPoP = await dpop.proof(method, new URL(base + path, env.location?.href).href, null, dpopNonce);
      return env.fetch(base + path, {
        method,
        headers: h,
        body: body === undefined ? undefined : JSON.stringify(body),
        credentials: credentials ?? (transport === "cookie" ? "include" : "same-origin"),
        cache: "no-store",
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      });
    };
    const res = await attempt();
    return dpop && (await nonceRetry(res)) ? attempt() : res;
  }

  function csrfFromCookie() {
    const cookie = env.document && typeof env.document.cookie === "string" ? env.document.cookie : "";
    for (const name of csrfCookies) {
      const row = cookie.split("; ").find((c) => c.startsWith(`${name}=`));
      if (row) return decodeURIComponent(row.slice(name.length + 1));
    }
    return null;
  }

  async function csrfToken() {
    if (state && state.csrf) return state.csrf;
    return csrfFromCookie() ?? (storage ? await storage.getItem(`${key}:csrf`) : null);
  }

  /** The credential a refresh sends, or null when this client has none. */
  async function refreshCredential() {
    if (transport === "body") {
      const token = await storage.getItem(`${key}:refresh`);
      return token ? { body: { refresh_token: token } } : null;
    }
    const csrf = await csrfToken();
    return csrf ? { headers: { "X-CSRF-Token": csrf }, credentials: "include" } : null;
  }

  /** Keeps what outlives the page: the refresh token (body), or the csrf token if given storage. */
  async function keep(body) {
    if (transport === "body") await storage.setItem(`${key}:refresh`, body.refresh_token);
    else if (storage) await storage.setItem(`${key}:csrf`, body.csrf_token);
  }

  async function forget() {
    if (storage) {
      await storage.removeItem(`${key}:${transport === "body" ? "refresh" : "csrf"}`);
    }
  }

  function fromBody(body, startedAt) {
    return {
      accessToken: body.access_token,
      // From when the request left: a response that took long makes the token refresh sooner.
      expiresAt: startedAt + Number(body.expires_in) * 1000,
      sessionId: body.session_id,
      user: body.user,
      csrf: body.csrf_token,
      tokenType: body.token_type,
    };
  }

  /** Ends this client's session; `broadcast` tells the other tabs (the first tab to learn does). */
  function end(reason, broadcast) {
    const sid = state ? state.sessionId : null;
    const had = status === "signedIn";
    generation++;
    if (sid) ended.add(sid);
    state = null;
    status = "signedOut";
    env.clearTimeout(timer);
    if (broadcast) {
      forget().catch(() => {});
      post({ t: "signedOut", sessionId: sid, reason });
    }
    if (had) emit("signedOut", { reason });
  }

  function schedule(ms) {
    env.clearTimeout(timer);
    if (!closed) timer = env.setTimeout(check, Math.min(Math.max(0, ms), 2 ** 31 - 1));
  }

  /** The timer, a tab becoming visible, the device coming online: refresh if it is time. */
  function check() {
    if (closed || hidden()) return;
    if (state && (isDue() || failures > 0)) refresh(state.accessToken).catch(() => {});
    else if (state) schedule(state.refreshAt - env.now()); // early: the timer that called is spent
    else if (status === "unknown") refresh(null).catch(() => {});
  }

  function retryLater(retryAfterSecs) {
    failures++;
    schedule(retryAfterSecs ? retryAfterSecs * 1000 : retryDelay(failures, env.random));
  }

  /**
   * Refreshes once for all callers in this tab, and once for all tabs. `stale` is the token that
   * made the caller want a new one (null when restoring): if the token changed meanwhile, done.
   */
  function refresh(stale) {
    if (!refreshing) {
      refreshing = withLock(() => refreshLocked(stale)).finally(() => {
        refreshing = null;
      });
    }
    return refreshing;
  }

  const replaced = (stale) => !!state && state.accessToken !== stale && !isDue();

  async function refreshLocked(stale) {
    if (closed) return false;
    if (replaced(stale)) return true;
    adopt(await askPeers());
    if (replaced(stale)) return true;

    const gen = generation;
    const sid = state ? state.sessionId : null;
    const credential = await refreshCredential();
    if (!credential) {
      // Nothing to refresh with (never signed in here, or the stored token is gone).
      if (gen === generation) {
        if (state) end("expired", false);
        else status = "signedOut";
      }
      return false;
    }
    const startedAt = env.now();
    let res;
    let body;
    try {
      res = await request("POST", "/auth/refresh", credential);
      if (res.ok) body = await res.json();
    } catch {
      // Offline, or Tessera out of reach: keep the session and try again later.
      if (gen === generation) retryLater();
      return false;
    }
    // A sign-out (here or in another tab) or a new sign-in happened meanwhile: this answer is
    // about a session that is over.
    if (gen !== generation || closed) return false;
    if (res.ok) {
      if (ended.has(body.session_id)) return false;
      await keep(body);
      if (gen !== generation) return false;
      setState(fromBody(body, startedAt), sid === body.session_id ? "refreshed" : "signedIn");
      post({ t: "token", token: snapshot() });
      return true;
    }
    const problem = await problemOf(res);
    const reason = signOutReason(problem.code);
    if (reason) {
      end(reason, true);
      return false;
    }
    retryLater(problem.retryAfter);
    return false;
  }

  /** A token good to send, refreshed first if it has (nearly) expired. */
  async function accessToken() {
    await ready;
    if (state && env.now() >= state.expiresAt - SEND_MARGIN_MS) await refresh(state.accessToken);
    return state ? state.accessToken : null;
  }

  function carriesToken(url) {
    try {
      return tokenOrigins.has(new URL(url, env.location ? env.location.href : base || undefined).origin);
    } catch {
      return false;
    }
  }

  /**
   * fetch() with the access token. A 401 `token_expired` (or `session_revoked`, which only a
   * refresh can confirm) refreshes once and retries once. Never touches the global fetch.
   */
  async function authFetch(input, init = undefined) {
    const original = new Request(input, init);
    const attempt = async (token) => {
      const req = original.clone();
      if (!token || !carriesToken(req.url)) return env.fetch(req);
      const headers = new Headers(req.headers);
      // A bound token goes with a fresh proof for this request (API.md §10).
      if (dpop && state && state.tokenType === "DPoP") {
        const ours = new URL(req.url).origin === origin;
        headers.set("Authorization", `DPoP ${token}`);
        headers.set("DPoP", await dpop.proof(req.method, req.url, token, ours ? dpopNonce : null));
      } else {
        headers.set("Authorization", `Bearer ${token}`);
      }
      return env.fetch(new Request(req, { headers }));
    };
    const send = async (token) => {
      const res = await attempt(token);
      return dpop && (await nonceRetry(res)) ? attempt(token) : res;
    };
    const token = await accessToken();
    const res = await send(token);
    if (res.status !== 401 || !token || !carriesToken(original.url)) return res;
    const { code } = await problemOf(res.clone());
    if (code !== "token_expired" && code !== "session_revoked") return res;
    await refresh(token);
    if (!state || state.accessToken === token) return res;
    return send(state.accessToken);
  }

  /** Calls one of Tessera's own access-token routes; throws a TesseraError unless it succeeds. */
  async function api(method, path, body) {
    const res = await authFetch(base + path, {
      method,
      headers: body === undefined ? {} : { "Content-Type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: "no-store",
    });
    if (!res.ok) throw await problemOf(res);
    return res.status === 204 ? null : res.json();
  }

  /** A route that needs no session (recovery, verification); throws a TesseraError unless 2xx. */
  async function call(method, path, body) {
    const res = await request(method, path, { body });
    if (!res.ok) throw await problemOf(res);
    return (res.headers.get("content-type") || "").includes("json") ? res.json() : null;
  }

  /**
   * Opens a session (register, login, the second step of a login). The second step sends no
   * `transport`: the server kept the first step's.
   */
  async function start(path, fields, { withTransport = true } = {}) {
    const gen = ++generation; // whatever was in flight for an earlier session is void
    const startedAt = env.now();
    const res = await request("POST", path, { body: withTransport ? { ...fields, transport } : fields });
    if (!res.ok) throw await problemOf(res);
    const body = await res.json();
    if (gen !== generation || closed) {
      // Signed out while this was in flight: end the session it made instead of adopting it.
      request("POST", "/auth/logout", { headers: { Authorization: `Bearer ${body.access_token}` } }).catch(() => {});
      throw new TesseraError(0, { code: "aborted", title: "Signed out while signing in" });
    }
    await keep(body);
    setState(fromBody(body, startedAt), "signedIn");
    post({ t: "token", token: snapshot() });
    return session();
  }

  async function logout(credential) {
    try {
      await request("POST", "/auth/logout", credential);
      pendingLogout = null;
    } catch {
      pendingLogout = credential; // offline: sent again when the device is back online
    }
  }

  async function signOut() {
    const headers = {};
    const credential = { headers, credentials: "include" };
    // Logout needs no proof, even for a bound token (API.md §10).
    if (state) headers.Authorization = `${state.tokenType === "DPoP" ? "DPoP" : "Bearer"} ${state.accessToken}`;
    else if (transport === "body") {
      const token = await storage.getItem(`${key}:refresh`);
      if (token) credential.body = { refresh_token: token };
    }
    const csrf = transport === "cookie" ? await csrfToken() : null;
    if (csrf) headers["X-CSRF-Token"] = csrf;
    // Signed out here first, whatever the network does next.
    end("user", true);
    dropCsrfCookie();
    await logout(credential);
  }

  /** Without the csrf cookie this page can no longer refresh, even if the logout never arrives. */
  function dropCsrfCookie() {
    if (!env.document || !csrfFromCookie()) return;
    for (const name of csrfCookies) {
      const secure = name.startsWith("__Host-") ? "; Secure" : "";
      env.document.cookie = `${name}=; Max-Age=0; Path=/${secure}`;
    }
  }

  /** A new access token of this session (same session, later expiry), for every tab. */
  function renewAccess(body, startedAt, gen) {
    if (gen !== generation || !state) return;
    const expiresAt = startedAt + Number(body.expires_in) * 1000;
    setState({ ...state, accessToken: body.access_token, expiresAt }, "refreshed");
    post({ t: "token", token: snapshot() });
  }

  /** `POST /auth/reauthenticate`: a fresh `auth_time` (and aal2 with a code) for this session. */
  async function reauthenticate({ password, code } = {}) {
    const gen = generation;
    const startedAt = env.now();
    const body = await api("POST", "/auth/reauthenticate", { password, code: code || undefined });
    renewAccess(body, startedAt, gen);
    return session();
  }

  /**
   * Confirms a pending TOTP factor. The first factor makes this session aal2 on the server (and
   * ends the user's other sessions); the token is refreshed at once so that it says so.
   */
  async function confirmTotp(id, code) {
    const out = await api("POST", `/auth/mfa/totp/${encodeURIComponent(id)}/confirm`, { code });
    if (out.recovery_codes && state) await refresh(state.accessToken);
    return out;
  }

  /** A passkey assertion for a ceremony of `POST /auth/passkeys/login/options` with `body`. */
  async function passkeyAssertion(body, { mediation, signal } = {}) {
    if (!env.credentials) throw new TesseraError(0, { code: "passkeys_unsupported", title: "This browser has no passkeys" });
    const { ceremony_id, publicKey } = await call("POST", "/auth/passkeys/login/options", body);
    const cred = await env.credentials.get({ publicKey: requestOptions(publicKey), mediation, signal });
    return { ceremony_id, credential: credentialJSON(cred) };
  }

  /** Adds a passkey (a recent session; aal2 once the user has a factor), as `confirmTotp`. */
  async function registerPasskey({ name } = {}) {
    if (!env.credentials) throw new TesseraError(0, { code: "passkeys_unsupported", title: "This browser has no passkeys" });
    const { ceremony_id, publicKey } = await api("POST", "/auth/passkeys/register/options", name ? { name } : {});
    const cred = await env.credentials.create({ publicKey: creationOptions(publicKey) });
    const out = await api("POST", "/auth/passkeys/register", { ceremony_id, credential: credentialJSON(cred) });
    if (out.recovery_codes && state) await refresh(state.accessToken);
    return out;
  }

  async function signInWithPasskey({ email, namespace, mediation, signal } = {}) {
    const proof = await passkeyAssertion(email ? { email } : {}, { mediation, signal });
    return start("/auth/passkeys/login", { ...proof, namespace });
  }

  async function verifyMfaWithPasskey({ mfaToken } = {}) {
    const proof = await passkeyAssertion({ mfa_token: mfaToken });
    return start("/auth/passkeys/login", { ...proof, mfa_token: mfaToken }, { withTransport: false });
  }

  async function reauthenticateWithPasskey() {
    const proof = await passkeyAssertion({});
    const gen = generation;
    const startedAt = env.now();
    renewAccess(await api("POST", "/auth/reauthenticate", proof), startedAt, gen);
    return session();
  }

  async function revokeSession(id) {
    await api("DELETE", `/auth/sessions/${encodeURIComponent(id)}`);
    if (state && id === state.sessionId) end("user", true);
  }

  const onVisibility = () => check();
  const onOnline = () => {
    if (pendingLogout) logout(pendingLogout);
    if (state && failures > 0) refresh(state.accessToken).catch(() => {});
    else check();
  };
  env.document?.addEventListener?.("visibilitychange", onVisibility);
  env.window?.addEventListener?.("online", onOnline);

  const ready = (async () => {
    await refresh(null);
    return session();
  })();

  return {
    ready,
    status: () => status,
    session,
    accessToken,
    fetch: authFetch,
    signUp: ({ email, password, namespace } = {}) => start("/auth/register", { email, password, namespace }),
    signIn: ({ email, password, namespace } = {}) => start("/auth/login", { email, password, namespace }),
    verifyMfa: ({ mfaToken, code, factorId } = {}) =>
      start("/auth/mfa/verify", { mfa_token: mfaToken, code, factor_id: factorId }, { withTransport: false }),
    reauthenticate,
    factors: async () => (await api("GET", "/auth/mfa/factors")).factors,
    enrollTotp: ({ name } = {}) => api("POST", "/auth/mfa/totp", name ? { name } : {}),
    confirmTotp,
    removeFactor: (id) => api("DELETE", `/auth/mfa/factors/${encodeURIComponent(id)}`),
    newRecoveryCodes: async () => (await api("POST", "/auth/mfa/recovery-codes")).recovery_codes,
    registerPasskey,
    signInWithPasskey,
    verifyMfaWithPasskey,
    reauthenticateWithPasskey,
    signOut,
    me: () => api("GET", "/auth/me"),
    sessions: async () => (await api("GET", "/auth/sessions")).sessions,
    revokeSession,
    revokeOtherSessions: async () => (await api("DELETE", "/auth/sessions?keep_current=true")).revoked,
    changePassword: ({ currentPassword, newPassword } = {}) =>
      api("POST", "/auth/password", { current_password: currentPassword, new_password: newPassword }),
    refresh: () => refresh(state ? state.accessToken : null),
    requestPasswordReset: (email) => call("POST", "/auth/password/forgot", { email }),
    resetPassword: ({ token, newPassword } = {}) =>
      call("POST", "/auth/password/reset", { token, new_password: newPassword }),
    verifyEmail: (token) => call("POST", "/auth/email/verify", { token }),
    sendVerification: () => api("POST", "/auth/email/verify/send"),
    onChange(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    close() {
      closed = true;
      env.clearTimeout(timer);
      leave();
      channel?.close();
      env.document?.removeEventListener?.("visibilitychange", onVisibility);
      env.window?.removeEventListener?.("online", onOnline);
    },
  };
}
