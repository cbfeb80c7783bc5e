# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright (c) 2026, CommandCenter platform team
"""Unit tests for plugins/modules/compose_health.py.

Fixtures under ``fixtures/`` hold recorded-style ``docker inspect`` output:
``{"description": ..., "polls": [<inspect array of poll 1>, <poll 2>, ...],
"logs": {<container id>: {"stdout": ..., "stderr": ...}}}`` with
``docker logs --timestamps`` formatted log text. No Docker engine is used.
"""

from __future__ import annotations

import contextlib
import json
import os
import types
from unittest import mock

import pytest
from ansible.module_utils import basic

from ansible_collections.commandcenter.infra.plugins.module_utils._redact import MASK
from ansible_collections.commandcenter.infra.plugins.modules import compose_health
from ansible_collections.commandcenter.infra.plugins.modules.compose_health import (
    FAILED,
    READY,
    STARTING,
    DockerCli,
    DockerError,
    classify_container,
    collect_diagnostics,
    container_facts,
    evaluate,
    format_report,
    merge_logs,
    wait_for_services,
)

try:
    from ansible.module_utils.testing import patch_module_args
except ImportError:  # ansible-core < 2.19

    @contextlib.contextmanager
    def patch_module_args(args=None):
        serialized = json.dumps({"ANSIBLE_MODULE_ARGS": args or {}}).encode()
        with mock.patch.object(basic, "_ANSIBLE_ARGS", serialized):
            yield


FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures")
PROJECT = "commandcenter"


def load(name):
    with open(os.path.join(FIXTURES, name + ".json"), encoding="utf-8") as handle:
        return json.load(handle)


def container_of(poll, service):
    return next(c for c in poll if c["Config"]["Labels"]["com.docker.compose.service"] == service)


def facts_of(fixture, service, poll=0):
    return container_facts(container_of(load(fixture)["polls"][poll], service))


class FakeClock:
    """monotonic() and sleep() that only move when the code under test sleeps."""

    def __init__(self):
        self.now = 1000.0
        self.sleeps = []

    def monotonic(self):
        return self.now

    def time(self):
        """Wall clock: 2026-01-12T10:00:00Z at the start, an hour after the fixtures' containers started."""
        return 1768212000.0 + (self.now - 1000.0)

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds


class FakeCli:
    """DockerCli stand-in serving a fixture's polls in order (the last one repeats)."""

    def __init__(self, fixture):
        self.fixture = fixture
        self.polls = 0
        self.log_requests = []

    def _current(self):
        polls = self.fixture["polls"]
        return polls[min(self.polls, len(polls) - 1)]

    def container_ids(self, project):
        assert project == PROJECT
        return [c["Id"] for c in self._current()]

    def inspect(self, ids):
        poll = self._current()
        self.polls += 1
        return [c for c in poll if c["Id"] in ids]

    def logs(self, container_id, tail):
        self.log_requests.append((container_id, tail))
        entry = self.fixture["logs"].get(container_id, {"stdout": "", "stderr": ""})
        return merge_logs(entry["stdout"], entry["stderr"], tail)


def fake_run_command(fixture, calls=None, ps_rc=0):
    """An ``AnsibleModule.run_command`` replacement answering docker ps/inspect/logs from a fixture."""
    state = {"poll": 0}

    def run_command(self, args, **kwargs):
        if calls is not None:
            calls.append(list(args))
        assert args[0] == "/usr/bin/docker"
        polls = fixture["polls"]
        current = polls[min(state["poll"], len(polls) - 1)] if polls else []
        if args[1] == "ps":
            if ps_rc:
                return ps_rc, "", "Cannot connect to the Docker daemon at unix:///var/run/docker.sock."
            return 0, "".join(c["Id"] + "\n" for c in current), ""
        if args[1] == "inspect":
            state["poll"] += 1
            wanted = args[4:]
            return 0, json.dumps([c for c in current if c["Id"] in wanted]), ""
        if args[1] == "logs":
            entry = fixture["logs"].get(args[-1], {"stdout": "", "stderr": ""})
            return 0, entry["stdout"], entry["stderr"]
        raise AssertionError("unexpected command %r" % (args,))

    return run_command


# --------------------------------------------------------------------------- evaluate / classify


