"""How long POST /auth/password/forgot takes for an email with an account and for one without,
interleaved, against a running Tessera with mail on and no per-IP limit (docs/email.md).
Usage: python3 bench/forgot_timing.py http://127.0.0.1:18777 known@example.com [N]"""
import http.client
import json
import statistics
import sys
import time
from urllib.parse import urlparse


def timed(host, port, email):
    c = http.client.HTTPConnection(host, port)
    s = time.perf_counter()
    c.request("POST", "/auth/password/forgot", json.dumps({"email": email}),
              {"content-type": "application/json"})
    r = c.getresponse()
    body = r.read()
    elapsed = time.perf_counter() - s
    c.close()
    return r.status, body, elapsed


def main():
    url, known = urlparse(sys.argv[1]), sys.argv[2]
    n = int(sys.argv[3]) if len(sys.argv) > 3 else 500
    times = {"known": [], "unknown": []}
    answers = set()
    for i in range(n):
        for kind, email in (("known", known), ("unknown", f"nobody{i}@example.com")):
            status, body, elapsed = timed(url.hostname, url.port, email)
            answers.add((status, body))
            times[kind].append(elapsed)
    print(f"distinct answers (status, body): {len(answers)} {sorted(answers)}")
    for kind, v in times.items():
        v.sort()
        print(f"{kind:8} median {statistics.median(v) * 1000:.3f} ms  p90 {v[int(len(v) * .9)] * 1000:.3f} ms")
    print(f"median known / unknown: {statistics.median(times['known']) / statistics.median(times['unknown']):.2f}")


if __name__ == "__main__":
    main()
