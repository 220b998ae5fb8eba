// Types of tessera.js, Tessera's browser client. Behaviour and guarantees: docs/browser-client.md.

/** Where the body transport keeps the refresh token. `localStorage` fits; so does anything async. */
export interface StorageAdapter {
  getItem(key: string): string | null | Promise<string | null>;
  setItem(key: string, value: string): void | Promise<void>;
  removeItem(key: string): void | Promise<void>;
}

export interface ClientOptions {
  /** Tessera's origin, e.g. "https://auth.example.com". Empty or absent: this page's origin. */
  baseUrl?: string;
  /**
   * "cookie" (default, browsers): the refresh token stays in Tessera's HttpOnly cookie and the
   * access token in memory. "body": the refresh token is kept in `storage` (Node, workers).
   */
  transport?: "cookie" | "body";
  /**
   * Body transport: where the refresh token lives (default: memory, so it is lost with the
   * process). Cookie transport: only the csrf token, and only needed when the page is on another
   * origin than Tessera and so cannot read the csrf cookie.
   */
  storage?: StorageAdapter;
  /** Prefix of storage keys, lock names and the tabs' channel. Default: "tessera:" + origin. */
  storageKey?: string;
  /** Name of the csrf cookie if the server sets `cookies.csrf_name` to something else. */
  csrfCookie?: string;
  /**
   * Origins besides Tessera's and this page's that `fetch` sends the access token to (your APIs).
   * Requests elsewhere go out without it.
   */
  tokenOrigins?: string[];
  /**
   * Binds every session this client opens to a DPoP key (API.md §10): a non-extractable P-256
   * key made with WebCrypto, kept in IndexedDB and shared by every tab of the page's origin.
   * Logins and refreshes carry a proof, and `fetch` sends the token as `Authorization: DPoP`
   * with a fresh proof (retrying once with the server's nonce on `use_dpop_nonce`). A copied
   * token is then worthless without the key.
   */
  dpop?: boolean;
  /** Replaces the platform's pieces (fetch, clock, timers, locks...): for tests only. */
  env?: Record<string, unknown>;
}

export interface User {
  id: string;
  email: string;
  roles: string[];
}

/** The session as this client holds it. */
export interface SessionInfo {
  user: User;
  sessionId: string;
  /** When the current access token expires, on this device's clock (for display only). */
  accessExpiresAt: Date;
  /** Seconds the current access token has left. */
  accessExpiresIn: number;
}

/** A session as `GET /auth/sessions` lists it. */
export interface ListedSession {
  id: string;
  namespace: string;
  created_at: string;
  last_active_at: string;
  expires_at: string;
  ip: string | null;
  user_agent: string | null;
  refresh_count: number;
  current: boolean;
}

/** Why a session ended: this user (here or in another tab), an admin or a revocation, reuse of a stolen refresh token, or time. */
export type SignedOutReason = "user" | "revoked" | "reused" | "expired";

export type ChangeEvent =
  | { type: "signedIn"; session: SessionInfo }
  | { type: "refreshed"; session: SessionInfo }
  | { type: "signedOut"; session: null; reason: SignedOutReason };

export type Status = "unknown" | "signedIn" | "signedOut";

export interface Credentials {
  email: string;
  password: string;
  namespace?: string;
}

/** A second factor (API.md §9). */
export interface Factor {
  id: string;
  type: "totp" | "passkey";
  name: string;
  /** A pending factor changes nothing until it is confirmed. */
  confirmed: boolean;
  created_at: string;
  last_used_at: string | null;
}

/** A pending TOTP factor: the secret is shown this once. */
export interface TotpEnrolment {
  factor: Factor;
  /** Base32, for typing into an authenticator app. */
  secret: string;
  /** `otpauth://totp/…`. */
  otpauth_url: string;
  /** `otpauth_url` as a QR code: an SVG document, e.g. for `<img src="data:image/svg+xml,…">`. */
  qr_svg: string;
}

