# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright (c) 2026, CommandCenter platform team
"""preflight_problems: the messages of the failed checks of a preflight checks list.

Documentation for ``ansible-doc -t filter`` lives in ``preflight_problems.yml``
next to this file. A role states each check once, as data::

    - bad: "{{ redis_port is not commandcenter.infra.port }}"
      msg: "redis_port: must be a port 1-65535, got {{ redis_port }}"

and this filter returns the ``msg`` of every check whose ``bad`` is true, so every
problem of a role is reported together, in the order of the list.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

from ansible.errors import AnsibleFilterError


def _text(value, where):
    if not isinstance(value, str):
        raise AnsibleFilterError(f"preflight_problems: {where}: msg must be a string, got {type(value).__name__}")
    return value.strip()


def preflight_problems(checks, prefix=""):
    """Return ``prefix + msg`` for each check of ``checks`` whose ``bad`` is true.

    An item is either a check ``{bad: <bool>, msg: <str>}`` or a list of problem
    messages already found (such as the result of ``secret_problems``), each of
    which is reported. ``bad`` must be a real boolean: a string such as "False"
    is an error, never silently true.
    """
    if isinstance(checks, (str, bytes)) or not isinstance(checks, Sequence):
        raise AnsibleFilterError(f"preflight_problems expects a list of checks, got {type(checks).__name__}")
    if not isinstance(prefix, str):
        raise AnsibleFilterError(f"preflight_problems: prefix must be a string, got {type(prefix).__name__}")
    problems = []
    for index, item in enumerate(checks, start=1):
        where = f"item {index}"
        if isinstance(item, Mapping):
            if "bad" not in item or "msg" not in item:
                raise AnsibleFilterError(f"preflight_problems: {where} needs the keys bad and msg, "
                                         f"got {', '.join(map(str, item)) or 'none'}")
            bad = item["bad"]
            if not isinstance(bad, bool):
                raise AnsibleFilterError(f"preflight_problems: {where} ({str(item['msg'])[:80]!r}): bad must be a "
                                         f"boolean, got {type(bad).__name__} {bad!r}")
            if bad:
                problems.append(prefix + _text(item["msg"], where))
        elif isinstance(item, Sequence) and not isinstance(item, (str, bytes)):
            problems.extend(prefix + _text(text, where) for text in item)
        else:
            raise AnsibleFilterError(f"preflight_problems: {where} must be a check {{bad, msg}} or a list of "
                                     f"messages, got {type(item).__name__}")
    return problems


class FilterModule:
    """Preflight checks as data."""

    def filters(self):
        return {"preflight_problems": preflight_problems}
