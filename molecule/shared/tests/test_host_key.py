# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright (c) 2026, CommandCenter platform team
"""The per-host HMAC key (stack role, entry point host_key) is in place, root only, and random.

Every role that deploys a compose project keys its config-hash labels (and the app its
release ids, Traefik and NATS their bcrypt salts) with it; a scenario that deploys none
(docker_host) has no key.
"""
from __future__ import annotations

import re

import pytest

KEY = "/opt/commandcenter/secrets/host.key"


def test_host_key_is_root_only_and_random(host):
    key = host.file(KEY)
    if not key.exists and not host.file("/opt/commandcenter").exists:
        pytest.skip("this scenario deploys nothing under /opt/commandcenter")
    assert key.is_file, f"{KEY} is missing"
    assert (key.user, key.group, key.mode) == ("root", "root", 0o600)
    directory = host.file(KEY.rsplit("/", 1)[0])
    assert (directory.user, directory.mode) == ("root", 0o700)
    assert re.fullmatch(r"[0-9a-f]{64}\n?", key.content_string), "not 32 random bytes as 64 hex digits"