export interface TesseraClient {
  /** Settles once the client knows whether a session exists (restored from another tab or a refresh). */
  readonly ready: Promise<SessionInfo | null>;
  /** "unknown" until `ready` (or while offline at start), then "signedIn" or "signedOut". */
  status(): Status;
  session(): SessionInfo | null;
  /** A valid access token (refreshed first if it has expired), or null when signed out. */
  accessToken(): Promise<string | null>;
  /**
   * `fetch` with `Authorization: Bearer` for Tessera's and `tokenOrigins`' URLs. A 401
   * `token_expired` or `session_revoked` refreshes once and retries once. Never patches globals.
   */
  fetch(input: RequestInfo | URL, init?: RequestInit): Promise<Response>;
  signUp(credentials: Credentials): Promise<SessionInfo>;
  /**
   * `POST /auth/login`. For a user with a second factor it rejects with a TesseraError whose
   * `code` is "mfa_required" and which carries `mfaToken` and `factors`: pass the token to
   * `verifyMfa` with a code.
   */
  signIn(credentials: Credentials): Promise<SessionInfo>;
  /** The second step of a sign-in: a TOTP code or a recovery code. The session is aal2. */
  verifyMfa(step: { mfaToken: string; code: string; factorId?: string }): Promise<SessionInfo>;
  /**
   * `POST /auth/reauthenticate`: proves the password again (and a code, for a user with a second
   * factor) and swaps in an access token with a fresh `auth_time`, in every tab. Needed when a
   * route answers 401 "insufficient_user_authentication".
   */
  reauthenticate(proof: { password: string; code?: string }): Promise<SessionInfo | null>;
  /** `GET /auth/mfa/factors`: confirmed and pending. */
  factors(): Promise<Factor[]>;
  /** `POST /auth/mfa/totp`: a pending factor. Needs a recent sign-in (and aal2 once the user has a factor). */
  enrollTotp(options?: { name?: string }): Promise<TotpEnrolment>;
  /**
   * Confirms a pending factor with a code from the app. `recovery_codes` (10, shown this once)
   * come with the user's first factor, which also ends the user's other sessions.
   */
  confirmTotp(id: string, code: string): Promise<{ factor: Factor; recovery_codes?: string[] }>;
  /** `DELETE /auth/mfa/factors/{id}`: the last one takes the recovery codes with it. */
  removeFactor(id: string): Promise<void>;
  /** A new set of 10 recovery codes; the old set stops working. */
  newRecoveryCodes(): Promise<string[]>;
  /**
   * Makes a passkey with `navigator.credentials.create` and adds it (API.md §9.3): a recent
   * session, aal2 once the user has a factor. The user's first factor comes with
   * `recovery_codes` and refreshes this session to aal2, as `confirmTotp`.
   */
  registerPasskey(options?: { name?: string }): Promise<{ factor: Factor; recovery_codes?: string[] }>;
  /**
   * Signs in with a passkey alone (aal2): any discoverable passkey, or with `email` one of that
   * user's. `mediation: "conditional"` (with an `AbortSignal`) offers passkeys in the email
   * field's autofill where the browser can.
   */
  signInWithPasskey(options?: {
    email?: string;
    namespace?: string;
    mediation?: CredentialMediationRequirement;
    signal?: AbortSignal;
  }): Promise<SessionInfo>;
  /** The second step of a sign-in with a passkey, after `mfa_required`. */
  verifyMfaWithPasskey(step: { mfaToken: string }): Promise<SessionInfo>;
  /** Step-up with a passkey: as `reauthenticate`, without the password. */
  reauthenticateWithPasskey(): Promise<SessionInfo | null>;
  /** Ends the session here and in every tab at once, then tells Tessera (again when back online). */
  signOut(): Promise<void>;
  /** `GET /auth/me`. */
  me(): Promise<{ user: User; session: ListedSession }>;
  sessions(): Promise<ListedSession[]>;
  /** Revokes one of the user's sessions; revoking this one signs out (reason "user"). */
  revokeSession(id: string): Promise<void>;
  /** Revokes every session of the user but this one; resolves with how many. */
  revokeOtherSessions(): Promise<number>;
  /** Other sessions of the user are revoked by the server; this one lives on. */
  changePassword(change: { currentPassword: string; newPassword: string }): Promise<void>;
  /** Refreshes now (once for all tabs); false if the session could not be refreshed. */
  refresh(): Promise<boolean>;
  /** `POST /auth/password/forgot`: resolves alike whether or not the email has an account. */
  requestPasswordReset(email: string): Promise<void>;
  /** `POST /auth/password/reset` with the `reset_token` of a link: every session of the user ends. */
  resetPassword(reset: { token: string; newPassword: string }): Promise<void>;
  /** `POST /auth/email/verify` with the `verify_token` of a link. */
  verifyEmail(token: string): Promise<void>;
  /** `POST /auth/email/verify/send`: another verification mail (at most one a minute). */
  sendVerification(): Promise<void>;
  /** Calls `listener` on every change, from this tab or another; returns the unsubscribe function. */
  onChange(listener: (event: ChangeEvent) => void): () => void;
  /** Stops timers, leaves the tabs' channel, and removes the page listeners. */
  close(): void;
}

export function createClient(options?: ClientOptions): TesseraClient;

/** An error answer of Tessera (`application/problem+json`). */
export class TesseraError extends Error {
  readonly name: "TesseraError";
  /** The HTTP status; 0 for a sign-in abandoned by a sign-out. */
  readonly status: number;
  /** The stable code of API.md §2, e.g. "invalid_credentials". */
  readonly code: string;
  readonly detail?: string;
  /** Seconds, from `Retry-After` (429, 503). */
  readonly retryAfter?: number;
  /** With "mfa_required": the token of the sign-in's second step. */
  readonly mfaToken?: string;
  /** With "mfa_required": the user's factors to choose from. */
  readonly factors?: { id: string; type: "totp" | "passkey"; name: string }[];
}

/** `PublicKeyCredentialCreationOptionsJSON` → what `navigator.credentials.create` takes. */
export function creationOptions(json: Record<string, unknown>): PublicKeyCredentialCreationOptions;
/** `PublicKeyCredentialRequestOptionsJSON` → what `navigator.credentials.get` takes. */
export function requestOptions(json: Record<string, unknown>): PublicKeyCredentialRequestOptions;
/** A credential's JSON form (its `toJSON()` where the browser has it). */
export function credentialJSON(credential: PublicKeyCredential): Record<string, unknown>;

/** A storage adapter in memory (the body transport's default). */
export function memoryStorage(): StorageAdapter;

/** Milliseconds after receipt at which a token living `expiresInMs` is refreshed. */
export function refreshDelay(expiresInMs: number, random?: () => number): number;

/** Backoff after the `attempt`-th failed refresh in a row. */
export function retryDelay(attempt: number, random?: () => number): number;

/** The `signedOut` reason a refresh error code means, or null if it does not end the session. */
export function signOutReason(code: string): SignedOutReason | null;
