// The revocations in force, by the rules of vectors/revocation.json: the same rules Tessera's
// nodes and tessera-axum apply (tessera-revocation).

/** An entry this version cannot apply: never skip one, it may revoke the token in front of you. */
export class UnreadableEntry extends Error {
  constructor(entry) {
    super(`revocation entry ${typeof entry?.id === "string" ? entry.id : "?"} cannot be applied by this version`);
    this.name = "UnreadableEntry";
  }
}

const isInt = (v) => Number.isSafeInteger(v);
const isStr = (v) => typeof v === "string";

export class Revocations {
  constructor() {
    this.sessions = new Map(); // session id -> until_ms
    this.users = new Map(); // user id -> {upTo, until}
    this.userNamespaces = new Map(); // user id + "\0" + namespace -> {upTo, until}
    this.namespaces = new Map(); // namespace -> {upTo, until}
    this.all = null; // {upTo, until}
  }

  /** Applies one feed entry (idempotent); throws UnreadableEntry if it cannot. */
  apply(e) {
    if (e === null || typeof e !== "object" || !isStr(e.id) || !isInt(e.until_ms)) throw new UnreadableEntry(e);
    const cutoff = () => {
      if (!isInt(e.issued_up_to_ms)) throw new UnreadableEntry(e);
      return { upTo: e.issued_up_to_ms, until: e.until_ms };
    };
    const need = (v) => {
      if (!isStr(v)) throw new UnreadableEntry(e);
      return v;
    };
    switch (e.kind) {
      case "session": {
        const id = need(e.session_id);
        this.sessions.set(id, Math.max(this.sessions.get(id) ?? -Infinity, e.until_ms));
        return;
      }
      case "user":
        return raise(this.users, need(e.user_id), cutoff());
      case "user_namespace":
        return raise(this.userNamespaces, `${need(e.user_id)}\u0000${need(e.namespace)}`, cutoff());
      case "namespace":
        return raise(this.namespaces, need(e.namespace), cutoff());
      case "all": {
        const c = cutoff();
        this.all = this.all ? { upTo: Math.max(this.all.upTo, c.upTo), until: Math.max(this.all.until, c.until) } : c;
        return;
      }
      default:
        throw new UnreadableEntry(e);
    }
  }

  /** Whether a token of session `sid`, user `sub`, namespace `ns`, issued at `issuedMs`, is refused. */
  refuses(sid, sub, ns, issuedMs) {
    const covers = (c) => c !== undefined && c !== null && issuedMs <= c.upTo;
    return (
      this.sessions.has(sid) ||
      covers(this.all) ||
      covers(this.users.get(sub)) ||
      covers(this.namespaces.get(ns)) ||
      (this.userNamespaces.size > 0 && covers(this.userNamespaces.get(`${sub}\u0000${ns}`)))
    );
  }

  /** Forgets what can no longer refuse an unexpired token (kept while until_ms >= nowMs). */
  prune(nowMs) {
    for (const [k, until] of this.sessions) if (until < nowMs) this.sessions.delete(k);
    for (const m of [this.users, this.userNamespaces, this.namespaces])
      for (const [k, c] of m) if (c.until < nowMs) m.delete(k);
    if (this.all && this.all.until < nowMs) this.all = null;
  }

  get size() {
    return this.sessions.size + this.users.size + this.userNamespaces.size + this.namespaces.size + (this.all ? 1 : 0);
  }
}

function raise(map, key, c) {
  const old = map.get(key);
  map.set(key, old ? { upTo: Math.max(old.upTo, c.upTo), until: Math.max(old.until, c.until) } : c);
}

/**
 * A token's issue instant in unix ms, as revocation cutoffs compare it: the timestamp of its
 * UUIDv7 `jti` when that falls in the second `iat` names, else the end of that second.
 */
export function issuedMs(iat, jti) {
  if (typeof jti === "string" && /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-7[0-9a-fA-F]{3}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/.test(jti)) {
    const ms = parseInt(jti.replaceAll("-", "").slice(0, 12), 16);
    if (Math.floor(ms / 1000) === iat) return ms;
  }
  return iat * 1000 + 999;
}
