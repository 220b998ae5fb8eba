"""A real SMTP server for the mail tests (aiosmtpd, from PyPI): it accepts every message on
127.0.0.1:PORT and writes each one to DIR as JSON (envelope, headers, decoded text and HTML
parts, whether the connection was TLS, and the raw message). Runs until killed.

Usage: python3 catcher.py PORT DIR [starttls|smtps CERT KEY]: with `starttls`, the server offers
STARTTLS (and would also take mail in plain text); with `smtps`, it speaks TLS from the first
byte."""
import asyncio
import email
import email.policy
import json
import os
import ssl
import sys

from aiosmtpd.controller import Controller


class Catcher:
    def __init__(self, folder):
        self.folder = folder
        self.count = 0

    async def handle_DATA(self, server, session, envelope):
        msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
        parts = {}
        for part in msg.walk():
            kind = part.get_content_type()
            if kind in ("text/plain", "text/html") and kind not in parts:
                parts[kind] = part.get_content()
        self.count += 1
        record = {
            "mail_from": envelope.mail_from,
            "tls": server.transport.get_extra_info("ssl_object") is not None,
            "rcpt_tos": envelope.rcpt_tos,
            "headers": {k: str(v) for k, v in msg.items()},
            "text": parts.get("text/plain", ""),
            "html": parts.get("text/html", ""),
            "raw": envelope.content.decode("utf-8", "replace"),
        }
        tmp = os.path.join(self.folder, f".{self.count}.tmp")
        with open(tmp, "w") as f:
            json.dump(record, f)
        os.rename(tmp, os.path.join(self.folder, f"{os.getpid()}-{self.count}.json"))
        return "250 OK"


def main():
    port, folder = int(sys.argv[1]), sys.argv[2]
    os.makedirs(folder, exist_ok=True)
    tls = {}
    if len(sys.argv) > 3:
        mode, cert, key = sys.argv[3:6]
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(cert, key)
        if mode == "starttls":
            tls = {"tls_context": context}  # offered, not required: plain text would pass
        else:
            tls = {"ssl_context": context}
    controller = Controller(Catcher(folder), hostname="127.0.0.1", port=port, **tls)
    controller.start()
    print("listening", flush=True)
    try:
        asyncio.get_event_loop().run_forever()
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
