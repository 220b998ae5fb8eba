// A resource server protected by Tessera, with the interface every example shares (the same
// flags and routes as tessera-axum's `resource_server` and the Python example):
//
//   node examples/resource-server.mjs --tessera http://127.0.0.1:8080 --listen 127.0.0.1:3000 \
//       --key "$TESSERA_RESOURCE_KEY" [--issuer ISS] [--audience AUD] [--public-url URL] [--stale-after 60]
//
// GET /healthz (200 once keys and revocations are loaded and the feed is not stale, else 503),
// GET /hello (any valid token), /admin-only (permission admin), /recent (auth_time within
// 300 s), /mfa (acr aal2). Plain node:http with the Express-style middleware.
import http from "node:http";
import { parseArgs } from "node:util";

import { Require, Tessera } from "../src/index.js";

const { values: args } = parseArgs({
  options: {
    tessera: { type: "string" },
    listen: { type: "string", default: "127.0.0.1:3000" },
    key: { type: "string" },
    issuer: { type: "string" },
    audience: { type: "string", multiple: true },
    "public-url": { type: "string" },
    "stale-after": { type: "string", default: "60" },
  },
});
const key = args.key ?? process.env.TESSERA_RESOURCE_KEY;
if (!args.tessera || !key) {
  console.error("usage: resource-server.mjs --tessera URL [--listen HOST:PORT] --key KEY (or TESSERA_RESOURCE_KEY)");
  process.exit(2);
}
const [host, port] = args.listen.split(/:(?=\d+$)/);
const tessera = new Tessera({
  url: args.tessera,
  key,
  issuer: args.issuer,
  audience: args.audience,
  staleAfterMs: Number(args["stale-after"]) * 1000,
  publicUrl: args["public-url"] ?? `http://${args.listen}`,
});

const json = (res, status, body) => res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body));
const ok = (_req, res) => json(res, 200, { ok: true });
const routes = {
  "/hello": [tessera.express(), (req, res) => {
    const { sub, sid, roles, perms } = req.auth;
    json(res, 200, { sub, sid, roles, perms });
  }],
  "/admin-only": [tessera.express(Require.permission("admin")), ok],
  "/recent": [tessera.express(Require.recentAuthentication(300)), ok],
  "/mfa": [tessera.express(Require.acr("aal2")), ok],
};

http
  .createServer((req, res) => {
    const path = new URL(req.url, "http://x").pathname;
    if (req.method === "GET" && path === "/healthz") {
      return json(res, tessera.isReady() ? 200 : 503, tessera.status());
    }
    const route = req.method === "GET" ? routes[path] : undefined;
    if (!route) {
      return res
        .writeHead(404, { "content-type": "application/problem+json" })
        .end(JSON.stringify({ type: "urn:tessera:problem:not_found", status: 404, code: "not_found", title: "No such route" }));
    }
    const [middleware, handler] = route;
    middleware(req, res, (err) => {
      if (err) {
        console.error(err);
        return json(res, 500, { code: "internal" });
      }
      handler(req, res);
    });
  })
  .listen(Number(port), host, () => console.log(`resource server on http://${host}:${port} (tessera ${args.tessera})`));
