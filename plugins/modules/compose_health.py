#!/usr/bin/python
# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright (c) 2026, CommandCenter platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: compose_health
short_description: Health gate for a Docker Compose project - wait until its services are ready, fail fast when they cannot be
version_added: 0.1.0
author:
  - CommandCenter platform team (@commandcenter)
description:
  - Waits until every selected service of a Docker Compose project is ready, polling the Docker CLI on the target host
    (C(docker ps) and C(docker inspect)); the Docker SDK for Python and the compose files are not needed.
  - Containers are found by the label C(com.docker.compose.project), so this works with any Compose version and wherever
    the project was started from. One-off containers (C(docker compose run), label C(com.docker.compose.oneoff=True)) are ignored.
  - A service is ready when all of its containers are ready. A container is ready when it is running and its healthcheck
    reports C(healthy), or when it is running and has no healthcheck. A container of a service listed in O(oneshot)
    (for example database migrations) is ready when it has exited with code 0; its healthcheck is ignored.
  - >-
    The gate fails at once, without waiting for O(timeout), when a container was OOM-killed; when a container is C(unhealthy)
    (Docker only reports that after the start period and all retries, so it will not recover on its own); when a non-one-shot
    container has exited or is dead, is restarting, or has restarted since the gate started (crash loop); when a one-shot
    container has exited with a non-zero code or is being restarted; or when a selected service has no container at all
    (the preceding C(docker compose up) has already run, so nothing will create it).
  - When O(timeout) expires, the task fails and reports the services that are still starting.
  - On failure the message is a readable multi-line report with, for each service that is not ready, its state, health, exit code,
    restart count, OOM flag, the output of the last healthcheck and the last O(log_lines) lines of its logs (stdout and stderr,
    merged by time). The same details are returned in RV(services). All diagnostics pass through the collection's redaction
    (the P(commandcenter.infra.redact#filter) rules) plus the literal O(secrets).
options:
  project:
    description:
      - Compose project name (the value of the C(com.docker.compose.project) label, as given to C(docker compose -p)).
    type: str
    required: true
  services:
    description:
      - Services that must become ready.
      - If omitted or empty, all services that have containers in the project are checked.
      - Services listed in O(oneshot) are always checked as well.
    type: list
    elements: str
  oneshot:
    description:
      - Services that run to completion (migrations, seeders). They must exit with code 0.
      - They do not need to be repeated in O(services).
    type: list
    elements: str
    default: []
  timeout:
    description:
      - Seconds to wait for all services to become ready. At least one check is always made; V(0) checks exactly once.
    type: int
    default: 180
  interval:
    description:
      - Seconds between two checks. Must be greater than 0.
    type: float
    default: 1
  stable_for:
    description:
      - Seconds a running container B(without) healthcheck must have been up (by its C(State.StartedAt)) before it counts as ready.
      - Without it a crash-looping container caught between two crashes would look ready; with it, it is still starting when it
        crashes again, and the crash fails the gate. A container that has been up longer (an unchanged service) is ready at once.
      - V(0) counts a running container as ready at once. Containers with a healthcheck are judged by their health.
    type: float
    default: 3
  log_lines:
    description:
      - Number of log lines (C(docker logs --tail)) to report for each service that is not ready. V(0) disables log collection.
    type: int
    default: 20
  secrets:
    description:
      - Literal secret values to mask in the diagnostics (logs, healthcheck output, error messages), in addition to the
        collection's redaction patterns. Values shorter than 4 characters are ignored.
    type: list
    elements: str
    default: []
  docker_cli:
    description:
      - The Docker CLI executable, either a name looked up in E(PATH) or an absolute path.
    type: path
    default: docker
attributes:
  check_mode:
    support: full
    description:
      - The module only reads state, so in check mode it runs the same checks and waits the same way.
      - If in check mode the project has no containers at all (a preceding compose task only predicted its changes), the module
        returns successfully with RV(skipped_reason) instead of failing. Selected services without any container are reported
        with status V(absent) instead of failing the task, for the same reason.
  diff_mode:
    support: none
    description: Nothing is changed, so there is no diff.
  idempotent:
    support: full
    description: The module never changes anything and always reports C(changed=false).
requirements:
  - The Docker CLI on the target host, and permission to talk to the Docker daemon (root, or membership of the C(docker) group).
notes:
  - Restart counts are compared with the counts seen at the first check, so a container that restarted before the gate started but
    is running now is not a failure; only restarts during the wait are.
  - A container without a healthcheck is ready as soon as it is running. Give services healthchecks to make the gate meaningful.
  - Scaled services (several containers) are ready only when all their containers are; the report shows the most relevant container.
seealso:
  - module: community.docker.docker_compose_v2
  - plugin: commandcenter.infra.redact
    plugin_type: filter
"""

EXAMPLES = r"""
- name: Start the stack
  community.docker.docker_compose_v2:
    project_src: /opt/commandcenter
    project_name: commandcenter
    state: present

- name: Wait until the stack is healthy (fail fast on crash loops)
  commandcenter.infra.compose_health:
    project: commandcenter
    oneshot:
      - migrate
    timeout: 300
    secrets:
      - "{{ postgres_password }}"
      - "{{ jwt_secret }}"

- name: Gate only the data tier, with more log context on failure
  commandcenter.infra.compose_health:
    project: commandcenter
    services:
      - postgres
      - redis
      - nats
    timeout: 120
    interval: 2
    log_lines: 50
  register: data_tier

- name: Show how long it took
  ansible.builtin.debug:
    msg: "data tier ready after {{ data_tier.elapsed }}s"
"""

RETURN = r"""
services:
  description:
    - One entry per selected service.
    - On success, the status of each service. On failure (returned with the failed result), the full diagnostics.
    - All strings are redacted.
  returned: always
  type: dict
  contains:
    status:
      description: V(ready), V(starting), V(failed), or V(absent) (check mode only, no container).
      type: str
      sample: failed
    reason:
      description: Why the service has that status.
      type: str
      sample: "crash loop: container is restarting"
    state:
      description: Docker state of the reported container (V(created), V(running), V(restarting), V(exited), ...), V(none) without a container.
      type: str
      sample: restarting
    health:
      description: Healthcheck status (V(starting), V(healthy), V(unhealthy)), or V(none) when the container has no healthcheck.
      type: str
      sample: none
    oneshot:
      description: Whether the service is a one-shot service.
      type: bool
      sample: false
    container:
      description: Name of the reported container (the first failed one, else the first not ready one, else the first one).
      type: str
      sample: commandcenter-backend-1
    containers:
      description: Names of all containers of the service.
      type: list
      elements: str
      sample: [commandcenter-backend-1]
    exit_code:
      description: Last exit code of the reported container.
      type: int
      returned: when the service has a container
      sample: 3
    restarts:
      description: Restart count of the reported container.
      type: int
      returned: when the service has a container
      sample: 4
    oom_killed:
      description: Whether the reported container was killed for running out of memory.
      type: bool
      returned: when the service has a container
      sample: false
    health_log:
      description: Output of the last healthcheck run, trimmed, redacted.
      type: str
      returned: on failure, for services that are not ready
      sample: "curl: (7) Failed to connect to localhost port 8000"
    logs:
      description: Last O(log_lines) log lines of the reported container, stdout and stderr merged by time, redacted.
      type: str
      returned: on failure, for services that are not ready and have a container
      sample: "sqlalchemy.exc.OperationalError: connection to postgres://app:********@db/app failed"
elapsed:
  description: Seconds spent waiting.
  returned: always
  type: float
  sample: 12.4
polls:
  description: Number of checks made.
  returned: always
  type: int
  sample: 13
failed_services:
  description: Services that made the gate fail.
  returned: on failure
  type: list
  elements: str
  sample: [backend]
pending_services:
  description: Services that were still starting when the gate stopped.
  returned: on failure
  type: list
  elements: str
  sample: [frontend]
skipped_reason:
  description: Why nothing was checked (check mode and the project has no containers yet).
  returned: when nothing was checked
  type: str
  sample: "check mode: compose project 'commandcenter' has no containers yet"
"""

import calendar
import json
import os
import re
import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.commandcenter.infra.plugins.module_utils._redact import redact

LABEL_PROJECT = "com.docker.compose.project"
LABEL_SERVICE = "com.docker.compose.service"
LABEL_ONEOFF = "com.docker.compose.oneoff"
LABEL_NUMBER = "com.docker.compose.container-number"

READY = "ready"
STARTING = "starting"
FAILED = "failed"
ABSENT = "absent"

HEALTH_LOG_MAX_CHARS = 1000
NO_HEALTHCHECK = "none"

ARGUMENT_SPEC = dict(
    project=dict(type="str", required=True),
    services=dict(type="list", elements="str"),
    oneshot=dict(type="list", elements="str", default=[]),
    timeout=dict(type="int", default=180),
    interval=dict(type="float", default=1),
    stable_for=dict(type="float", default=3),
    log_lines=dict(type="int", default=20),
    secrets=dict(type="list", elements="str", default=[], no_log=True),
    docker_cli=dict(type="path", default="docker"),
)


class DockerError(Exception):
    """The Docker CLI failed in a way that makes checking impossible."""


class DockerCli:
    """Thin wrapper around the docker CLI; ``run_command`` is ``AnsibleModule.run_command``-like."""

    def __init__(self, run_command, binary="docker"):
        self._run_command = run_command
        self.binary = binary

    def _run(self, args):
        return self._run_command(
            [self.binary] + list(args), errors="surrogate_then_replace", expand_user_and_vars=False
        )

    def container_ids(self, project):
        """IDs of all containers (any state) labelled with the compose project."""
        rc, out, err = self._run(
            ["ps", "--all", "--no-trunc", "--filter", "label=%s=%s" % (LABEL_PROJECT, project), "--format", "{{.ID}}"]
        )
        if rc != 0:
            raise DockerError("docker ps failed (rc=%s): %s" % (rc, (err or out).strip()))
        return [line.strip() for line in out.splitlines() if line.strip()]

    def inspect(self, ids):
        """``docker inspect`` of the containers; containers removed meanwhile are simply missing."""
        if not ids:
            return []
        rc, out, err = self._run(["inspect", "--type", "container"] + list(ids))
        try:
            data = json.loads(out) if out.strip() else []
        except ValueError:
            data = None
        if not isinstance(data, list) or (rc != 0 and not data and "no such" not in (err or "").lower()):
            raise DockerError("docker inspect failed (rc=%s): %s" % (rc, (err or out).strip()[:2000]))
        return data

    def logs(self, container_id, tail):
        """Last ``tail`` lines of the container's stdout and stderr, merged by timestamp."""
        rc, out, err = self._run(["logs", "--tail", str(tail), "--timestamps", container_id])
        if rc != 0:
            return "(docker logs failed, rc=%s: %s)" % (rc, (err or out).strip())
        return merge_logs(out, err, tail)


_TIMESTAMP_RE = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(?:Z|[+-]\d\d:\d\d) ?(.*)$")


def merge_logs(stdout, stderr, limit):
    """Merge ``docker logs --timestamps`` stdout and stderr by time, drop the timestamps, keep the last ``limit`` lines."""
    entries = []
    for order, stream in enumerate((stdout or "", stderr or "")):
        key = ""
        for index, line in enumerate(stream.splitlines()):
            match = _TIMESTAMP_RE.match(line)
            if match:
                key = match.group(1) + "." + (match.group(2) or "").ljust(9, "0")[:9]
                line = match.group(3)
            entries.append((key, order, index, line))
    entries.sort()
    lines = [entry[3] for entry in entries]
    if limit is not None:
        lines = lines[-limit:] if limit > 0 else []
    return "\n".join(lines)


def _trim(text, limit=HEALTH_LOG_MAX_CHARS):
    if text is None:
        return None
    text = str(text).strip()
    if len(text) > limit:
        text = "..." + text[-limit:]
    return text


_TIMESTAMP = re.compile(r"^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)?$")


def parse_timestamp(value):
    """Seconds since the epoch of a Docker RFC 3339 timestamp (nanoseconds allowed), or None."""
    match = _TIMESTAMP.match(value or "")
    if not match or match.group(1) == "0001":  # Docker's zero time: never started
        return None
    seconds = float(calendar.timegm(tuple(int(g) for g in match.groups()[:6]) + (0, 0, 0)))
    if match.group(7):
        seconds += float("0." + match.group(7))
    zone = match.group(8)
    if zone and zone != "Z":
        sign = 1 if zone[0] == "+" else -1
        seconds -= sign * (int(zone[1:3]) * 3600 + int(zone[4:6]) * 60)
    return seconds


def container_facts(container):
    """The fields the gate uses, from one ``docker inspect`` object."""
    state = container.get("State") or {}
    config = container.get("Config") or {}
    labels = config.get("Labels") or {}
    health = state.get("Health") or {}
    health_status = health.get("Status") or NO_HEALTHCHECK
    health_log = health.get("Log") or []
    last_check = health_log[-1] if health_log else {}
    restart_policy = ((container.get("HostConfig") or {}).get("RestartPolicy") or {}).get("Name") or "no"
    return {
        "id": container.get("Id") or "",
        "name": (container.get("Name") or "").lstrip("/"),
        "service": labels.get(LABEL_SERVICE),
        "number": labels.get(LABEL_NUMBER),
        "oneoff": str(labels.get(LABEL_ONEOFF, "")).lower() == "true",
        "state": state.get("Status") or "unknown",
        "restarting": bool(state.get("Restarting")),
        # A running container's ExitCode is always 0, even after crashes: Docker resets it on restart.
        "exit_code": None if (state.get("Status") == "running" and not state.get("Restarting")) else state.get("ExitCode"),
        "oom_killed": bool(state.get("OOMKilled")),
        "error": state.get("Error") or "",
        "health": health_status,
        "failing_streak": health.get("FailingStreak") or 0,
        "health_log": _trim(last_check.get("Output")) if last_check else None,
        "restarts": int(container.get("RestartCount") or 0),
        "restart_policy": restart_policy,
        "started_at": parse_timestamp(state.get("StartedAt")),
    }


def classify_container(facts, oneshot, baseline_restarts=None, now=None, stable_for=0):
    """Return ``(status, reason)`` of one container: READY, STARTING or FAILED.

    ``now`` (epoch seconds) and ``stable_for``: a running container without healthcheck is
    ready only once it has been up ``stable_for`` seconds.
    """
    state = facts["state"]
    exit_code = facts["exit_code"]
    restarts = facts["restarts"]
    baseline = restarts if baseline_restarts is None else baseline_restarts
    if facts["oom_killed"]:
        return FAILED, "OOM killed (exit code %s)" % exit_code
    if oneshot:
        if facts["restarting"] or state == "restarting":
            return FAILED, "one-shot container is being restarted (last exit code %s)" % exit_code
        if state in ("exited", "dead"):
            if exit_code == 0 and state == "exited":
                return READY, "completed (exit code 0)"
            return FAILED, "one-shot container %s with exit code %s" % (state, exit_code)
        if state == "created":
            return STARTING, "one-shot container created, not started yet"
        return STARTING, "one-shot container still %s" % state
    if facts["restarting"] or state == "restarting":
        return FAILED, "crash loop: container is restarting (last exit code %s, restarts %s)" % (exit_code, restarts)
    if state in ("exited", "dead"):
        return FAILED, "container %s with exit code %s" % (state, exit_code)
    if restarts > baseline:
        return FAILED, "crash loop: container restarted %d time(s) during the wait (restarts %s)" % (
            restarts - baseline,
            restarts,
        )
    if facts["health"] == "unhealthy":
        return FAILED, "unhealthy (failing streak %s)" % facts["failing_streak"]
    if state == "running":
        if facts["health"] == NO_HEALTHCHECK:
            up = None if (now is None or facts.get("started_at") is None) else now - facts["started_at"]
            if stable_for and up is not None and up < stable_for:
                return STARTING, "running for %.1f s, stable after %g s (no healthcheck)" % (max(up, 0.0), stable_for)
            return READY, "running (no healthcheck)"
        if facts["health"] == "healthy":
            return READY, "healthy"
        return STARTING, "health: %s" % facts["health"]
    if state == "created":
        return STARTING, "created, not started yet"
    return STARTING, "state: %s" % state


class Evaluation:
    """Result of one check of the project."""

    def __init__(self, services, failures, pending, primary):
        self.services = services  # service -> summary dict
        self.failures = failures  # service -> reason
        self.pending = pending  # service -> reason
        self.primary = primary  # service -> facts of the reported container

    @property
    def ready(self):
        return not self.failures and not self.pending

    def __iter__(self):
        # allows ``ready, failures, pending = evaluate(...)``
        return iter((self.ready, self.failures, self.pending))


def selected_services(discovered, services, oneshot):
    """Services to check: ``services`` (or all discovered ones) plus ``oneshot``, without duplicates."""
    wanted = list(services) if services else sorted(discovered)
    for name in oneshot or ():
        if name not in wanted:
            wanted.append(name)
    return wanted


def is_oneoff(container):
    labels = (container.get("Config") or {}).get("Labels") or {}
    return str(labels.get(LABEL_ONEOFF, "")).lower() == "true"


def evaluate(containers, services=None, oneshot=(), baseline_restarts=None, allow_missing=False, now=None,
             stable_for=0):
    """Check the inspected containers of a project.

    :param containers: ``docker inspect`` objects of the project's containers.
    :param services: services to check (None/empty: all services found).
    :param oneshot: services that must have exited with code 0.
    :param baseline_restarts: container id -> RestartCount seen at the first check;
        a higher count now means a crash loop. Missing ids count as no restart.
    :param allow_missing: report a service without containers as ABSENT instead of FAILED (check mode).
    :param now: wall-clock epoch seconds, with ``stable_for``: see :func:`classify_container`.
    :returns: an :class:`Evaluation`; it unpacks as ``(ready, failures, pending)``.
    """
    oneshot = list(oneshot or ())
    baseline_restarts = baseline_restarts or {}
    by_service = {}
    for container in containers:
        facts = container_facts(container)
        if facts["oneoff"] or not facts["service"]:
            continue
        by_service.setdefault(facts["service"], []).append(facts)
    for members in by_service.values():
        members.sort(key=lambda f: (_number(f["number"]), f["name"]))

    summaries, failures, pending, primary = {}, {}, {}, {}
    for service in selected_services(by_service, services, oneshot):
        is_oneshot = service in oneshot
        members = by_service.get(service, [])
        if not members:
            status = ABSENT if allow_missing else FAILED
            reason = "no container found for service %s" % service
            summaries[service] = {
                "status": status,
                "reason": reason,
                "state": "none",
                "health": NO_HEALTHCHECK,
                "oneshot": is_oneshot,
                "container": None,
                "containers": [],
            }
            if status == FAILED:
                failures[service] = reason
            continue
        classified = [
            (facts,) + classify_container(facts, is_oneshot, baseline_restarts.get(facts["id"]), now, stable_for)
            for facts in members
        ]
        chosen = (
            next((c for c in classified if c[1] == FAILED), None)
            or next((c for c in classified if c[1] == STARTING), None)
            or classified[0]
        )
        facts, status, reason = chosen
        if len(classified) > 1:
            reason = "%s: %s" % (facts["name"], reason)
        summaries[service] = {
            "status": status,
            "reason": reason,
            "state": facts["state"],
            "health": facts["health"],
            "oneshot": is_oneshot,
            "container": facts["name"],
            "containers": [c[0]["name"] for c in classified],
            "exit_code": facts["exit_code"],
            "restarts": facts["restarts"],
            "oom_killed": facts["oom_killed"],
        }
        primary[service] = facts
        if status == FAILED:
            failures[service] = reason
        elif status == STARTING:
            pending[service] = reason
    return Evaluation(summaries, failures, pending, primary)


def _number(value):
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


class WaitResult:
    """Outcome of :func:`wait_for_services`: status is ready, failed, timeout or no_containers."""

    def __init__(self, status, evaluation, elapsed, polls):
        self.status = status
        self.evaluation = evaluation
        self.elapsed = elapsed
        self.polls = polls


def wait_for_services(
    cli, project, services=None, oneshot=(), timeout=180, interval=1.0, allow_missing=False, clock=None, sleep=None,
    stable_for=0, wall_clock=None,
):
    """Poll until the services are ready, one of them fails, or ``timeout`` seconds have passed.

    ``cli`` needs ``container_ids(project)`` and ``inspect(ids)``; ``clock`` and ``sleep`` default to
    ``time.monotonic`` and ``time.sleep`` and are injectable for tests. Returns a :class:`WaitResult`;
    its status is ``no_containers`` when the project has no (non one-off) container at all.
    """
    clock = clock or time.monotonic
    sleep = sleep or time.sleep
    wall_clock = wall_clock or time.time
    start = clock()
    baseline = {}
    polls = 0
    while True:
        polls += 1
        containers = [c for c in cli.inspect(cli.container_ids(project)) if not is_oneoff(c)]
        elapsed = clock() - start
        if not containers:
            return WaitResult("no_containers", None, elapsed, polls)
        for container in containers:
            baseline.setdefault(container.get("Id"), int(container.get("RestartCount") or 0))
        evaluation = evaluate(containers, services, oneshot, baseline, allow_missing=allow_missing, now=wall_clock(),
                              stable_for=stable_for)
        if evaluation.failures:
            return WaitResult("failed", evaluation, elapsed, polls)
        if evaluation.ready:
            return WaitResult("ready", evaluation, elapsed, polls)
        if elapsed >= timeout:
            return WaitResult("timeout", evaluation, elapsed, polls)
        sleep(max(0.0, min(interval, timeout - elapsed)))


def collect_diagnostics(cli, evaluation, log_lines, secrets=None):
    """Per-service details for every service that is not ready, with logs; everything redacted.

    Ready and absent services keep their short summary.
    """
    details = {}
    for service, summary in evaluation.services.items():
        info = dict(summary)
        facts = evaluation.primary.get(service)
        if info["status"] in (FAILED, STARTING) and facts is not None:
            info["health_log"] = facts["health_log"]
            if facts["error"]:
                info["error"] = facts["error"]
            if log_lines > 0:
                info["logs"] = cli.logs(facts["id"], log_lines)
        details[service] = redact(info, secrets=secrets)
    return details


def _fmt_bool(value):
    return "true" if value else "false"


def format_report(project, status, services, elapsed, timeout=None):
    """Readable multi-line report of a failed or timed-out gate.

    ``services`` is the (already redacted) output of :func:`collect_diagnostics`.
    """
    failed = [name for name, info in services.items() if info["status"] == FAILED]
    pending = [name for name, info in services.items() if info["status"] == STARTING]
    ready = [name for name, info in services.items() if info["status"] == READY]
    absent = [name for name, info in services.items() if info["status"] == ABSENT]
    if status == "timeout":
        headline = "compose project '%s': timed out after %ss; still starting: %s" % (
            project,
            timeout if timeout is not None else round(elapsed, 1),
            ", ".join(pending) or "-",
        )
    else:
        headline = "compose project '%s' is not healthy after %.1fs; failed: %s" % (
            project,
            elapsed,
            ", ".join(failed) or "-",
        )
        if pending:
            headline += "; still starting: %s" % ", ".join(pending)
    lines = [headline]
    for name in failed + pending:
        info = services[name]
        label = "FAILED" if info["status"] == FAILED else "STILL STARTING"
        if info.get("container") is None:
            lines.append("service %s: %s (%s)" % (name, label, info["reason"]))
            continue
        lines.append(
            "service %s: %s (%s) state=%s exit_code=%s restarts=%s oom_killed=%s health=%s container=%s"
            % (
                name,
                label,
                info["reason"],
                info["state"],
                "n/a" if info.get("exit_code") is None else info.get("exit_code"),
                info.get("restarts"),
                _fmt_bool(info.get("oom_killed")),
                info["health"],
                info["container"],
            )
        )
        if info.get("error"):
            lines.append("  error: %s" % info["error"])
        if info.get("health_log"):
            lines.append("  last health output: %s" % _indent(info["health_log"], "    ").lstrip())
        if "logs" in info:
            if info["logs"]:
                lines.append("  last logs:")
                lines.append(_indent(info["logs"], "    "))
            else:
                lines.append("  last logs: (empty)")
    if ready:
        lines.append("ready: %s" % ", ".join(ready))
    if absent:
        lines.append("absent (check mode): %s" % ", ".join(absent))
    return "\n".join(lines)


def _indent(text, prefix):
    return "\n".join(prefix + line for line in str(text).splitlines())


def _resolve_cli(module, docker_cli):
    if os.sep in docker_cli:
        return docker_cli
    return module.get_bin_path(docker_cli, required=True)


def run_module(module, clock=None, sleep=None, wall_clock=None):
    """Everything main() does, with an injectable clock for tests."""
    params = module.params
    secrets = [s for s in (params["secrets"] or []) if s]
    if params["timeout"] < 0:
        module.fail_json(msg="timeout must be 0 or greater, got %s" % params["timeout"])
    if params["interval"] <= 0:
        module.fail_json(msg="interval must be greater than 0, got %s" % params["interval"])
    if params["stable_for"] < 0:
        module.fail_json(msg="stable_for must be 0 or greater, got %s" % params["stable_for"])
    if params["log_lines"] < 0:
        module.fail_json(msg="log_lines must be 0 or greater, got %s" % params["log_lines"])

    project = params["project"]
    cli = DockerCli(module.run_command, _resolve_cli(module, params["docker_cli"]))
    try:
        result = wait_for_services(
            cli,
            project,
            services=params["services"],
            oneshot=params["oneshot"],
            timeout=params["timeout"],
            interval=params["interval"],
            allow_missing=module.check_mode,
            clock=clock,
            sleep=sleep,
            stable_for=params["stable_for"],
            wall_clock=wall_clock,
        )
    except DockerError as exc:
        module.fail_json(msg=redact(str(exc), secrets=secrets))

    elapsed = round(result.elapsed, 2)
    if result.status == "no_containers":
        if module.check_mode:
            reason = (
                "check mode: compose project '%s' has no containers yet "
                "(a preceding compose task probably only predicted its changes); nothing to check" % project
            )
            module.exit_json(changed=False, msg=reason, skipped_reason=reason, services={}, elapsed=elapsed,
                             polls=result.polls)
        module.fail_json(
            msg="compose project '%s' has no containers (was 'docker compose up' run, with this project name?)" % project,
            services={},
            elapsed=elapsed,
            polls=result.polls,
            failed_services=list(params["services"] or []) + list(params["oneshot"] or []),
            pending_services=[],
        )

    evaluation = result.evaluation
    if result.status == "ready":
        services = {name: redact(info, secrets=secrets) for name, info in evaluation.services.items()}
        absent = [name for name, info in services.items() if info["status"] == ABSENT]
        msg = "all %d service(s) of compose project '%s' are ready" % (len(services) - len(absent), project)
        if absent:
            msg += "; check mode, no container yet for: %s" % ", ".join(absent)
        module.exit_json(changed=False, msg=msg, services=services, elapsed=elapsed, polls=result.polls)

    services = collect_diagnostics(cli, evaluation, params["log_lines"], secrets=secrets)
    report = format_report(project, result.status, services, result.elapsed, timeout=params["timeout"])
    module.fail_json(
        msg=redact(report, secrets=secrets, patterns=()),
        services=services,
        elapsed=elapsed,
        polls=result.polls,
        failed_services=sorted(evaluation.failures),
        pending_services=sorted(evaluation.pending),
    )


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    run_module(module)


if __name__ == "__main__":
    main()
