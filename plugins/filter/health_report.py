# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright (c) 2026, CommandCenter platform team
"""health_report: a host's containers as a table a person can read, and what is wrong."""
from __future__ import annotations

from ansible.errors import AnsibleFilterError

PROJECT = "com.docker.compose.project"
SERVICE = "com.docker.compose.service"
APP_PREFIX = "cc-app-"
HEADER = ("SERVICE", "STATE", "HEALTH", "RESTARTS", "IMAGE")


def _row(container: dict) -> dict:
    labels = (container.get("Config") or {}).get("Labels") or {}
    state = container.get("State") or {}
    health = state.get("Health") or {}
    log = health.get("Log") or []
    return {
        "name": (container.get("Name") or "").lstrip("/"),
        "project": labels.get(PROJECT, ""),
        "service": labels.get(SERVICE, ""),
        "state": state.get("Status", "unknown"),
        "health": health.get("Status", "-"),
        "restarts": int(container.get("RestartCount") or 0),
        "exit_code": int(state.get("ExitCode") or 0),
        "oom": bool(state.get("OOMKilled")),
        "image": (container.get("Config") or {}).get("Image", ""),
        "last_health_output": (log[-1].get("Output") or "").strip() if log else "",
    }


def _container_problems(row: dict) -> list[str]:
    name, state = row["name"], row["state"]
    if state == "restarting":
        return [f"{name} is restarting ({row['restarts']} restarts so far)"]
    if state == "exited" and (row["exit_code"] != 0 or row["oom"]):
        return [f"{name} exited with code {row['exit_code']}" + (" (OOM-killed)" if row["oom"] else "")]
    if state in ("created", "dead", "paused", "removing"):
        return [f"{name} is {state}, not running"]
    if state == "running" and row["health"] == "unhealthy":
        output = row["last_health_output"].splitlines()
        return [f"{name} is unhealthy" + (f": {output[-1][:200]}" if output else "")]
    if state == "running" and row["health"] == "starting":
        return [f"{name} has not passed its healthcheck yet (starting)"]
    return []


def health_report(containers, expected_projects=None, app_release="", app_expected=False, app_beat=True):
    """Summarise `docker inspect` output of one host.

    containers: the list `docker inspect` prints. expected_projects: compose projects
    that must have at least one running container on this host. app_release: the
    application release the history names current ('' when none); with app_expected,
    no other release may run, and exactly one Celery beat must run, in that release, on
    the host that runs it (app_beat; with several app hosts, one runs it), none elsewhere.
    Returns {table: [lines], problems: [sentences], running: N, total: N}.
    """
    if not isinstance(containers, list):
        raise AnsibleFilterError(f"health_report expects the list docker inspect prints, got {type(containers).__name__}")
    rows = sorted((_row(c) for c in containers), key=lambda r: (r["project"], r["service"], r["name"]))
    problems = [p for row in rows for p in _container_problems(row)]

    running_projects = {r["project"] for r in rows if r["state"] == "running"}
    for project in expected_projects or []:
        if project not in running_projects:
            problems.append(f"compose project {project} has no running container on this host")

    if app_expected:
        app_rows = [r for r in rows if r["project"].startswith(APP_PREFIX)]
        current = APP_PREFIX + app_release if app_release else ""
        beats = [r for r in app_rows if r["service"] == "beat" and r["state"] == "running"]
        if not app_release:
            problems.append("no application release is recorded in the release history")
        if not app_beat:
            if beats:
                problems.append(f"a Celery beat runs on this host ({', '.join(b['name'] for b in beats)}), which is not "
                                "app_beat_host: scheduled tasks run more than once (playbooks/site.yml --tags app "
                                "stops it)")
        elif not beats:
            problems.append("no Celery beat is running: scheduled tasks do not run "
                            "(playbooks/site.yml --tags app starts the current release's beat)")
        elif len(beats) > 1:
            problems.append(f"{len(beats)} Celery beats run at once ({', '.join(b['name'] for b in beats)}): "
                            "scheduled tasks run more than once")
        elif current and beats[0]["project"] != current:
            problems.append(f"the Celery beat runs in {beats[0]['project']}, not in the current release {current}")
        stale = sorted({r["project"] for r in app_rows if current and r["project"] != current})
        if stale:
            problems.append(f"releases other than the current one still have containers: {', '.join(stale)} "
                            "(a re-run of playbooks/site.yml --tags app removes them)")

    width = max([len(HEADER[0])] + [len(r["name"]) for r in rows])
    table = [f"{HEADER[0]:<{width}}  {HEADER[1]:<10} {HEADER[2]:<10} {HEADER[3]:>8}  {HEADER[4]}"]
    table += [f"{r['name']:<{width}}  {r['state']:<10} {r['health']:<10} {r['restarts']:>8}  {r['image']}" for r in rows]
    return {"table": table, "problems": problems, "running": sum(r["state"] == "running" for r in rows),
            "total": len(rows)}


class FilterModule:
    """Health summary of a host's containers."""

    def filters(self):
        return {"health_report": health_report}
