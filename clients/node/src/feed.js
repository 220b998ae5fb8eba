// Following Tessera's revocation feed: a snapshot of what is in force, then the Server-Sent
// Events stream from its cursor (Last-Event-ID); when the stream breaks, a poll from the cursor
// (so nothing is missed while reconnecting) and a new stream, with backoff. A `reset`, or a
// cursor Tessera no longer knows (404, or 400 from older versions), starts over from a snapshot.
// This is tessera-axum's feed.rs, step for step.
import { readLimited, sleep } from "./http.js";
import { Revocations, UnreadableEntry } from "./revocations.js";
import { SseParser } from "./sse.js";

const FETCH_TIMEOUT_MS = 10_000;
const MAX_PAGE_BYTES = 4 * 1024 * 1024;
const PRUNE_EVERY_MS = 10_000;

class Reset extends Error {}

export class Feed {
  /** @param {import("./verifier.js").Tessera} t */
  constructor(t) {
    this.t = t;
    this.cursor = null;
    this.connected = false;
    this.blocked = false; // the next entry is one this version cannot apply
    this.lastContact = null; // Date.now() of the last time Tessera's feed was heard
    this.staleLogged = false;
    this.reconnects = 0;
    this.snapshotLoaded = false;
    this.stopped = false;
    this.abort = new AbortController();
  }

  stop() {
    this.stopped = true;
    this.abort.abort();
  }

  silentMs() {
    return this.lastContact === null ? null : Date.now() - this.lastContact;
  }

  heard() {
    this.lastContact = Date.now();
    if (this.staleLogged) {
      this.staleLogged = false;
      console.info("tessera: the revocation feed is reachable again");
    }
  }

  lost(why) {
    if (this.t.isStale()) {
      if (!this.staleLogged) {
        this.staleLogged = true;
        const policy =
          this.t.options.onStale === "accept"
            ? "still accepting tokens: revocations made meanwhile are NOT applied"
            : "refusing every token with 503 until it is back";
        console.error(`tessera: the revocation feed is unreachable (${why}); ${policy}`);
      }
    } else {
      console.warn(`tessera: the revocation feed dropped (${why}); catching up and reconnecting`);
    }
  }

  async run() {
    let backoff = 100;
    const cap = this.t.options.pollIntervalMs;
    const state = { backoff, lastPrune: Date.now() };
    while (!this.stopped) {
      if (this.cursor === null) {
        try {
          await this.snapshot();
          this.snapshotLoaded = true;
          this.t.updateReady();
        } catch (e) {
          this.lost(e.message);
          await sleep(state.backoff);
          state.backoff = Math.min(state.backoff * 2, cap);
          continue;
        }
      }
      let outcome;
      try {
        await this.stream(state);
        outcome = new Error("stream: closed by Tessera");
      } catch (e) {
        outcome = e;
      }
      this.connected = false;
      if (this.stopped) return;
      if (outcome instanceof Reset) {
        console.warn("tessera: Tessera no longer knows our feed cursor; taking a fresh snapshot");
        this.cursor = null;
        continue;
      }
      this.lost(outcome.message);
      this.reconnects += 1;
      // Catch up by polling before waiting, so a stream that keeps failing still delivers.
      try {
        await this.poll();
      } catch (e) {
        if (e instanceof Reset) this.cursor = null;
        else this.lost(e.message);
      }
      await sleep(state.backoff);
      state.backoff = Math.min(state.backoff * 2, cap);
    }
  }

  async page(after) {
    const url = new URL(`${this.t.baseUrl}/auth/revocations`);
    if (after !== null) url.searchParams.set("after", after);
    let res;
    try {
      res = await fetch(url, { headers: { "x-api-key": this.t.key }, signal: AbortSignal.any([AbortSignal.timeout(FETCH_TIMEOUT_MS), this.abort.signal]) });
    } catch (e) {
      throw new Error(`feed: ${e.cause?.code ?? e.name}`);
    }
    if ((res.status === 404 || res.status === 400) && after !== null) {
      await res.body?.cancel();
      throw new Reset();
    }
    if (res.status === 401) throw new Error("feed: Tessera refused the resource-server key (401)");
    if (res.status !== 200) throw new Error(`feed: status ${res.status}`);
    let page;
    try {
      page = JSON.parse(await readLimited(res, MAX_PAGE_BYTES, "feed page"));
    } catch (e) {
      throw new Error(e.message.startsWith("feed") ? e.message : "feed: unreadable page");
    }
    if (typeof page?.cursor !== "string" || !Array.isArray(page.revocations)) throw new Error("feed: unreadable page");
    return page;
  }

