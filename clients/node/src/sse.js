// A Server-Sent Events parser for the revocation stream: events as {event, data, id}; a line
// longer than any entry could be is an error, not a growing buffer.
const MAX_LINE = 64 * 1024;

export class SseParser {
  constructor() {
    this.buffer = "";
    this.decoder = new TextDecoder();
    this.reset();
  }

  reset() {
    this.event = "";
    this.data = null;
    this.id = null;
  }

  /** Feeds a chunk; returns the events it completed. Throws on a line too long. */
  push(chunk) {
    this.buffer += this.decoder.decode(chunk, { stream: true });
    const out = [];
    let nl;
    while ((nl = this.buffer.search(/\r\n|\r|\n/)) >= 0) {
      const line = this.buffer.slice(0, nl);
      const width = this.buffer[nl] === "\r" && this.buffer[nl + 1] === "\n" ? 2 : 1;
      // A lone \r at the end of the buffer may be the first half of \r\n: wait for more.
      if (this.buffer[nl] === "\r" && nl + 1 === this.buffer.length) break;
      this.buffer = this.buffer.slice(nl + width);
      if (line === "") {
        if (this.data !== null) out.push({ event: this.event || "message", data: this.data, id: this.id });
        this.reset();
      } else if (!line.startsWith(":")) {
        const i = line.indexOf(":");
        const field = i < 0 ? line : line.slice(0, i);
        const value = i < 0 ? "" : line.slice(i + 1).replace(/^ /, "");
        if (field === "event") this.event = value;
        else if (field === "data") this.data = this.data === null ? value : `${this.data}\n${value}`;
        else if (field === "id") this.id = value;
      }
    }
    if (this.buffer.length > MAX_LINE) throw new Error("stream: a line too long to be an entry");
    return out;
  }
}