def test_healthy_project_is_ready():
    poll = load("healthy")["polls"][0]
    evaluation = evaluate(poll, oneshot=["migrate"])
    ready, failures, pending = evaluation
    assert ready and failures == {} and pending == {}
    assert sorted(evaluation.services) == ["backend", "migrate", "postgres", "worker"]
    assert evaluation.services["backend"]["status"] == READY
    assert evaluation.services["backend"]["health"] == "healthy"
    assert evaluation.services["worker"]["reason"] == "running (no healthcheck)"
    assert evaluation.services["worker"]["health"] == "none"
    assert evaluation.services["migrate"]["reason"] == "completed (exit code 0)"
    # the exited one-off container (docker compose run) of backend is ignored
    assert evaluation.services["backend"]["containers"] == ["commandcenter-backend-1"]


def test_exited_service_not_declared_oneshot_is_a_failure():
    ready, failures, pending = evaluate(load("healthy")["polls"][0])
    assert not ready
    assert failures == {"migrate": "container exited with exit code 0"}


def test_no_healthcheck_running_is_ready():
    ready, failures, pending = evaluate(load("no_healthcheck")["polls"][0], services=["worker"])
    assert ready and not failures and not pending


def test_starting_is_pending():
    evaluation = evaluate(load("starting_then_healthy")["polls"][0])
    assert not evaluation.ready
    assert evaluation.pending == {"backend": "health: starting"}
    assert evaluation.services["postgres"]["status"] == READY


def test_unhealthy_fails():
    ready, failures, pending = evaluate(load("unhealthy")["polls"][0])
    assert failures == {"backend": "unhealthy (failing streak 3)"}


def test_restarting_is_a_crash_loop():
    ready, failures, pending = evaluate(load("restarting")["polls"][0])
    assert failures["backend"].startswith("crash loop: container is restarting (last exit code 3, restarts 4)")


def test_restart_count_rising_is_a_crash_loop_but_an_old_count_is_not():
    fixture = load("crash_loop")
    first, second = fixture["polls"][0], fixture["polls"][1]
    backend_id = container_of(first, "backend")["Id"]
    baseline = {backend_id: 2}
    # RestartCount 2 at the start is history, not a failure
    assert evaluate(first, baseline_restarts=baseline).pending == {"backend": "health: starting"}
    ready, failures, pending = evaluate(second, baseline_restarts=baseline)
    assert failures == {"backend": "crash loop: container restarted 1 time(s) during the wait (restarts 3)"}
    # without a baseline the current count is the baseline
    assert evaluate(second).failures == {}


def test_oom_killed_fails():
    ready, failures, pending = evaluate(load("oom_killed")["polls"][0])
    assert failures == {"worker": "OOM killed (exit code 137)"}


def test_oom_killed_fails_even_for_oneshot_and_when_running():
    facts = dict(facts_of("healthy", "migrate"), oom_killed=True)
    assert classify_container(facts, oneshot=True)[0] == FAILED
    facts = dict(facts_of("healthy", "backend"), oom_killed=True)
    assert classify_container(facts, oneshot=False)[0] == FAILED


def test_oneshot_exit_zero_is_accepted_and_nonzero_refused():
    assert evaluate(load("healthy")["polls"][0], services=["migrate"], oneshot=["migrate"]).ready
    evaluation = evaluate(load("oneshot_failed")["polls"][0], oneshot=["migrate"])
    assert evaluation.failures == {"migrate": "one-shot container exited with exit code 1"}
    assert evaluation.pending == {"backend": "created, not started yet"}


def test_oneshot_running_is_pending_and_restarting_fails():
    running = facts_of("oneshot_success", "migrate", poll=0)
    assert classify_container(running, oneshot=True) == (STARTING, "one-shot container still running")
    restarting = dict(running, state="restarting", restarting=True, exit_code=2)
    assert classify_container(restarting, oneshot=True)[0] == FAILED


def test_oneshot_ignores_healthcheck():
    facts = dict(facts_of("healthy", "migrate"), health="unhealthy")
    assert classify_container(facts, oneshot=True)[0] == READY


def test_dead_and_created_and_paused_states():
    base = facts_of("no_healthcheck", "worker")
    assert classify_container(dict(base, state="dead", exit_code=255), oneshot=False)[0] == FAILED
    assert classify_container(dict(base, state="created"), oneshot=False) == (STARTING, "created, not started yet")
    assert classify_container(dict(base, state="paused"), oneshot=False) == (STARTING, "state: paused")


