# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright (c) 2026, CommandCenter platform team
"""A NATS reachability and credentials check on the raw client protocol: no Python
NATS client in Debian, and INFO / CONNECT / PING / PONG is all a health check needs.

`Connection` keeps one authenticated connection per process, as a real client does:
NATS checks the password against its bcrypt hash on every CONNECT (tens of ms of CPU),
so a health check that connected each time would turn a request load on /health into
a CPU load on the NATS server."""
import json
import socket
import threading
from urllib.parse import unquote, urlsplit


class NatsError(Exception):
    pass


def ping(url, timeout=2.0, name="cc-backend"):
    """Connect, authenticate, PING, wait for the PONG, close."""
    conn = Connection(url, timeout, name)
    try:
        conn.ping()
    finally:
        conn.close()


class Connection:
    """One long-lived connection. ping() round-trips on it; if the server closed it
    since the last call (restart, stale connection), it reconnects once and retries."""

    def __init__(self, url, timeout=2.0, name="cc-backend"):
        self.url, self.timeout, self.name = url, timeout, name
        self._lock = threading.Lock()
        self._sock = self._stream = None

    def ping(self):
        with self._lock:
            reused = self._sock is not None
            try:
                self._round_trip()
            except (OSError, NatsError):
                self._close()
                if not reused:
                    raise
                self._round_trip()  # the old connection was gone: one fresh try

    def close(self):
        with self._lock:
            self._close()

    def _round_trip(self):
        try:
            if self._sock is None:
                self._open()
            self._sock.sendall(b"PING\r\n")
            while True:
                line = self._stream.readline()
                if not line:
                    raise NatsError("connection closed by server")
                if line.startswith(b"PONG"):
                    return
                if line.startswith(b"-ERR"):
                    raise NatsError(line[4:].decode(errors="replace").strip().strip("'"))
                if line.startswith(b"PING"):
                    self._sock.sendall(b"PONG\r\n")
                # +OK and asynchronous INFO lines: keep reading
        except (OSError, NatsError):
            self._close()
            raise

    def _open(self):
        parts = urlsplit(self.url)
        self._sock = socket.create_connection((parts.hostname, parts.port or 4222), timeout=self.timeout)
        self._sock.settimeout(self.timeout)
        self._stream = self._sock.makefile("rb")
        info = self._stream.readline()
        if not info.startswith(b"INFO "):
            raise NatsError("no INFO from server")
        if json.loads(info[5:]).get("tls_required"):
            raise NatsError("server requires TLS (not supported by this check)")
        connect = {"verbose": False, "pedantic": False, "name": self.name, "lang": "python",
                   "version": "0", "protocol": 1}
        if parts.username:
            connect["user"] = unquote(parts.username)
            connect["pass"] = unquote(parts.password or "")
        # The PONG to the PING that follows confirms the CONNECT; -ERR refuses it.
        self._sock.sendall(b"CONNECT " + json.dumps(connect).encode() + b"\r\n")

    def _close(self):
        if self._sock is not None:
            try:
                self._sock.close()
            except OSError:
                pass
        self._sock = self._stream = None
