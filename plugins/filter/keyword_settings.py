# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright (c) 2026, CommandCenter platform team
"""Jinja2 filter ``keyword_settings``: a ``KEYWORD value`` configuration file with some keywords set.

Files such as /etc/login.defs belong to the distribution: a role that owns a few of
their settings keeps every other line as it is. Each keyword's first active line gets
the new value (its alignment kept), later active lines of the same keyword are removed,
and a keyword with no active line is appended. Comments are left alone.

Documentation for ``ansible-doc -t filter`` lives in the sidecar file ``keyword_settings.yml``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from ansible.errors import AnsibleFilterError

_LINE = re.compile(r"^(?P<key>[A-Za-z_][A-Za-z0-9_]*)(?P<sep>[ \t]+)(?P<value>.*?)[ \t]*$")


def keyword_settings(text, settings):
    """``text`` with every keyword of ``settings`` set to its value."""
    if not isinstance(text, str):
        raise AnsibleFilterError(f"keyword_settings: the text must be a string, got {type(text).__name__}")
    if not isinstance(settings, Mapping):
        raise AnsibleFilterError(f"keyword_settings: the settings must be a mapping, got {type(settings).__name__}")
    wanted = {str(key): str(value) for key, value in settings.items()}
    for key, value in wanted.items():
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key) or "\n" in value:
            raise AnsibleFilterError(f"keyword_settings: bad setting {key!r}: {value!r}")
    done, lines = set(), []
    for line in text.splitlines():
        match = _LINE.match(line)
        if match and match["key"] in wanted:
            if match["key"] in done:
                continue
            done.add(match["key"])
            line = f"{match['key']}{match['sep']}{wanted[match['key']]}"
        lines.append(line)
    lines += [f"{key}\t{value}" for key, value in wanted.items() if key not in done]
    return "\n".join(lines) + "\n"


class FilterModule:
    """Keyword configuration files."""

    def filters(self):
        return {"keyword_settings": keyword_settings}
