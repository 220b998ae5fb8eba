// The verifier: keys from the JWKS and revocations from the feed, both kept current in the
// background; each request is checked locally (no I/O unless a token names an unknown key).
import { ReplayCache, verifyProof, PROOF_MAX_AGE_SECS, ALGORITHMS } from "./dpop.js";
import { AuthError } from "./errors.js";
import { Feed } from "./feed.js";
import { sleep } from "./http.js";
import { KeyCache } from "./keys.js";
import { Revocations } from "./revocations.js";
import { credential, identityOf, MAX_LEEWAY_SECS, TokenError, verifyToken } from "./tokens.js";

const VERIFIED_CAPACITY = 20_000;

/** Reads a header from a Web `Request`, a Node `IncomingMessage` or a plain {headers} object. */
function header(req, name) {
  const h = req.headers;
  if (!h) return undefined;
  if (typeof h.get === "function") return h.get(name) ?? undefined;
  const v = h[name];
  return Array.isArray(v) ? v[0] : v;
}

/** The path of a request's URL (absolute, or origin-form as Node gives it). */
function pathOf(url) {
  try {
    return new URL(url, "http://x").pathname;
  } catch {
    return "/";
  }
}

export class Tessera {
  /**
   * @param {import("../index.d.ts").Options} options
   */
  constructor(options) {
    const { url, key } = options ?? {};
    let base;
    try {
      base = new URL(url);
    } catch {
      throw new TypeError(`Tessera URL ${JSON.stringify(url)} is not a URL`);
    }
    if (base.protocol !== "http:" && base.protocol !== "https:") throw new TypeError("Tessera URL: http or https only");
    if (typeof key !== "string" || key === "") throw new TypeError("the resource-server key is empty");
    if (options.algorithm === "HS256") throw new TypeError("HS256 keys are never published: a resource server cannot verify them");
    const leewaySecs = options.leewaySecs ?? 5;
    if (leewaySecs > MAX_LEEWAY_SECS) throw new TypeError("leewaySecs: at most 5");
    this.baseUrl = url.replace(/\/+$/, "");
    // Not enumerable: the key never shows up in a log of this object.
    Object.defineProperty(this, "key", { value: key, enumerable: false });
    this.options = {
      staleAfterMs: options.staleAfterMs ?? 60_000,
      onStale: options.onStale ?? "refuse",
      jwksRefreshMs: options.jwksRefreshMs ?? 300_000,
      kidRefetchMs: options.kidRefetchMs ?? 1_000,
      pollIntervalMs: options.pollIntervalMs ?? 5_000,
      streamIdleTimeoutMs: options.streamIdleTimeoutMs ?? 35_000,
      publicUrl: options.publicUrl ? options.publicUrl.replace(/\/+$/, "") : null,
    };
    if (!["refuse", "accept"].includes(this.options.onStale)) throw new TypeError('onStale: "refuse" or "accept"');
    this.verifyOpts = {
      issuer: options.issuer ?? this.baseUrl,
      audience: options.audience === undefined ? [] : [options.audience].flat(),
      leewaySecs,
    };
    this.revoked = new Revocations();
    this.verified = new Map();
    this.replays = new ReplayCache();
    this.stats = { accepted: 0, refused: 0, refusedRevoked: 0, refusedUnavailable: 0, staleAccepted: 0 };
    this.keysLoaded = false;
    this.readyNow = false;
    this.waiters = [];
    this.keys = new KeyCache({
      baseUrl: this.baseUrl,
      algorithm: options.algorithm,
      kidRefetchMs: this.options.kidRefetchMs,
      onLoad: () => this.verified.clear(),
    });
    this.feed = new Feed(this);
    this.stopped = false;
    this.maintainKeys();
    this.feed.run();
  }

  /** Stops the background work (the feed's stream and the key refresh). */
  close() {
    this.stopped = true;
    this.feed.stop();
    clearTimeout(this.keyTimer);
  }

  async maintainKeys() {
    let backoff = 100;
    while (!this.stopped) {
      try {
        await this.keys.load();
        break;
      } catch (e) {
        console.warn(`tessera: cannot load Tessera's keys yet (${e.message}); retrying`);
        await sleep(backoff);
        backoff = Math.min(backoff * 2, 5_000);
      }
    }
    this.keysLoaded = true;
    this.updateReady();
    const refresh = async () => {
      // The old keys stay in use until a fetch succeeds.
      let retry = 1_000;
      while (!this.stopped) {
        try {
          await this.keys.load();
          break;
        } catch (e) {
          console.warn(`tessera: JWKS refresh failed (${e.message}); keeping the keys we have`);
          await sleep(retry);
          retry = Math.min(retry * 2, this.options.jwksRefreshMs);
        }
      }
      if (!this.stopped) this.keyTimer = setTimeout(refresh, this.options.jwksRefreshMs);
    };
    if (!this.stopped) this.keyTimer = setTimeout(refresh, this.options.jwksRefreshMs);
    this.keyTimer?.unref?.();
  }