def test_missing_service_fails_at_once_unless_allowed():
    poll = load("no_healthcheck")["polls"][0]
    ready, failures, pending = evaluate(poll, services=["worker", "backend"])
    assert failures == {"backend": "no container found for service backend"}
    evaluation = evaluate(poll, services=["worker", "backend"], allow_missing=True)
    assert evaluation.ready
    assert evaluation.services["backend"]["status"] == "absent"


def test_oneshot_is_checked_even_when_services_are_given():
    evaluation = evaluate(load("oneshot_failed")["polls"][0], services=["postgres"], oneshot=["migrate"])
    assert sorted(evaluation.services) == ["migrate", "postgres"]
    assert "migrate" in evaluation.failures


def test_scaled_service_reports_the_worst_container():
    poll = load("always_starting")["polls"][0]
    evaluation = evaluate(poll, services=["worker"])
    assert evaluation.pending == {"worker": "commandcenter-worker-2: created, not started yet"}
    assert evaluation.services["worker"]["containers"] == ["commandcenter-worker-1", "commandcenter-worker-2"]
    assert evaluation.services["worker"]["container"] == "commandcenter-worker-2"


# --------------------------------------------------------------------------- polling loop


def run_wait(fixture_name, **kwargs):
    cli = FakeCli(load(fixture_name))
    clock = FakeClock()
    kwargs.setdefault("timeout", 180)
    kwargs.setdefault("interval", 1.0)
    result = wait_for_services(cli, PROJECT, clock=clock.monotonic, sleep=clock.sleep, wall_clock=clock.time, **kwargs)
    return result, cli, clock


def test_wait_ready_after_starting():
    result, cli, clock = run_wait("starting_then_healthy", interval=2.0)
    assert result.status == "ready"
    assert result.polls == cli.polls == 3
    assert clock.sleeps == [2.0, 2.0]
    assert result.elapsed == 4.0


def test_wait_ready_at_once():
    result, cli, clock = run_wait("healthy", oneshot=["migrate"])
    assert (result.status, result.polls, result.elapsed, clock.sleeps) == ("ready", 1, 0.0, [])


@pytest.mark.parametrize(
    "fixture_name, oneshot, failed_service",
    [
        ("unhealthy", [], "backend"),
        ("restarting", [], "backend"),
        ("oom_killed", [], "worker"),
        ("oneshot_failed", ["migrate"], "migrate"),
    ],
)
def test_wait_fails_fast_on_the_first_bad_poll(fixture_name, oneshot, failed_service):
    result, cli, clock = run_wait(fixture_name, oneshot=oneshot, timeout=600)
    assert result.status == "failed"
    assert result.polls == 1
    assert clock.sleeps == []
    assert result.elapsed == 0.0
    assert failed_service in result.evaluation.failures


def test_wait_detects_crash_loop_on_the_second_poll_not_at_the_timeout():
    result, cli, clock = run_wait("crash_loop", timeout=180, interval=1.0)
    assert result.status == "failed"
    assert result.polls == 2
    assert result.elapsed == 1.0
    assert "crash loop" in result.evaluation.failures["backend"]


def test_wait_times_out_with_pending_services():
    result, cli, clock = run_wait("always_starting", timeout=10, interval=3.0)
    assert result.status == "timeout"
    # checks at t = 0, 3, 6, 9 and a last one exactly at the timeout
    assert result.polls == 5
    assert clock.sleeps == [3.0, 3.0, 3.0, 1.0]
    assert result.elapsed == 10.0
    assert sorted(result.evaluation.pending) == ["frontend", "worker"]


def test_wait_timeout_zero_checks_once():
    result, cli, clock = run_wait("always_starting", timeout=0)
    assert (result.status, result.polls, clock.sleeps) == ("timeout", 1, [])


def test_wait_no_containers():
    cli = FakeCli({"polls": [[]], "logs": {}})
    clock = FakeClock()
    result = wait_for_services(cli, PROJECT, clock=clock.monotonic, sleep=clock.sleep)
    assert (result.status, result.polls, result.evaluation) == ("no_containers", 1, None)


