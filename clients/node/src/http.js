// Reading Tessera's answers with a bound on size and time: an answer too large to be Tessera's
// is refused, never buffered.

/** The body of `res` as text, at most `max` bytes. */
export async function readLimited(res, max, what) {
  const declared = Number(res.headers.get("content-length") ?? 0);
  if (declared > max) throw new Error(`${what}: answer larger than ${max} bytes`);
  const chunks = [];
  let size = 0;
  for await (const chunk of res.body ?? []) {
    size += chunk.length;
    if (size > max) {
      await res.body.cancel().catch(() => {});
      throw new Error(`${what}: answer larger than ${max} bytes`);
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString("utf8");
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms).unref?.());