  async snapshot() {
    const fresh = new Revocations();
    let after = null;
    for (;;) {
      let page;
      try {
        page = await this.page(after);
      } catch (e) {
        throw e instanceof Reset ? new Error("feed: cursor refused during a snapshot") : e;
      }
      for (const e of page.revocations) {
        try {
          fresh.apply(e);
        } catch (err) {
          this.blocked = true;
          throw err;
        }
      }
      after = page.cursor;
      if (page.more !== true) break;
    }
    fresh.prune(Date.now());
    this.t.revoked = fresh;
    this.blocked = false;
    this.cursor = after;
    this.heard();
  }

  /** Applies one entry and moves the cursor past it; an entry it cannot apply is never skipped. */
  apply(entry, id) {
    try {
      this.t.revoked.apply(entry);
      this.blocked = false;
    } catch (e) {
      this.blocked = true;
      throw e instanceof UnreadableEntry ? e : new UnreadableEntry(entry);
    }
    this.cursor = id ?? entry.id;
  }

  async poll() {
    for (;;) {
      const page = await this.page(this.cursor);
      for (const e of page.revocations) this.apply(e, null);
      this.cursor = page.cursor;
      this.heard();
      if (page.more !== true) return;
    }
  }

  async stream(state) {
    const idleMs = this.t.options.streamIdleTimeoutMs;
    const idle = new AbortController();
    let timer = setTimeout(() => idle.abort(), FETCH_TIMEOUT_MS);
    const signal = AbortSignal.any([idle.signal, this.abort.signal]);
    let res;
    try {
      res = await fetch(`${this.t.baseUrl}/auth/revocations/stream`, {
        headers: { "x-api-key": this.t.key, accept: "text/event-stream", "last-event-id": this.cursor ?? "" },
        signal,
      });
    } catch (e) {
      clearTimeout(timer);
      throw new Error(`stream: ${idle.signal.aborted ? "no answer" : (e.cause?.code ?? e.name)}`);
    }
    try {
      if (res.status === 400) throw new Reset();
      if (res.status === 401) throw new Error("stream: Tessera refused the resource-server key (401)");
      if (res.status !== 200) throw new Error(`stream: status ${res.status}`);
      // Answering is not enough to count as heard from (an entry we cannot apply must end in
      // the stale policy, not in an endless reconnect).
      this.connected = true;
      const parser = new SseParser();
      const reader = res.body.getReader();
      for (;;) {
        clearTimeout(timer);
        timer = setTimeout(() => idle.abort(), idleMs);
        let chunk;
        try {
          chunk = await reader.read();
        } catch {
          throw new Error(idle.signal.aborted ? "stream: silent for too long" : "stream: broken");
        }
        if (chunk.done) throw new Error("stream: closed by Tessera");
        for (const ev of parser.push(chunk.value)) {
          if (ev.event === "revocation") {
            let entry;
            try {
              entry = JSON.parse(ev.data);
            } catch {
              throw new Error("stream: an entry that is not JSON");
            }
            this.apply(entry, ev.id);
          } else if (ev.event === "reset") {
            throw new Reset();
          }
        }
        // Only a chunk applied in full counts as hearing from Tessera.
        this.heard();
        state.backoff = 100;
        if (Date.now() - state.lastPrune >= PRUNE_EVERY_MS) {
          this.t.revoked.prune(Date.now());
          state.lastPrune = Date.now();
        }
      }
    } finally {
      clearTimeout(timer);
      // Closes the connection, whether or not a reader holds the body.
      idle.abort();
    }
  }
}