def test_wait_ignores_projects_made_only_of_one_off_containers():
    fixture = load("healthy")
    oneoff = [c for c in fixture["polls"][0] if c["Config"]["Labels"]["com.docker.compose.oneoff"] == "True"]
    cli = FakeCli({"polls": [oneoff], "logs": {}})
    clock = FakeClock()
    assert wait_for_services(cli, PROJECT, clock=clock.monotonic, sleep=clock.sleep).status == "no_containers"


# --------------------------------------------------------------------------- logs, diagnostics, report


def test_merge_logs_orders_streams_by_time_and_keeps_the_tail():
    entry = load("unhealthy")["logs"][container_of(load("unhealthy")["polls"][0], "backend")["Id"]]
    merged = merge_logs(entry["stdout"], entry["stderr"], 20).splitlines()
    assert merged == [
        "INFO:     Started server process [1]",
        "WARNING: redis not reachable, retrying",
        "INFO:     Waiting for application startup.",
        "ERROR: readiness probe failing: redis timeout",
    ]
    assert merge_logs(entry["stdout"], entry["stderr"], 2).splitlines() == merged[-2:]
    assert merge_logs(entry["stdout"], entry["stderr"], 0) == ""


def test_merge_logs_without_timestamps_keeps_stream_order():
    assert merge_logs("a\nb\n", "c\n", 10) == "a\nb\nc"


def test_failure_report_is_readable():
    fixture = load("unhealthy")
    cli = FakeCli(fixture)
    evaluation = evaluate(fixture["polls"][0])
    services = collect_diagnostics(cli, evaluation, log_lines=20)
    assert cli.log_requests == [(container_of(fixture["polls"][0], "backend")["Id"], 20)]  # only not-ready services
    backend = services["backend"]
    assert backend["health_log"] == "curl: (22) The requested URL returned error: 503"
    assert backend["logs"].endswith("ERROR: readiness probe failing: redis timeout")
    assert "logs" not in services["postgres"]
    report = format_report(PROJECT, "failed", services, 3.25)
    lines = report.splitlines()
    assert lines[0] == "compose project 'commandcenter' is not healthy after 3.2s; failed: backend"
    assert lines[1] == (
        "service backend: FAILED (unhealthy (failing streak 3)) state=running exit_code=n/a restarts=0 "
        "oom_killed=false health=unhealthy container=commandcenter-backend-1"
    )
    assert lines[2] == "  last health output: curl: (22) The requested URL returned error: 503"
    assert lines[3] == "  last logs:"
    assert lines[4] == "    INFO:     Started server process [1]"
    assert lines[-1] == "ready: postgres"


def test_oneshot_failure_report_lists_pending_too():
    fixture = load("oneshot_failed")
    evaluation = evaluate(fixture["polls"][0], oneshot=["migrate"])
    services = collect_diagnostics(FakeCli(fixture), evaluation, log_lines=5)
    report = format_report(PROJECT, "failed", services, 0.0)
    assert report.splitlines()[0].endswith("failed: migrate; still starting: backend")
    assert "service migrate: FAILED (one-shot container exited with exit code 1) state=exited exit_code=1" in report
    assert "service backend: STILL STARTING (created, not started yet)" in report
    assert 'relation "users" already exists' in report


def test_timeout_report_says_still_starting():
    result, cli, clock = run_wait("always_starting", timeout=30, interval=10)
    services = collect_diagnostics(cli, result.evaluation, log_lines=20)
    report = format_report(PROJECT, result.status, services, result.elapsed, timeout=30)
    assert report.splitlines()[0] == "compose project 'commandcenter': timed out after 30s; still starting: frontend, worker"
    assert "service frontend: STILL STARTING (health: starting)" in report
    assert "wget: can't connect to remote host: Connection refused" in report
    assert "vite v5.4.0 building for production..." in report
    assert "service worker: STILL STARTING (commandcenter-worker-2: created, not started yet)" in report


def test_missing_service_report():
    poll = load("no_healthcheck")["polls"][0]
    evaluation = evaluate(poll, services=["worker", "backend"])
    services = collect_diagnostics(FakeCli({"polls": [poll], "logs": {}}), evaluation, log_lines=20)
    report = format_report(PROJECT, "failed", services, 0)
    assert "service backend: FAILED (no container found for service backend)" in report


SECRET_VALUES = ["S3cr3t", "Sup3rS3cretJwtKey", "abc.def.ghi", "r3d1sPass"]


