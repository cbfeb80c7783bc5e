# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright (c) 2026, CommandCenter platform team
"""compose_ready: whether the containers community.docker.docker_compose_v2 reports already pass the health gate."""
from __future__ import annotations

from ansible.errors import AnsibleFilterError


def _is_oneoff(container: dict) -> bool:
    labels = container.get("Labels") or {}
    if isinstance(labels, str):  # older Compose prints labels as "k=v,k=v"
        labels = dict(item.split("=", 1) for item in labels.split(",") if "=" in item)
    return str(labels.get("com.docker.compose.oneoff", "False")).lower() == "true"


def _ready(container: dict, oneshot: bool) -> bool:
    state = str(container.get("State", "")).lower()
    if oneshot:
        return state == "exited" and int(container.get("ExitCode") or 0) == 0
    return state == "running" and str(container.get("Health") or "").lower() in ("", "healthy")


def compose_ready(containers, services=None, oneshot=None):
    """True when every service the gate checks (services, or all that have containers, plus oneshot) has a
    container and every one of them is ready as commandcenter.infra.compose_health defines it: running and
    healthy (or without a healthcheck), or for a one-shot service exited with code 0. False otherwise."""
    if not isinstance(containers, list) or not all(isinstance(c, dict) for c in containers):
        raise AnsibleFilterError("compose_ready: expects the containers list of docker_compose_v2's result, got %s"
                                 % type(containers).__name__)
    oneshot = list(oneshot or [])
    found: dict[str, list[dict]] = {}
    for container in containers:
        if not _is_oneoff(container):
            found.setdefault(str(container.get("Service", "")), []).append(container)
    wanted = set(services or found) | set(oneshot)
    if not wanted:
        return False
    for service in wanted:
        if not found.get(service):
            return False
        if not all(_ready(c, service in oneshot) for c in found[service]):
            return False
    return True


class FilterModule:
    """Whether a compose project's reported containers already pass the health gate."""

    def filters(self):
        return {"compose_ready": compose_ready}
