// better-auth doing the flow Tessera's refresh is compared with: a signed-in session (email and
// password, SQLite) asks for a fresh JWT from the jwt plugin (`GET /api/auth/token`). Two worker
// processes (node:cluster), like gunicorn -w 2 for the Python peers; 127.0.0.1 only.
//
//   PEER_PORT=... PEER_DB=/tmp/x.sqlite3 node server.mjs
import cluster from "node:cluster";
import http from "node:http";
import { betterAuth } from "better-auth";
import { getMigrations } from "better-auth/db/migration";
import { toNodeHandler } from "better-auth/node";
import { jwt } from "better-auth/plugins";
import Database from "better-sqlite3";

const port = Number(process.env.PEER_PORT ?? 3000);
const db = new Database(process.env.PEER_DB ?? "/tmp/better-auth-peer.sqlite3");
db.pragma("journal_mode = WAL");
db.pragma("busy_timeout = 5000");

const options = {
  database: db,
  baseURL: `http://127.0.0.1:${port}`,
  secret: process.env.PEER_SECRET ?? "bench-only-secret-not-for-production-0123456789",
  emailAndPassword: { enabled: true },
  plugins: [jwt()],
  // The load comes from one address; the comparison is of the token flow, not of throttling.
  rateLimit: { enabled: false },
  telemetry: { enabled: false },
};

if (cluster.isPrimary) {
  const { runMigrations } = await getMigrations(options);
  await runMigrations();
  for (let i = 0; i < 2; i++) cluster.fork();
  const stop = () => {
    for (const w of Object.values(cluster.workers)) w.kill("SIGTERM");
    process.exit(0);
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
} else {
  const handler = toNodeHandler(betterAuth(options));
  http
    .createServer((req, res) => {
      if (req.url === "/") {
        res.end("ok");
        return;
      }
      handler(req, res);
    })
    .listen(port, "127.0.0.1");
}
