# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright (c) 2026, CommandCenter platform team
"""redis: bad input fails before anything changes, naming the variable and never the secret.

Each case runs the whole role in check mode against this machine (connection
local): argument_specs or preflight must stop it before any task of a later
step ("Ensure ...") starts. No Docker needed.
"""
from __future__ import annotations

import pytest
from conftest import assert_refused_before_change, run_role, step_tasks

# Valid, random-looking test values (not used anywhere else).
GOOD = {"redis_app_password": "q7Vd2LmX9pRt4KsW8nZb", "redis_monitor_password": "H3jN6cQy1TfU5wEa0Gxo"}

CASES = [
    # secrets (preflight, commandcenter.infra.secret_problems)
    ("missing-app-password", {"redis_monitor_password": GOOD["redis_monitor_password"]},
     ["redis_app_password: not set"]),
    ("missing-both-passwords", {}, ["redis_app_password: not set", "redis_monitor_password: not set"]),
    ("placeholder-app-password", {**GOOD, "redis_app_password": "changeme"},
     ["redis_app_password: is a placeholder"]),
    ("placeholder-monitor-password", {**GOOD, "redis_monitor_password": "<monitor password>"},
     ["redis_monitor_password: is a placeholder"]),
    ("short-monitor-password", {**GOOD, "redis_monitor_password": "Zr4kP0x9"},
     ["redis_monitor_password: shorter than 16 characters"]),
    # types and choices (argument_specs)
    ("bad-type-port", {**GOOD, "redis_port": "many"}, ["redis_port", "int"]),
    ("bad-type-appendonly", {**GOOD, "redis_appendonly": "perhaps"}, ["redis_appendonly", "bool"]),
    ("bad-type-extra", {**GOOD, "redis_config_extra": "maxmemory 1gb"}, ["redis_config_extra", "dict"]),
    ("bad-choice-policy", {**GOOD, "redis_maxmemory_policy": "nonsense"},
     ["redis_maxmemory_policy", "allkeys-lru", "nonsense"]),
    ("bad-choice-appendfsync", {**GOOD, "redis_appendfsync": "sometimes"}, ["redis_appendfsync", "everysec"]),
    # values (preflight)
    ("maxmemory-format", {**GOOD, "redis_maxmemory": "512 megabytes"}, ["redis_maxmemory", "512 megabytes"]),
    ("maxmemory-unit", {**GOOD, "redis_maxmemory": "1tb"}, ["redis_maxmemory must be a positive size"]),
    ("maxmemory-zero", {**GOOD, "redis_maxmemory": "0"}, ["redis_maxmemory must be a positive size"]),
    ("mem-limit-below-maxmemory", {**GOOD, "redis_maxmemory": "1gb", "redis_mem_limit": "768m"},
     ["redis_mem_limit (768m) must be larger than redis_maxmemory (1gb)"]),
    ("mem-limit-format", {**GOOD, "redis_mem_limit": "lots"}, ["redis_mem_limit must be empty (derived) or a docker"]),
    ("port-range", {**GOOD, "redis_host_port": 70000}, ["redis_host_port must be 1-65535"]),
    ("exporter-port-range", {**GOOD, "redis_exporter_port": 0}, ["redis_exporter_port must be 1-65535"]),
    ("save-rule", {**GOOD, "redis_save": ["every hour"]}, ["redis_save", "every hour"]),
    ("extra-managed-directive", {**GOOD, "redis_config_extra": {"aclfile": "/tmp/x.acl"}},
     ["redis_config_extra must not set", "aclfile"]),
    ("extra-bad-name", {**GOOD, "redis_config_extra": {"Bad Name": "1"}}, ["redis_config_extra", "Bad Name"]),
    ("default-user", {**GOOD, "redis_app_user": "default"}, ["redis_app_user and redis_monitor_user", "default"]),
    ("same-users", {**GOOD, "redis_monitor_user": "commandcenter"}, ["must differ"]),
    ("denied-command-name", {**GOOD, "redis_app_denied_commands": ["FLUSHALL", "rm -rf"]},
     ["redis_app_denied_commands", "rm -rf"]),
]


@pytest.mark.parametrize(("role_vars", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_is_refused_before_any_change(tmp_path, role_vars, expected):
    proc = run_role(tmp_path, "redis", role_vars)
    assert_refused_before_change(proc, "redis", expected, role_vars)


@pytest.mark.parametrize("name", ["redis_app_password", "redis_monitor_password"])
def test_refusal_never_shows_the_secret(tmp_path, name):
    """A too-short secret is refused by name; its value appears nowhere, even at -vvv."""
    value = "Kx81mQzv"
    proc = run_role(tmp_path, "redis", {**GOOD, name: value}, "-vvv")
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert f"{name}: shorter than 16 characters" in out
    assert value not in out


def test_good_input_passes_preflight(tmp_path):
    """The defaults plus two real passwords pass argument_specs and every preflight assertion."""
    proc = run_role(tmp_path, "redis", GOOD, "--tags", "redis_preflight")
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-3000:]
    assert "failed=0" in out
    for task in ("Assert the Redis passwords are set and not placeholders",
                 "Assert the container memory limit leaves room above redis_maxmemory",
                 "Assert the Redis ports, snapshots, extra directives and limits are sane"):
        assert task in out, out[-3000:]
    assert not step_tasks(out, "redis")
