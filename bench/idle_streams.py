"""What idle revocation streams cost the server: opens N streams to a running Tessera (each
reading its heartbeats), then measures the server process's CPU time over a window, with no
revocation at all; then one revocation, and how long until every stream has it
(docs/performance.md, "Idle revocation streams").

Usage: python3 bench/idle_streams.py http://127.0.0.1:18778 KEY PID [N] [SECONDS]
(KEY: a resource-server or admin key; PID: the server's process id; the server needs
http.max_streams_per_key >= N or 0, and max_connections above N.)"""
import json
import os
import selectors
import socket
import sys
import time
import urllib.request
from urllib.parse import urlparse


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / tick  # utime + stime


def open_stream(host, port, key):
    s = socket.create_connection((host, port))
    s.sendall(
        f"GET /auth/revocations/stream HTTP/1.1\r\nHost: {host}\r\nX-Api-Key: {key}\r\n"
        "Accept: text/event-stream\r\n\r\n".encode()
    )
    s.setblocking(False)
    return s


def main():
    url, key, pid = urlparse(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    n = int(sys.argv[4]) if len(sys.argv) > 4 else 2000
    window = float(sys.argv[5]) if len(sys.argv) > 5 else 20.0
    sel = selectors.DefaultSelector()
    streams = []
    for _ in range(n):
        s = open_stream(url.hostname, url.port, key)
        sel.register(s, selectors.EVENT_READ, bytearray())
        streams.append(s)

    def pump(until):
        while time.monotonic() < until:
            for k, _ in sel.select(timeout=0.05):
                try:
                    data = k.fileobj.recv(65536)
                except BlockingIOError:
                    continue
                if not data:
                    raise SystemExit("a stream was closed by the server")
                k.data.extend(data)

    pump(time.monotonic() + 3)  # every stream answered and idle
    opened = sum(1 for s in streams if b" 200 " in sel.get_key(s).data[:20])
    before = cpu_seconds(pid)
    pump(time.monotonic() + window)
    idle_cpu = cpu_seconds(pid) - before
    print(f"{opened} of {n} streams open; server CPU over {window:.0f} s idle: {idle_cpu:.3f} s")

    # One revocation through the admin API would need an account; a namespace cutoff needs none.
    for s in streams:
        sel.get_key(s).data.clear()
    req = urllib.request.Request(
        f"{sys.argv[1]}/admin/sessions/revoke",
        data=json.dumps({"namespace": "bench-idle-streams"}).encode(),
        headers={"content-type": "application/json", "x-api-key": key},
        method="POST",
    )
    started = time.monotonic()
    try:
        urllib.request.urlopen(req).read()
    except Exception as e:  # noqa: BLE001 - a resource-server key cannot revoke: say so
        print(f"revocation not sent ({e}); pass an admin key to time the delivery")
        return
    pending = set(streams)
    while pending and time.monotonic() - started < 10:
        pump(time.monotonic() + 0.01)
        pending = {s for s in pending if b"event: revocation" not in sel.get_key(s).data}
    took = time.monotonic() - started
    print(f"one revocation reached {n - len(pending)} of {n} streams in {took * 1000:.0f} ms")


if __name__ == "__main__":
    main()
