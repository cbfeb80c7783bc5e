# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright (c) 2026, CommandCenter platform team
"""health_report: the table and the problems verify.yml prints."""
from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.commandcenter.infra.plugins.filter.health_report import health_report


def container(name, project, service, status="running", health=None, restarts=0, exit_code=0, oom=False,
              health_output=""):
    state = {"Status": status, "ExitCode": exit_code, "OOMKilled": oom}
    if health:
        state["Health"] = {"Status": health, "Log": [{"Output": health_output}] if health_output else []}
    return {"Name": f"/{name}", "RestartCount": restarts, "State": state,
            "Config": {"Image": f"registry/{service}:1", "Labels": {"com.docker.compose.project": project,
                                                                    "com.docker.compose.service": service}}}


def release(rid, beat=True, beat_status="running"):
    project = f"cc-app-{rid}"
    items = [container(f"{project}-backend-1", project, "backend", health="healthy"),
             container(f"{project}-worker-1", project, "worker", health="healthy")]
    if beat:
        items.append(container(f"{project}-beat-1", project, "beat", status=beat_status, health="healthy"))
    return items


def test_healthy_host_has_a_table_and_no_problem():
    report = health_report([container("cc-redis-redis-1", "cc-redis", "redis", health="healthy", restarts=2),
                            *release("abc")],
                           expected_projects=["cc-redis", "cc-app-abc"], app_release="abc", app_expected=True)
    assert report["problems"] == []
    assert report["running"] == report["total"] == 4
    header, *lines = report["table"]
    assert header.split() == ["SERVICE", "STATE", "HEALTH", "RESTARTS", "IMAGE"]
    redis = next(line for line in lines if line.startswith("cc-redis-redis-1"))
    assert redis.split() == ["cc-redis-redis-1", "running", "healthy", "2", "registry/redis:1"]
    # sorted by project: the app release first, then redis
    assert lines[0].startswith("cc-app-abc-")


@pytest.mark.parametrize(("item", "expected"), [
    (container("r", "cc-redis", "redis", status="restarting", restarts=7), "r is restarting (7 restarts so far)"),
    (container("r", "cc-redis", "redis", status="exited", exit_code=137, oom=True), "r exited with code 137 (OOM-killed)"),
    (container("r", "cc-redis", "redis", status="created"), "r is created, not running"),
    (container("r", "cc-redis", "redis", health="unhealthy", health_output="x\nNOAUTH Authentication required."),
     "r is unhealthy: NOAUTH Authentication required."),
    (container("r", "cc-redis", "redis", health="starting"), "r has not passed its healthcheck yet (starting)"),
])
def test_each_bad_container_state_is_a_problem(item, expected):
    assert expected in health_report([item])["problems"]


def test_one_shot_that_exited_zero_is_no_problem():
    assert health_report([container("m", "cc-app-abc", "migrate", status="exited", exit_code=0)])["problems"] == []


def test_missing_project_is_named():
    problems = health_report([container("n", "cc-nats", "nats", status="exited", exit_code=0)],
                             expected_projects=["cc-nats", "cc-postgres"])["problems"]
    assert "compose project cc-nats has no running container on this host" in problems
    assert "compose project cc-postgres has no running container on this host" in problems


def test_missing_beat_is_reported():
    problems = health_report(release("abc", beat=False), app_release="abc", app_expected=True)["problems"]
    assert any(p.startswith("no Celery beat is running") for p in problems), problems


def test_stopped_beat_counts_as_missing():
    problems = health_report(release("abc", beat_status="exited"), app_release="abc", app_expected=True)["problems"]
    assert any(p.startswith("no Celery beat is running") for p in problems), problems


def test_two_beats_and_a_stale_release_are_reported():
    problems = health_report(release("new") + release("old"), app_release="new", app_expected=True)["problems"]
    assert any(p.startswith("2 Celery beats run at once") for p in problems), problems
    assert any("cc-app-old" in p and p.startswith("releases other than the current one") for p in problems), problems


def test_beat_outside_the_current_release_is_reported():
    containers = release("new", beat=False) + [c for c in release("old") if c["Config"]["Labels"][
        "com.docker.compose.service"] == "beat"]
    problems = health_report(containers, app_release="new", app_expected=True)["problems"]
    assert "the Celery beat runs in cc-app-old, not in the current release cc-app-new" in problems


def test_no_release_recorded():
    problems = health_report([], app_release="", app_expected=True)["problems"]
    assert "no application release is recorded in the release history" in problems


def test_app_checks_only_for_app_hosts():
    assert health_report([], app_expected=False)["problems"] == []


def test_rejects_what_is_not_a_list():
    with pytest.raises(AnsibleFilterError, match="expects the list docker inspect prints"):
        health_report({"Name": "x"})


def test_an_app_host_that_is_not_the_beat_host_must_run_no_beat():
    assert health_report(release("abc", beat=False), app_release="abc", app_expected=True, app_beat=False)["problems"] == []
    problems = health_report(release("abc"), app_release="abc", app_expected=True, app_beat=False)["problems"]
    assert len(problems) == 1 and "which is not app_beat_host" in problems[0], problems
