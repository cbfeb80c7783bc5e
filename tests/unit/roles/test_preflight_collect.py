# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright (c) 2026, CommandCenter platform team
"""The preflight contract playbooks/site.yml relies on (CONTRIBUTING.md, "Preflight").

- include_role <role> tasks_from preflight runs a role's checks alone, argument_specs
  (entry point `preflight`) included;
- with cc_preflight_collect true it never fails: it adds its problems, prefixed with
  the role's name, to the host fact cc_preflight_problems (created when missing);
- without it, it fails once with every problem of the role;
- with the host fact cc_preflight_passed true, a role's main.yml skips its preflight.
"""
from __future__ import annotations

import pytest
from conftest import assert_refused_before_change, preflight_assert, run_role, run_tasks, step_tasks

# Runs ansible-playbook: `make unit` runs it, the pre-commit hook leaves it out.
pytestmark = pytest.mark.playbook

SECRETS = {
    "postgres_pgvector_superuser_password": "Xq3-unit-test-superuser-7Hd9kLw2",
    "postgres_pgvector_app_password": "Xq3-unit-test-app-password-P4sT",
    "postgres_pgvector_monitor_password": "Xq3-unit-test-monitor-pw-Zr81mQ",
    "redis_app_password": "q7Vd2LmX9pRt4KsW8nZb", "redis_monitor_password": "H3jN6cQy1TfU5wEa0Gxo",
    "nats_app_password": "Tq3vW8kZp2Lr9YxN4cHs", "nats_monitor_password": "Hm6Jd2Qw9Ez4Rb7Uk1Pf",
    "app_secret_key": "Zq4Lw8Xe2Rn6Tb0Vy3Mk",
}
TRAEFIK = {"traefik_domain": "unit.example.org", "traefik_acme_email": "ops@unit.example.org",
           "traefik_dashboard_users": [{"name": "ops", "password": "Tq8vL2mX7pRz4KsW"}]}
# One bad variable per role, and the problem each must report (prefixed with the role).
BAD = {
    "docker_host": ({"docker_host_log_max_size": "huge"}, "docker_host: docker_host_log_max_size must look like 10m"),
    "postgres_pgvector": ({"postgres_pgvector_host_port": 0},
                          "postgres_pgvector: postgres_pgvector_host_port: between 1 and 65535, got 0"),
    "redis": ({"redis_maxmemory": "lots"}, "redis: redis_maxmemory must be a positive size"),
    "nats": ({"nats_client_port": 70000}, "nats: nats_client_port: must be a port 1-65535, got 70000"),
    "traefik": ({**TRAEFIK, "traefik_https_port": 0}, "traefik: traefik_https_port must be 1-65535, got 0"),
    "app": ({"app_uid": 0}, "app: app_uid must not be 0"),
}


def include(role: str, role_vars: dict) -> dict:
    return {"name": f"Check the inputs of {role}",
            "ansible.builtin.include_role": {"name": f"commandcenter.infra.{role}", "tasks_from": "preflight"},
            "vars": role_vars}


def test_collect_mode_gathers_every_role_s_problems_without_failing(tmp_path):
    tasks = [include(role, {**SECRETS, **bad}) for role, (bad, _problem) in BAD.items()]
    tasks.append({"name": "Show the problems", "ansible.builtin.debug": {"var": "cc_preflight_problems"}})
    proc = run_tasks(tmp_path, tasks, "-e", "cc_preflight_collect=true")
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-3000:]
    shown = " ".join(out.split("Show the problems", 1)[1].split())
    for role, (_bad, problem) in BAD.items():
        assert problem in shown, f"{role}: {problem!r} not collected:\n{out[-3000:]}"
    assert "input problem(s), nothing was changed" not in out
    for value in SECRETS.values():
        assert value not in out


def test_collect_mode_with_good_input_creates_an_empty_list(tmp_path):
    proc = run_tasks(tmp_path, [include("redis", SECRETS), {
        "name": "Assert nothing was collected", "ansible.builtin.assert": {"that": ["cc_preflight_problems == []"]}}],
        "-e", "cc_preflight_collect=true")
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]


@pytest.mark.parametrize("role", sorted(BAD))
def test_preflight_entry_point_alone_fails_with_the_role_s_problems(tmp_path, role):
    bad, problem = BAD[role]
    proc = run_tasks(tmp_path, [include(role, {**SECRETS, **bad})])
    out = assert_refused_before_change(proc, role, [problem.split(": ", 1)[1]], SECRETS)
    assert preflight_assert(role) in out


def test_preflight_entry_point_validates_argument_specs(tmp_path):
    proc = run_tasks(tmp_path, [include("redis", {**SECRETS, "redis_port": "many"})], "-e", "cc_preflight_collect=true")
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert "arg spec 'preflight'" in out and "redis_port" in out


def test_main_skips_preflight_once_site_yml_passed_it(tmp_path):
    """cc_preflight_passed (set by site.yml's first play): the role does not check again, even bad input."""
    proc = run_role(tmp_path, "redis", {**SECRETS, "redis_port": 0}, "-e", "cc_preflight_passed=true",
                    "--tags", "redis_preflight")
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-3000:]
    assert preflight_assert("redis") not in out
    assert not step_tasks(out, "redis")
