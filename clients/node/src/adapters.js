// The verifier in the shapes frameworks take: Express-style middleware (Express, Connect, plain
// node:http), a Fastify hook, and a Web-standard Request handler (Hono, Next.js route handlers,
// Deno, Bun). Each verifies the token, runs the guards, and answers refusals as problem+json.
import { AuthError } from "./errors.js";

async function authorize(tessera, req, guards) {
  const auth = await tessera.verify(req);
  for (const guard of guards) guard(auth);
  return auth;
}

function fail(e) {
  if (e instanceof AuthError) return e.toResponse();
  throw e;
}

/** Express-style middleware: sets `req.auth`, or answers the refusal. */
export function express(tessera, guards) {
  return (req, res, next) => {
    authorize(tessera, req, guards).then(
      (auth) => {
        req.auth = auth;
        next();
      },
      (e) => {
        let r;
        try {
          r = fail(e);
        } catch (err) {
          return next(err);
        }
        res.writeHead(r.status, r.headers).end(r.body);
      },
    );
  };
}

/** A Fastify `preHandler` (or `onRequest`) hook: sets `request.auth`, or answers the refusal. */
export function fastify(tessera, guards) {
  return async (request, reply) => {
    try {
      request.auth = await authorize(tessera, request.raw ?? request, guards);
    } catch (e) {
      const r = fail(e);
      return reply.code(r.status).headers(r.headers).send(r.body);
    }
  };
}

/** Wraps `handler(request, auth)` into a Web-standard `(request) => Response`. */
export function web(tessera, handler, guards) {
  return async (request, ...rest) => {
    let auth;
    try {
      auth = await authorize(tessera, request, guards);
    } catch (e) {
      const r = fail(e);
      return new Response(r.body, { status: r.status, headers: r.headers });
    }
    return handler(request, auth, ...rest);
  };
}
