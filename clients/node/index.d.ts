// Types of @tessera/resource-server.

export interface Options {
  /** Tessera's base URL (its issuer, unless `issuer` says otherwise). */
  url: string;
  /** A resource-server key (one of Tessera's `resource_server_keys`); sent only to Tessera. */
  key: string;
  /** The `iss` tokens carry, when Tessera's `issuer` is configured. */
  issuer?: string;
  /** Audiences this API accepts (when Tessera's `audience` is configured). */
  audience?: string | string[];
  /** Pin the signing algorithm; by default the one the JWKS names. */
  algorithm?: "EdDSA" | "Ed25519" | "ES256" | "RS256";
  /** Clock skew tolerated on exp, iat and nbf (at most 5, the default). */
  leewaySecs?: number;
  /** How long the feed may be unheard-of before tokens are refused (default 60 000). */
  staleAfterMs?: number;
  /** After `staleAfterMs`: refuse with 503 (default) or accept and count. */
  onStale?: "refuse" | "accept";
  /** The origin DPoP proofs name in `htu` (e.g. https://api.example.com); without it, bound tokens are refused. */
  publicUrl?: string;
  jwksRefreshMs?: number;
  kidRefetchMs?: number;
  /** The cap of the reconnect backoff (default 5 000). */
  pollIntervalMs?: number;
  streamIdleTimeoutMs?: number;
}

/** Who a verified, unrevoked access token speaks for. */
export interface Identity {
  readonly sub: string;
  readonly sid: string;
  readonly ns: string;
  readonly roles: readonly string[];
  readonly perms: readonly string[];
  /** Unix seconds of the last proof of a credential (login, reauthentication). */
  readonly authTime: number;
  readonly ext: Record<string, unknown>;
  readonly exp: number;
  readonly iat: number;
  readonly jti: string;
  readonly issuedAtMs: number;
  /** "aal1", "aal2", or null for tokens of a Tessera before second factors. */
  readonly acr: string | null;
  readonly amr: readonly string[];
  /** The DPoP key thumbprint the token is bound to, if any. */
  readonly jkt: string | null;
}

export interface Status {
  ready: boolean;
  feed_connected: boolean;
  feed_silent_ms: number | null;
  stale: boolean;
  feed_blocked: boolean;
  cursor: string | null;
  revocations: number;
  accepted: number;
  refused: number;
  refused_revoked: number;
  refused_unavailable: number;
  stale_accepted: number;
  jwks_fetches: number;
  feed_reconnects: number;
}

/** A request as the verifier reads it: a Web Request, a Node IncomingMessage, or the like. */
export interface RequestLike {
  method?: string;
  url?: string;
  headers: Headers | Record<string, string | string[] | undefined>;
}

export type Guard = (auth: Identity) => void;

export declare class AuthError extends Error {
  constructor(code: string, more?: { status?: number; detail?: string; challenge?: string | null; title?: string });
  readonly code: string;
  readonly status: number;
  readonly title: string;
  readonly detail?: string;
  readonly challenge: string | null;
  toResponse(): { status: number; headers: Record<string, string>; body: string };
}

export declare const Require: {
  token(): Guard;
  role(role: string): Guard;
  permission(perm: string): Guard;
  recentAuthentication(maxAgeSecs: number): Guard;
  acr(level: "aal1" | "aal2" | string): Guard;
};

export declare class Tessera {
  constructor(options: Options);
  ready(): Promise<void>;
  isReady(): boolean;
  isStale(): boolean;
  status(): Status;
  close(): void;
  /** Resolves to the identity, or rejects with an AuthError. */
  verify(req: RequestLike): Promise<Identity>;
  express(...guards: Guard[]): (req: any, res: any, next: (err?: unknown) => void) => void;
  fastify(...guards: Guard[]): (request: any, reply: any) => Promise<unknown>;
  handler<A extends unknown[]>(
    handler: (request: Request, auth: Identity, ...rest: A) => Response | Promise<Response>,
    ...guards: Guard[]
  ): (request: Request, ...rest: A) => Promise<Response>;
}

export declare function createTessera(options: Options): Tessera;

export declare class Revocations {
  apply(entry: unknown): void;
  refuses(sid: string, sub: string, ns: string, issuedMs: number): boolean;
  prune(nowMs: number): void;
  readonly size: number;
}
export declare class UnreadableEntry extends Error {}
export declare function issuedMs(iat: number, jti: string): number;

export declare class DpopError extends Error {
  readonly reason: string;
}
export declare function verifyProof(
  proof: string,
  check: { method: string; url: string; accessToken?: string; now: number; maxAgeSecs?: number; algorithms?: string[] },
): Promise<{ jkt: string; jti: string; iat: number; nonce?: string }>;
export declare function thumbprint(jwk: Record<string, string>): string;
export declare function normalizeHtu(url: string): string | null;
export declare function accessTokenHash(token: string): string;