def test_secrets_are_redacted_in_diagnostics_and_report():
    fixture = load("secrets")
    cli = FakeCli(fixture)
    evaluation = evaluate(fixture["polls"][0])
    services = collect_diagnostics(cli, evaluation, log_lines=20, secrets=["Sup3rS3cretJwtKey"])
    report = format_report(PROJECT, "failed", services, 0.0)
    dumped = json.dumps(services)
    for secret in SECRET_VALUES:
        assert secret not in report
        assert secret not in dumped
    assert "DATABASE_URL=postgres://app:%s@db/app" % MASK in services["backend"]["health_log"]
    assert "settings loaded: DATABASE_URL=postgres://app:%s@db/app" % MASK in report
    assert "signing with key %s" % MASK in report
    assert "REDIS_PASSWORD=%s ignored" % MASK in report
    assert "{'Authorization': 'Bearer %s'}" % MASK in report
    # ordinary text survives
    assert "ERROR: the token bucket refills too slowly" in report


# --------------------------------------------------------------------------- DockerCli


def test_docker_cli_commands():
    fixture = load("healthy")
    calls = []
    cli = DockerCli(lambda args, **kw: fake_run_command(fixture, calls)(None, args, **kw), "/usr/bin/docker")
    ids = cli.container_ids(PROJECT)
    assert len(ids) == 5
    assert calls[0] == [
        "/usr/bin/docker", "ps", "--all", "--no-trunc",
        "--filter", "label=com.docker.compose.project=commandcenter", "--format", "{{.ID}}",
    ]
    assert [c["Id"] for c in cli.inspect(ids)] == ids
    assert calls[1] == ["/usr/bin/docker", "inspect", "--type", "container"] + ids
    cli.logs(ids[0], 7)
    assert calls[2] == ["/usr/bin/docker", "logs", "--tail", "7", "--timestamps", ids[0]]
    assert cli.inspect([]) == []
    assert len(calls) == 3


def test_docker_cli_passes_safe_run_command_options():
    seen = {}

    def run_command(args, **kwargs):
        seen.update(kwargs)
        return 0, "", ""

    DockerCli(run_command).container_ids(PROJECT)
    assert seen == {"errors": "surrogate_then_replace", "expand_user_and_vars": False}


def test_docker_cli_inspect_tolerates_vanished_containers():
    cli = DockerCli(lambda args, **kw: (1, '[{"Id": "a"}]\n', "Error: No such container: b"))
    assert cli.inspect(["a", "b"]) == [{"Id": "a"}]
    cli = DockerCli(lambda args, **kw: (1, "[]\n", "Error: No such container: b"))
    assert cli.inspect(["b"]) == []


@pytest.mark.parametrize(
    "answer",
    [(1, "", "permission denied while trying to connect to the Docker daemon socket"), (0, "not json", "")],
)
def test_docker_cli_inspect_errors(answer):
    with pytest.raises(DockerError, match="docker inspect failed"):
        DockerCli(lambda args, **kw: answer).inspect(["a"])


def test_docker_cli_ps_error_and_logs_error():
    with pytest.raises(DockerError, match="docker ps failed .rc=1.: Cannot connect"):
        DockerCli(lambda args, **kw: (1, "", "Cannot connect to the Docker daemon\n")).container_ids(PROJECT)
    text = DockerCli(lambda args, **kw: (1, "", "configured logging driver does not support reading\n")).logs("a", 5)
    assert text == "(docker logs failed, rc=1: configured logging driver does not support reading)"


# --------------------------------------------------------------------------- main() end to end


class ExitJson(Exception):
    pass


class FailJson(Exception):
    pass


def _exit_json(self, **kwargs):
    raise ExitJson(kwargs)


def _fail_json(self, **kwargs):
    kwargs["failed"] = True
    raise FailJson(kwargs)


def run_main(args, fixture, expect=ExitJson, ps_rc=0, clock=None):
    calls = []
    patches = [
        mock.patch.object(basic.AnsibleModule, "exit_json", _exit_json),
        mock.patch.object(basic.AnsibleModule, "fail_json", _fail_json),
        mock.patch.object(basic.AnsibleModule, "get_bin_path", lambda self, name, *a, **kw: "/usr/bin/" + name),
        mock.patch.object(basic.AnsibleModule, "run_command", fake_run_command(fixture, calls, ps_rc=ps_rc)),
    ]
    if clock is not None:
        fake_time = types.SimpleNamespace(monotonic=clock.monotonic, sleep=clock.sleep, time=clock.time)
        patches.append(mock.patch.object(compose_health, "time", fake_time))
    with contextlib.ExitStack() as stack:
        for patch in patches:
            stack.enter_context(patch)
        stack.enter_context(patch_module_args(args))
        with pytest.raises(expect) as info:
            compose_health.main()
    return info.value.args[0], calls


