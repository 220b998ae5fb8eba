// @tessera/resource-server: protect a Node API with Tessera's access tokens, verified locally,
// with revoked sessions refused within milliseconds through the revocation feed.
import * as adapters from "./adapters.js";
import { Tessera as Verifier } from "./verifier.js";

export { AuthError } from "./errors.js";
export { Require } from "./guards.js";
export { Revocations, UnreadableEntry, issuedMs } from "./revocations.js";
export { verifyProof, DpopError, thumbprint, normalizeHtu, accessTokenHash } from "./dpop.js";

/** A verifier for one API, with the framework adapters as methods. */
export class Tessera extends Verifier {
  /** Express / Connect / node:http middleware `(req, res, next)`; sets `req.auth`. */
  express(...guards) {
    return adapters.express(this, guards);
  }

  /** A Fastify hook (`preHandler`); sets `request.auth`. */
  fastify(...guards) {
    return adapters.fastify(this, guards);
  }

  /** A Web-standard handler: `handler(request, auth)` runs only for an authorized request. */
  handler(handler, ...guards) {
    return adapters.web(this, handler, guards);
  }
}

/** Starts a verifier: `createTessera({url, key})`; `await tessera.ready()` before reporting ready. */
export function createTessera(options) {
  return new Tessera(options);
}
