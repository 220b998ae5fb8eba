// Guards: what a route needs beyond a valid token. Each is a function of the identity that
// throws the AuthError to answer with, as tessera-axum's `Require` does.
import { AuthError } from "./errors.js";

const RANK = { aal1: 1, aal2: 2 };

export const Require = Object.freeze({
  /** Any valid, unrevoked token. */
  token: () => () => {},
  /** The role `role`; otherwise 403 insufficient_scope. */
  role: (role) => (auth) => {
    if (!auth.roles.includes(role)) throw AuthError.insufficientScope(`role ${role}`);
  },
  /** The permission `perm`; otherwise 403 insufficient_scope. */
  permission: (perm) => (auth) => {
    if (!auth.perms.includes(perm)) throw AuthError.insufficientScope(`permission ${perm}`);
  },
  /** An authentication (`auth_time`) within `maxAgeSecs`; otherwise 401 insufficient_user_authentication. */
  recentAuthentication: (maxAgeSecs) => (auth) => {
    if (Math.floor(Date.now() / 1000) - auth.authTime > maxAgeSecs) throw AuthError.notRecent(maxAgeSecs);
  },
  /** A session of assurance `level` or higher (aal1 < aal2); an unknown level is never met. */
  acr: (level) => (auth) => {
    const have = RANK[auth.acr ?? "aal1"] ?? 0;
    const need = RANK[level] ?? 0;
    if (!(need > 0 && have >= need)) throw AuthError.assurance(level);
  },
});
