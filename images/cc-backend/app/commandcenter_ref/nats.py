# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright (c) 2026, CommandCenter platform team
"""A NATS reachability and credentials check on the raw client protocol: no Python
NATS client in Debian, and INFO / CONNECT / PING / PONG is all a health check needs."""
import json
import socket
from urllib.parse import unquote, urlsplit


class NatsError(Exception):
    pass


def ping(url, timeout=2.0, name="cc-backend"):
    parts = urlsplit(url)
    host, port = parts.hostname, parts.port or 4222
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.settimeout(timeout)
        stream = sock.makefile("rb")
        info = stream.readline()
        if not info.startswith(b"INFO "):
            raise NatsError("no INFO from server")
        if json.loads(info[5:]).get("tls_required"):
            raise NatsError("server requires TLS (not supported by this check)")
        connect = {"verbose": False, "pedantic": False, "name": name, "lang": "python",
                   "version": "0", "protocol": 1}
        if parts.username:
            connect["user"] = unquote(parts.username)
            connect["pass"] = unquote(parts.password or "")
        sock.sendall(b"CONNECT " + json.dumps(connect).encode() + b"\r\nPING\r\n")
        while True:
            line = stream.readline()
            if not line:
                raise NatsError("connection closed by server")
            if line.startswith(b"PONG"):
                return
            if line.startswith(b"-ERR"):
                raise NatsError(line[4:].decode(errors="replace").strip().strip("'"))
            if line.startswith(b"PING"):
                sock.sendall(b"PONG\r\n")
            # +OK and asynchronous INFO lines: keep reading
