// What an authenticator app computes (RFC 6238: HMAC-SHA-1, 30 s steps, six digits), for the
// tests that enrol a factor through the client or the account page.
import { createHmac } from "node:crypto";

/** RFC 4648 base32 (spaces and padding ignored) to bytes. */
export function base32(text) {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  let bits = 0;
  let value = 0;
  const out = [];
  for (const c of text.replace(/[\s=]/g, "").toUpperCase()) {
    const i = alphabet.indexOf(c);
    if (i < 0) throw new Error(`not base32: ${c}`);
    value = ((value << 5) | i) & 0xffff;
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      out.push((value >>> bits) & 0xff);
    }
  }
  return Buffer.from(out);
}

/** The six digits of `secret` (bytes) for the time step now + `ahead`. */
export function totp(secret, ahead = 0) {
  const step = Math.floor(Date.now() / 30_000) + ahead;
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(step));
  const mac = createHmac("sha1", secret).update(counter).digest();
  const at = mac[mac.length - 1] & 0x0f;
  return String((mac.readUInt32BE(at) & 0x7fffffff) % 1_000_000).padStart(6, "0");
}

/** A six-digit code that no step near now yields: wrong for sure. */
export function wrongCode(secret) {
  const near = new Set([-1, 0, 1, 2].map((d) => totp(secret, d)));
  return ["000000", "111111", "222222"].find((c) => !near.has(c));
}