def test_main_success():
    result, calls = run_main({"project": PROJECT, "oneshot": ["migrate"]}, load("healthy"))
    assert result["changed"] is False
    assert result["polls"] == 1
    assert result["elapsed"] >= 0
    assert result["msg"] == "all 4 service(s) of compose project 'commandcenter' are ready"
    assert result["services"]["backend"]["status"] == "ready"
    assert result["services"]["backend"]["health"] == "healthy"
    assert result["services"]["migrate"]["oneshot"] is True
    assert [c[1] for c in calls] == ["ps", "inspect"]


def test_main_failure_redacts_everything():
    args = {"project": PROJECT, "secrets": ["Sup3rS3cretJwtKey"], "log_lines": 10}
    result, calls = run_main(args, load("secrets"), expect=FailJson)
    assert result["failed"] is True
    assert result["failed_services"] == ["backend"]
    assert result["pending_services"] == []
    dumped = json.dumps(result)
    for secret in SECRET_VALUES:
        assert secret not in dumped
    assert "service backend: FAILED (unhealthy (failing streak 3))" in result["msg"]
    assert "last health output: connect failed: DATABASE_URL=postgres://app:%s@db/app" % MASK in result["msg"]
    assert "    signing with key %s" % MASK in result["msg"]
    assert calls[-1][1:4] == ["logs", "--tail", "10"]


def test_main_crash_loop_fails_fast():
    clock = FakeClock()
    result, calls = run_main({"project": PROJECT, "timeout": 600}, load("crash_loop"), expect=FailJson, clock=clock)
    assert result["polls"] == 2
    assert clock.sleeps == [1.0]
    assert result["elapsed"] == 1.0
    assert "crash loop" in result["services"]["backend"]["reason"]
    assert "No module named 'app.settings'" in result["services"]["backend"]["logs"]


def test_main_timeout():
    clock = FakeClock()
    args = {"project": PROJECT, "timeout": 5, "interval": 2.5, "services": ["frontend", "postgres"]}
    result, calls = run_main(args, load("always_starting"), expect=FailJson, clock=clock)
    assert result["msg"].startswith("compose project 'commandcenter': timed out after 5s; still starting: frontend")
    assert result["pending_services"] == ["frontend"]
    assert result["failed_services"] == []
    assert result["polls"] == 3
    assert result["elapsed"] == 5.0
    assert sorted(result["services"]) == ["frontend", "postgres"]


def test_main_check_mode_without_containers_is_ok():
    args = {"project": PROJECT, "_ansible_check_mode": True}
    result, calls = run_main(args, {"polls": [[]], "logs": {}})
    assert result["changed"] is False
    assert result["skipped_reason"].startswith("check mode: compose project 'commandcenter' has no containers yet")
    assert result["services"] == {}


def test_main_check_mode_tolerates_a_service_without_container():
    args = {"project": PROJECT, "services": ["worker", "backend"], "_ansible_check_mode": True}
    result, calls = run_main(args, load("no_healthcheck"))
    assert result["services"]["backend"]["status"] == "absent"
    assert result["msg"].endswith("check mode, no container yet for: backend")


def test_main_check_mode_still_fails_on_a_broken_service():
    args = {"project": PROJECT, "_ansible_check_mode": True}
    result, calls = run_main(args, load("oom_killed"), expect=FailJson)
    assert result["failed_services"] == ["worker"]


def test_main_without_containers_fails():
    result, calls = run_main({"project": PROJECT}, {"polls": [[]], "logs": {}}, expect=FailJson)
    assert "has no containers" in result["msg"]


def test_main_docker_error():
    result, calls = run_main({"project": PROJECT}, load("healthy"), expect=FailJson, ps_rc=1)
    assert result["msg"].startswith("docker ps failed (rc=1): Cannot connect to the Docker daemon")


