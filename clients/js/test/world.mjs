// A deterministic world for the client's unit tests: a clock and timers that move only when a
// test says so, a scripted Tessera that keeps its sessions in memory, page events, and an
// in-process Web Locks. The real server, browser and locks are exercised by the end-to-end tests
// (tests/it/js_client.rs and the Chromium suite); these tests pin the timing and state logic.
import { createClient, memoryStorage } from "../tessera.js";

export const BASE = "http://tessera.test";

/** Lets every pending promise, message and I/O callback run. */
export async function settle() {
  for (let i = 0; i < 30; i++) await new Promise((r) => setImmediate(r));
}

function eventTarget(extra = {}) {
  const target = new EventTarget();
  return Object.assign(target, extra);
}

/** An in-process Web Locks: exclusive locks, a FIFO queue per name, `steal`, `signal`, `query`. */
export function fakeLocks() {
  const holders = new Map();
  const queues = new Map();
  const queue = (name) => queues.get(name) ?? queues.set(name, []).get(name);
  const next = (name) => {
    const entry = queue(name).shift();
    if (entry) entry.grant();
  };
  return {
    request(name, opts, fn) {
      if (typeof opts === "function") [fn, opts] = [opts, {}];
      return new Promise((resolve, reject) => {
        const entry = {
          async grant() {
            holders.set(name, entry);
            try {
              resolve(await fn({ name }));
            } catch (e) {
              reject(e);
            } finally {
              if (holders.get(name) === entry) {
                holders.delete(name);
                next(name);
              }
            }
          },
        };
        if (opts.steal) {
          holders.delete(name);
          entry.grant();
          return;
        }
        opts.signal?.addEventListener("abort", () => {
          const q = queue(name);
          const i = q.indexOf(entry);
          if (i >= 0) {
            q.splice(i, 1);
            reject(opts.signal.reason);
          }
        });
        queue(name).push(entry);
        if (!holders.has(name)) next(name);
      });
    },
    async query() {
      return { held: [...holders.keys()].map((name) => ({ name })) };
    },
  };
}

/**
 * The world: `clock`, `advance(ms)`, a scripted `server`, and `tab()` to open a client in it.
 * `ttl` is the access token's lifetime in seconds. `early` makes every timer longer than that fire
 * that many ms before its time, as browsers' timers do now and then by a little (a timer and
 * `performance.now()` run on different clocks).
 */
