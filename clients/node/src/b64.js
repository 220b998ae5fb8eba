// Strict base64url without padding, as JOSE has it: a lenient decoder would let two spellings
// of one token through.
const B64URL = /^[A-Za-z0-9_-]*$/;

/** The bytes of a base64url string, or null if it is not strictly one. */
export function decode(s) {
  if (typeof s !== "string" || !B64URL.test(s) || s.length % 4 === 1) return null;
  const bytes = Buffer.from(s, "base64url");
  // Non-canonical trailing bits (two spellings of one value) are refused.
  return bytes.toString("base64url") === s ? bytes : null;
}

export const encode = (bytes) => Buffer.from(bytes).toString("base64url");
