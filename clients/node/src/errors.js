// Why a request was refused: the same codes, statuses, problem+json bodies and
// WWW-Authenticate challenges as tessera-axum and Tessera itself. No error ever carries the
// token or any part of it.

const TITLES = {
  missing_token: "An access token is required",
  invalid_token: "The access token is not valid",
  token_expired: "The access token has expired",
  session_revoked: "The session has been revoked",
  insufficient_scope: "The access token does not allow this",
  insufficient_user_authentication: "A more recent authentication is required",
  invalid_dpop_proof: "Invalid DPoP proof",
  unavailable: "Tokens cannot be checked right now",
};

export class AuthError extends Error {
  /**
   * @param {string} code a stable code of Tessera's API (missing_token, invalid_token, ...)
   * @param {{status?: number, detail?: string, challenge?: string | null, title?: string}} [more]
   */
  constructor(code, more = {}) {
    super(code);
    this.name = "AuthError";
    this.code = code;
    this.status = more.status ?? (code === "insufficient_scope" ? 403 : code === "unavailable" ? 503 : 401);
    this.title = more.title ?? TITLES[code] ?? code;
    this.detail = more.detail;
    this.challenge =
      more.challenge !== undefined
        ? more.challenge
        : code === "unavailable"
          ? null
          : `Bearer error="invalid_token", error_description="${code}"`;
  }

  /** The answer to send: status, headers and a problem+json body (RFC 9457). */
  toResponse() {
    const body = { type: `urn:tessera:problem:${this.code}`, status: this.status, code: this.code, title: this.title };
    if (this.detail !== undefined) body.detail = this.detail;
    const headers = { "content-type": "application/problem+json", "cache-control": "no-store" };
    if (this.challenge) headers["www-authenticate"] = this.challenge;
    if (this.code === "unavailable") headers["retry-after"] = "5";
    return { status: this.status, headers, body: JSON.stringify(body) };
  }

  static insufficientScope(needed) {
    return new AuthError("insufficient_scope", {
      detail: `needs ${needed}`,
      challenge: 'Bearer error="insufficient_scope", error_description="insufficient_scope"',
    });
  }

  static notRecent(maxAge) {
    return new AuthError("insufficient_user_authentication", {
      detail: `sign in again: this needs an authentication within ${maxAge} s`,
      challenge: `Bearer error="insufficient_user_authentication", error_description="A more recent authentication is required", max_age=${maxAge}`,
    });
  }

  static assurance(acr) {
    return new AuthError("insufficient_user_authentication", {
      title: "A stronger authentication is required",
      detail: `this needs a session of assurance ${acr}: sign in with a second factor`,
      challenge: `Bearer error="insufficient_user_authentication", error_description="A stronger authentication is required", acr_values="${acr}"`,
    });
  }

  static dpop(why) {
    return new AuthError("invalid_dpop_proof", {
      detail: why,
      challenge: 'DPoP error="invalid_dpop_proof", algs="ES256 EdDSA Ed25519"',
    });
  }
}