export function world({ ttl = 900, locks = null, early = 0 } = {}) {
  let t = 0;
  let nextTimer = 1;
  const timers = new Map();
  const calls = [];
  const gates = new Map();
  let offline = false;
  const server = {
    ttl,
    tokens: new Map(), // access token -> { sid, exp }
    sessions: new Map(), // sid -> { refresh, revoked, reason }
    calls,
    count: (path) => calls.filter((c) => c.path === path).length,
    /** Holds the answers to `path` until the returned function is called. */
    hold(path) {
      let release;
      gates.set(path, new Promise((r) => (release = r)));
      return () => {
        gates.delete(path);
        release();
      };
    },
    /** The next refreshes of `sid` answer 401 with `code`. */
    end(sid, code = "session_revoked") {
      const s = server.sessions.get(sid);
      s.revoked = code;
    },
    /** Answers for `/api/...` routes: token checks like a resource server. */
    api: null,
  };
  let n = 0;
  const issue = (sid) => {
    const access = `at-${++n}`;
    server.tokens.set(access, { sid, exp: t + server.ttl * 1000 });
    const refresh = `rt-${n}`;
    server.sessions.get(sid).refresh = refresh;
    return {
      token_type: "Bearer",
      access_token: access,
      expires_in: server.ttl,
      refresh_token: refresh,
      session_id: sid,
      csrf_token: `csrf-${sid}`,
      user: { id: "u1", email: "ada@example.com", roles: [] },
    };
  };
  const json = (status, body, headers = {}) =>
    new Response(body === null ? null : JSON.stringify(body), {
      status,
      headers: { "content-type": status < 300 ? "application/json" : "application/problem+json", ...headers },
    });
  const problem = (status, code, headers) => json(status, { status, code, title: code }, headers);

  async function fetch(input, init) {
    const req = new Request(input, init);
    const url = new URL(req.url);
    const body = req.method === "POST" && req.body ? await req.json().catch(() => ({})) : {};
    calls.push({ path: url.pathname, method: req.method, auth: req.headers.get("authorization"), url: req.url });
    if (offline) throw new TypeError("fetch failed");
    await gates.get(url.pathname);
    const bearer = (req.headers.get("authorization") || "").replace(/^Bearer /, "");
    const tok = server.tokens.get(bearer);
    switch (url.pathname) {
      case "/auth/login":
      case "/auth/register": {
        const sid = `s${server.sessions.size + 1}`;
        server.sessions.set(sid, { revoked: null });
        return json(url.pathname === "/auth/login" ? 200 : 201, issue(sid));
      }
      case "/auth/refresh": {
        const sid = [...server.sessions].find(([, s]) => s.refresh === body.refresh_token)?.[0];
        if (!sid) return problem(401, "invalid_refresh_token");
        if (server.sessions.get(sid).revoked) return problem(401, server.sessions.get(sid).revoked);
        if (server.refreshAnswer) return server.refreshAnswer();
        return json(200, issue(sid));
      }
      case "/auth/logout":
        if (tok) server.sessions.get(tok.sid).revoked = "session_revoked";
        return new Response(null, { status: 204 });
      default: {
        if (server.api) return server.api(req, tok);
        if (!tok) return problem(401, "missing_token");
        if (server.sessions.get(tok.sid).revoked) return problem(401, "session_revoked");
        if (t >= tok.exp) return problem(401, "token_expired");
        return json(200, { ok: true, sid: tok.sid });
      }
    }
  }

  const env = {
    now: () => t,
    random: () => 0.5,
    setTimeout: (fn, ms) => {
      const id = nextTimer++;
      timers.set(id, { at: t + (ms > early ? ms - early : ms), fn });
      return id;
    },
    clearTimeout: (id) => timers.delete(id),
    fetch,
    locks,
    BroadcastChannel: locks ? globalThis.BroadcastChannel : null,
    location: null,
    reportError: (e) => reported.push(e),
  };
  const reported = [];

  const opened = [];
  return {
    server,
    reported,
    get now() {
      return t;
    },
    set offline(v) {
      offline = v;
    },
    /** Moves the clock by `ms`, firing the timers that fall due on the way. */
    async advance(ms) {
      const end = t + ms;
      for (;;) {
        await settle();
        const due = [...timers.entries()]
          .filter(([, x]) => x.at <= end)
          .sort((a, b) => a[1].at - b[1].at || a[0] - b[0])[0];
        if (!due) break;
        timers.delete(due[0]);
        t = Math.max(t, due[1].at);
        due[1].fn();
      }
      t = end;
      await settle();
    },
    /** Opens a client (a tab) with its own document and window; `events` records onChange. */
    tab({ transport = "body", storage = memoryStorage(), visible = true, ...rest } = {}) {
      const document = eventTarget({ visibilityState: visible ? "visible" : "hidden", cookie: "" });
      const window = eventTarget();
      const tab = { frozen: false };
      // A frozen tab's channel drops what arrives (a real frozen page runs nothing).
      class Channel extends globalThis.BroadcastChannel {
        set onmessage(fn) {
          super.onmessage = (ev) => tab.frozen || fn(ev);
        }
      }
      const client = createClient({
        baseUrl: BASE,
        transport,
        storage,
        env: { ...env, document, window, BroadcastChannel: locks ? Channel : null },
        ...rest,
      });
      const events = [];
      client.onChange((e) => events.push(e.type === "signedOut" ? `signedOut:${e.reason}` : e.type));
      Object.assign(tab, {
        client,
        events,
        storage,
        setVisible(v) {
          document.visibilityState = v ? "visible" : "hidden";
          document.dispatchEvent(new Event("visibilitychange"));
        },
        online() {
          window.dispatchEvent(new Event("online"));
        },
      });
      opened.push(tab);
      return tab;
    },
    close() {
      for (const tab of opened) tab.client.close();
    },
  };
}
