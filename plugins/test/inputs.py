# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright (c) 2026, CommandCenter platform team
"""Jinja2 tests for preflight checks: ``port``, ``size``, ``dns_name``, ``abs_path``.

Documentation for ``ansible-doc -t test`` lives in the sidecar files ``port.yml``,
``size.yml``, ``dns_name.yml`` and ``abs_path.yml`` next to this file. Each test
answers true or false for any input (never an error), so a check such as
``redis_port is not commandcenter.infra.port`` is safe on whatever the inventory
or ``-e`` holds; only a wrong test argument (an unknown unit system) is an error.
"""
from __future__ import annotations

import re

from ansible.errors import AnsibleError

from ansible_collections.commandcenter.infra.plugins.filter.sizes import parse_size

_DIGITS = re.compile(r"^[0-9]+$")
_LABEL = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$")
_BLANK_OR_CONTROL = re.compile(r"[\s\x00-\x1f\x7f]")


def port(value):
    """A TCP/UDP port 1-65535: an int, or a string of digits (as -e passes it)."""
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        number = value
    elif isinstance(value, str) and _DIGITS.match(value):
        number = int(value)
    else:
        return False
    return 1 <= number <= 65535


def size(value, units="docker", base=None):
    """A size the size_bytes filter converts (same parser): see size.yml for the unit systems."""
    try:
        return parse_size(value, units, base) is not None
    except ValueError as exc:
        raise AnsibleError(f"size test: {exc}") from exc


def dns_name(value, min_labels=1):
    """An RFC 1123 host or domain name of at least ``min_labels`` labels.

    Labels of 1-63 letters, digits and hyphens, not starting or ending with a hyphen,
    at most 253 characters in all, no trailing dot; the last label is not all digits
    (so an IPv4 address is not a DNS name). Case is not checked (DNS ignores it).
    """
    if not isinstance(value, str) or not value or len(value) > 253:
        return False
    labels = value.split(".")
    if len(labels) < int(min_labels):
        return False
    if not all(_LABEL.match(label) for label in labels):
        return False
    return not labels[-1].isdigit()


def abs_path(value):
    """An absolute, normalised path below /: no empty, . or .. segment, no trailing slash,
    no blanks or control characters (the roles use paths in compose files and commands)."""
    if not isinstance(value, str) or not value.startswith("/") or value == "/":
        return False
    if _BLANK_OR_CONTROL.search(value):
        return False
    return all(segment not in ("", ".", "..") for segment in value[1:].split("/"))


class TestModule:
    """Input tests for preflight checks."""

    def tests(self):
        return {"port": port, "size": size, "dns_name": dns_name, "abs_path": abs_path}
