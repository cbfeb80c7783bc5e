#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright (c) 2026, CommandCenter platform team
"""Bounded HTTPS load at a fixed rate, for rollout tests and benchmarks.

Sends --rate requests per second (each on a new TLS connection, with SNI set to the
URL's host while connecting to --connect) until --max-seconds pass, SIGTERM/SIGINT
arrives or the file --stop-file appears; then waits for requests in flight and prints
one JSON summary: counts, failures (status other than 200, or no response), the count
of each status ("error": no response), latency percentiles, the `version` each JSON
answer reported, and when the run began and its failures happened. Standard library only.
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import signal
import socket
import ssl
import threading
import time
from urllib.parse import urlsplit


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))]


class Load:
    def __init__(self, args: argparse.Namespace):
        self.args = args
        url = urlsplit(args.url)
        self.host, self.port = url.hostname, url.port or 443
        self.path = url.path or "/"
        self.connect = args.connect or self.host
        self.context = ssl.create_default_context(cafile=args.cacert) if args.cacert else ssl.create_default_context()
        self.lock = threading.Lock()
        self.results: list[dict] = []
        self.stop = threading.Event()

    def one(self, started: float) -> None:
        result = {"t": round(started - self.t0, 3)}
        try:
            sock = socket.create_connection((self.connect, self.port), timeout=self.args.timeout)
            conn = http.client.HTTPConnection(self.host, self.port, timeout=self.args.timeout)
            conn.sock = self.context.wrap_socket(sock, server_hostname=self.host)
            conn.request("GET", self.path, headers={"Host": self.host, "Connection": "close"})
            response = conn.getresponse()
            body = response.read()
            conn.close()
            result["status"] = response.status
            try:
                result["version"] = json.loads(body).get("version")
            except (ValueError, AttributeError):
                pass
        except (OSError, http.client.HTTPException) as exc:
            result["error"] = f"{type(exc).__name__}: {exc}"[:200]
        result["ms"] = round((time.monotonic() - started) * 1000, 2)
        with self.lock:
            self.results.append(result)

    def run(self) -> dict:
        self.t0 = time.monotonic()
        self.started_at = time.time()
        interval = 1.0 / self.args.rate
        threads = []
        n = 0
        while not self.stop.is_set():
            due = self.t0 + n * interval
            now = time.monotonic()
            if due > now:
                time.sleep(due - now)
            if (time.monotonic() - self.t0 > self.args.max_seconds
                    or (self.args.stop_file and os.path.exists(self.args.stop_file))):
                break
            thread = threading.Thread(target=self.one, args=(time.monotonic(),), daemon=True)
            thread.start()
            threads.append(thread)
            n += 1
        for thread in threads:
            thread.join(self.args.timeout + 5)
        return self.summary(time.monotonic() - self.t0)

    def summary(self, seconds: float) -> dict:
        failed = [r for r in self.results if r.get("status") != 200]
        latencies = [r["ms"] for r in self.results]
        versions: dict[str, int] = {}
        statuses: dict[str, int] = {}
        for r in self.results:
            key = str(r.get("status", "error"))
            statuses[key] = statuses.get(key, 0) + 1
        for r in self.results:
            if r.get("status") == 200:
                versions[str(r.get("version"))] = versions.get(str(r.get("version")), 0) + 1
        failed_in_time = sorted(failed, key=lambda r: r["t"])
        return {
            "url": self.args.url, "rate": self.args.rate, "seconds": round(seconds, 1),
            # When the run began (epoch seconds), and when (seconds from then) the first failed
            # request started and the last one ended: a test that causes an outage at a known
            # time reads how long requests failed.
            "started_at": round(self.started_at, 3),
            "first_failure_t": failed_in_time[0]["t"] if failed else None,
            "last_failure_end_t": (max(r["t"] + r["ms"] / 1000 for r in failed_in_time) if failed else None),
            "requests": len(self.results), "failed": len(failed), "failures": failed[:20],
            "p50_ms": percentile(latencies, 50), "p99_ms": percentile(latencies, 99),
            "max_ms": max(latencies) if latencies else None, "versions": versions, "statuses": statuses,
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True, help="https://name/path; name is the SNI and Host header")
    parser.add_argument("--connect", help="address to connect to instead of resolving the URL's host")
    parser.add_argument("--cacert", help="CA bundle that signs the server's certificate")
    parser.add_argument("--rate", type=float, default=20.0, help="requests per second")
    parser.add_argument("--max-seconds", type=float, default=300.0, help="hard bound on the run")
    parser.add_argument("--stop-file", help="stop when this file exists")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds per request")
    args = parser.parse_args()
    load = Load(args)
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: load.stop.set())
    print(json.dumps(load.run()), flush=True)


if __name__ == "__main__":
    main()