@pytest.mark.parametrize(
    "bad, message",
    [
        ({"interval": 0}, "interval must be greater than 0"),
        ({"timeout": -1}, "timeout must be 0 or greater"),
        ({"log_lines": -5}, "log_lines must be 0 or greater"),
    ],
)
def test_main_rejects_bad_numbers(bad, message):
    args = dict({"project": PROJECT}, **bad)
    result, calls = run_main(args, load("healthy"), expect=FailJson)
    assert result["msg"].startswith(message)
    assert calls == []


def test_argument_spec_matches_documentation():
    import yaml

    doc = yaml.safe_load(compose_health.DOCUMENTATION)
    spec = compose_health.ARGUMENT_SPEC
    assert set(doc["options"]) == set(spec)
    for name, option in doc["options"].items():
        assert option["type"] == spec[name]["type"], name
        assert option.get("required", False) == spec[name].get("required", False), name
        assert option.get("default") == spec[name].get("default"), name
        assert option.get("elements") == spec[name].get("elements"), name
    assert spec["secrets"]["no_log"] is True
    assert set(doc["attributes"]) == {"check_mode", "diff_mode", "idempotent"}
    yaml.safe_load(compose_health.EXAMPLES)
    yaml.safe_load(compose_health.RETURN)


# --- stable_for: a running container without healthcheck must stay up a while -------------------


def _running_no_healthcheck(started_at, restarts=0, state="running"):
    return {
        "Id": "c0ffee",
        "Name": "/cc-gate-worker-1",
        "RestartCount": restarts,
        "State": {"Status": state, "Running": state == "running", "Restarting": state == "restarting",
                  "OOMKilled": False, "ExitCode": 0 if state == "running" else 2, "StartedAt": started_at},
        "Config": {"Labels": {"com.docker.compose.project": PROJECT, "com.docker.compose.service": "worker",
                              "com.docker.compose.container-number": "1"}},
        "HostConfig": {"RestartPolicy": {"Name": "unless-stopped"}},
    }


@pytest.mark.parametrize(("value", "expected"), [
    ("2026-01-12T10:00:00Z", 1768212000.0),
    ("2026-01-12T10:00:00.5Z", 1768212000.5),
    ("2026-01-12T09:14:03.512339113Z", 1768209243.512339113),
    ("2026-01-12T11:00:00+01:00", 1768212000.0),
    ("0001-01-01T00:00:00Z", None),
    ("", None),
    ("yesterday", None),
])
def test_parse_timestamp(value, expected):
    parsed = compose_health.parse_timestamp(value)
    assert parsed == pytest.approx(expected) if expected is not None else parsed is None


def test_freshly_started_container_without_healthcheck_is_not_ready_yet():
    now = 1768212000.0
    fresh = _running_no_healthcheck("2026-01-12T09:59:59Z")
    status, reason = compose_health.classify_container(compose_health.container_facts(fresh), False, None, now, 3)
    assert status == compose_health.STARTING and "stable after 3 s" in reason
    settled = _running_no_healthcheck("2026-01-12T09:59:50Z")
    status, _ = compose_health.classify_container(compose_health.container_facts(settled), False, None, now, 3)
    assert status == compose_health.READY
    status, _ = compose_health.classify_container(compose_health.container_facts(fresh), False, None, now, 0)
    assert status == compose_health.READY


def test_crash_loop_caught_between_crashes_still_fails():
    """First poll sees the container up for 0.2 s; it crashes before it is stable; the restart fails the gate."""
    clock = FakeClock()
    polls = [[_running_no_healthcheck("2026-01-12T09:59:59.8Z", restarts=4)],
             [_running_no_healthcheck("2026-01-12T10:00:00.9Z", restarts=5)]]

    class Cli:
        def container_ids(self, project):
            return ["c0ffee"]

        def inspect(self, ids):
            return polls.pop(0)

    result = compose_health.wait_for_services(Cli(), PROJECT, timeout=300, clock=clock.monotonic, sleep=clock.sleep,
                                              wall_clock=clock.time, stable_for=3)
    assert result.status == "failed" and result.polls == 2 and result.elapsed == 1.0
    assert "crash loop" in result.evaluation.failures["worker"]
    # Running again: Docker has reset its exit code, so none is reported rather than a misleading 0.
    assert result.evaluation.services["worker"]["exit_code"] is None
