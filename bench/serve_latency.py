"""One client, one connection, requests one after another: the latency of
`weft serve` per request, without queueing behind other connections.

    python bench/serve_latency.py PORT BODY CONTENT-TYPE [REQUESTS]

Prints one Markdown table row: body, requests/s, p50 and p99 in ms, and
the JSON (or Arrow) bytes in and out per second.
"""

import http.client
import os
import statistics
import sys
import time


def main():
    port, path, content_type = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    count = int(sys.argv[4]) if len(sys.argv) > 4 else 300
    body = open(path, "rb").read()
    connection = http.client.HTTPConnection("127.0.0.1", port)

    def post():
        connection.request("POST", "/v1/transform", body, {"Content-Type": content_type})
        answer = connection.getresponse()
        out = answer.read()
        if answer.status != 200:
            sys.exit(f"serve_latency: {answer.status}: {out[:200]!r}")
        return out

    for _ in range(10):
        post()
    latencies = []
    started = time.monotonic()
    for _ in range(count):
        start = time.monotonic()
        out = post()
        latencies.append((time.monotonic() - start) * 1000)
    took = time.monotonic() - started
    latencies.sort()
    mb_per_s = (len(body) + len(out)) * count / took / 1e6
    print(f"| {os.path.basename(path)} | {count / took:.1f} | {statistics.median(latencies):.2f} "
          f"| {latencies[int(0.99 * (count - 1))]:.2f} | {len(body) / 1e6:.2f} / {len(out) / 1e6:.2f} "
          f"| {mb_per_s:.0f} |")


if __name__ == "__main__":
    main()