  updateReady() {
    if (this.keysLoaded && this.feed.snapshotLoaded && !this.readyNow) {
      this.readyNow = true;
      for (const w of this.waiters.splice(0)) w();
    }
  }

  /** Resolves once the keys and the first revocation snapshot are loaded. */
  ready() {
    return this.readyNow ? Promise.resolve() : new Promise((resolve) => this.waiters.push(resolve));
  }

  /** The feed stopped at an entry this version cannot apply, or has been silent too long. */
  isStale() {
    if (this.feed.blocked) return true;
    const silent = this.feed.silentMs();
    return !this.feed.connected && silent !== null && silent > this.options.staleAfterMs;
  }

  /** Whether tokens can be verified now: ready, and the feed not stale. */
  isReady() {
    return this.readyNow && !this.isStale();
  }

  /** The verifier's state and counters, for a health route, logs or metrics. */
  status() {
    return {
      ready: this.readyNow,
      feed_connected: this.feed.connected,
      feed_silent_ms: this.feed.silentMs(),
      stale: this.isStale(),
      feed_blocked: this.feed.blocked,
      cursor: this.feed.cursor,
      revocations: this.revoked.size,
      accepted: this.stats.accepted,
      refused: this.stats.refused,
      refused_revoked: this.stats.refusedRevoked,
      refused_unavailable: this.stats.refusedUnavailable,
      stale_accepted: this.stats.staleAccepted,
      jwks_fetches: this.keys.fetches,
      feed_reconnects: this.feed.reconnects,
    };
  }

  /**
   * Verifies a request's token (and its DPoP proof, for a bound token): resolves to the
   * identity, or rejects with an AuthError. Takes a Web `Request`, a Node `IncomingMessage`, or
   * `{method, url, headers}`.
   */
  async verify(req) {
    try {
      const auth = await this.check(req);
      this.stats.accepted += 1;
      return auth;
    } catch (e) {
      if (!(e instanceof AuthError)) throw e;
      this.stats.refused += 1;
      if (e.code === "session_revoked") this.stats.refusedRevoked += 1;
      if (e.code === "unavailable") this.stats.refusedUnavailable += 1;
      throw e;
    }
  }

  async check(req) {
    const cred = credential(header(req, "authorization"));
    if (cred === "missing") throw new AuthError("missing_token");
    if (cred === "malformed") throw new AuthError("invalid_token");
    if (!this.readyNow) throw new AuthError("unavailable");
    const { token } = cred;
    const now = Math.floor(Date.now() / 1000);
    let auth = this.verified.get(token);
    if (auth) {
      if (now >= auth.exp + this.verifyOpts.leewaySecs) throw new AuthError("token_expired");
    } else {
      let claims;
      try {
        claims = await this.verifyToken(token, now);
      } catch (e) {
        if (!(e instanceof TokenError)) throw e;
        throw new AuthError(e.reason === "expired" ? "token_expired" : "invalid_token");
      }
      auth = identityOf(claims);
      if (this.verified.size >= VERIFIED_CAPACITY) this.verified.clear();
      this.verified.set(token, auth);
    }
    await this.checkBinding(req, token, auth, cred.scheme === "dpop", now);
    if (this.revoked.refuses(auth.sid, auth.sub, auth.ns, auth.issuedAtMs)) throw new AuthError("session_revoked");
    if (this.isStale()) {
      if (this.options.onStale === "refuse") throw new AuthError("unavailable");
      this.stats.staleAccepted += 1;
    }
    return auth;
  }

  async verifyToken(token, now) {
    try {
      return await verifyToken(token, this.keys, this.verifyOpts, now);
    } catch (e) {
      if (!(e instanceof TokenError) || e.reason !== "unknown_key") throw e;
      // Maybe Tessera rotated keys since we last looked.
      await this.keys.refetchForUnknownKid();
      return verifyToken(token, this.keys, this.verifyOpts, now);
    }
  }

  /** A DPoP-bound token (cnf.jkt) is good only as `DPoP` with a proof by its key (API.md §10). */
  async checkBinding(req, token, auth, dpop, now) {
    if (auth.jkt === null) {
      if (dpop) throw AuthError.dpop("this token is not DPoP-bound: send it as Bearer");
      return;
    }
    if (!dpop) throw new AuthError("invalid_token");
    if (this.options.publicUrl === null) throw AuthError.dpop("this API has no public URL to check DPoP proofs against");
    const proof = header(req, "dpop");
    if (proof === undefined) throw AuthError.dpop("a DPoP-bound token needs a DPoP proof");
    let p;
    try {
      p = await verifyProof(proof, {
        method: req.method,
        url: `${this.options.publicUrl}${pathOf(req.url)}`,
        accessToken: token,
        now,
        maxAgeSecs: PROOF_MAX_AGE_SECS,
        algorithms: ALGORITHMS,
      });
    } catch {
      throw AuthError.dpop("the DPoP proof does not check out");
    }
    if (p.jkt !== auth.jkt) throw AuthError.dpop("the proof's key is not the token's");
    if (!this.replays.claim(`${p.jkt}.${p.jti}`, now)) throw AuthError.dpop("the DPoP proof was used before");
  }
}
