# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright (c) 2026, CommandCenter platform team
"""Jinja2 filter ``setting_changes``: what changed between two sets of restart-only settings.

The stack role keeps, per compose project, the settings each service can only take
by a restart (the input of its config-hash label) in a state file. Before a deploy it
compares the recorded set with the new one and reports, by name, what forces a
restart: ``redis: maxmemory-policy? no: mem_limit 384m -> 448m``.

Documentation for ``ansible-doc -t filter`` lives in the sidecar file ``setting_changes.yml``.
"""

from __future__ import annotations

from collections.abc import Mapping

from ansible.errors import AnsibleFilterError

_ABSENT = "(unset)"


def _show(value) -> str:
    if isinstance(value, str):
        return value if value else '""'
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def setting_changes(old, new):
    """Messages ``service: name old -> new`` for every setting of ``new`` that differs from ``old``.

    Both are mappings of service name to a mapping of setting name to value. A service
    that ``old`` does not know (a first deploy, a new service) is a creation, not a
    restart: it gives no message. Settings are compared by value; added and removed
    settings are reported with ``(unset)`` on their missing side.
    """
    for what, value in (("recorded settings", old), ("new settings", new)):
        if not isinstance(value, Mapping):
            raise AnsibleFilterError(f"setting_changes: the {what} must be a mapping, got {type(value).__name__}")
    messages = []
    for service, settings in new.items():
        before = old.get(service)
        if not isinstance(before, Mapping) or not isinstance(settings, Mapping):
            continue
        for name in list(settings) + [name for name in before if name not in settings]:
            was, now = before.get(name, _ABSENT), settings.get(name, _ABSENT)
            if was != now:
                was_text = was if was is _ABSENT else _show(was)
                now_text = now if now is _ABSENT else _show(now)
                messages.append(f"{service}: {name} {was_text} -> {now_text}")
    return messages


class FilterModule:
    """Restart reasons."""

    def filters(self):
        return {"setting_changes": setting_changes}
