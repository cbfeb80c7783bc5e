# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright (c) 2026, CommandCenter platform team
"""redis: bad input fails before anything changes, naming the variable and never the secret.

Each case runs the whole role in check mode against this machine (connection
local): argument_specs or preflight must stop it before any task of a later
step ("Ensure ...") starts. No Docker needed.
"""
from __future__ import annotations

import pytest
from conftest import (
    assert_numbers_as_strings_pass,
    assert_preflight_passed,
    assert_refused_before_change,
    batched_refusals,
    run_role,
    step_tasks,
)

# Runs ansible-playbook: `make unit` runs it, the pre-commit hook leaves it out.
pytestmark = pytest.mark.playbook

# Valid, random-looking test values (not used anywhere else).
GOOD = {"redis_app_password": "q7Vd2LmX9pRt4KsW8nZb", "redis_monitor_password": "H3jN6cQy1TfU5wEa0Gxo"}
BACKUP = "Pm5sW2kR8vYc3NfJ7dQa"

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
    ("check-key-name", {**GOOD, "redis_exporter_check_keys": [{"db": 0, "key": "celery queue"}]},
     ["redis_exporter_check_keys entries must be", "celery queue"]),
    ("check-key-db", {**GOOD, "redis_exporter_check_keys": [{"db": 16, "key": "celery"}]},
     ["redis_exporter_check_keys entries must be", "16"]),
    ("denied-command-name", {**GOOD, "redis_app_denied_commands": ["FLUSHALL", "rm -rf"]},
     ["redis_app_denied_commands", "rm -rf"]),
    # the backup user (checked like the others once its password is set; empty: no backup user)
    ("placeholder-backup-password", {**GOOD, "redis_backup_password": "changeme"},
     ["redis_backup_password: is a placeholder"]),
    ("blank-backup-password", {**GOOD, "redis_backup_password": "   "}, ["redis_backup_password: not set"]),
    ("short-backup-password", {**GOOD, "redis_backup_password": "Zr4kP0x9"},
     ["redis_backup_password: shorter than 16 characters"]),
    ("backup-user-name", {**GOOD, "redis_backup_user": "back up"}, ["redis_backup_user must be a plain name", "back up"]),
    ("bridge-user-is-the-backup-user", {**GOOD, "redis_app_next_password": BACKUP, "redis_backup_user": "commandcenter_next"},
     ["redis_app_next_password makes the user commandcenter_next (redis_app_user with `_next`)"]),
    ("backup-user-default", {**GOOD, "redis_backup_password": BACKUP, "redis_backup_user": "default"},
     ["redis_backup_user must differ from `default`", "got default"]),
    ("backup-user-is-monitor", {**GOOD, "redis_backup_password": BACKUP, "redis_backup_user": "monitor"},
     ["redis_backup_user must differ", "got monitor"]),
    ("backup-user-is-config-user", {**GOOD, "redis_backup_password": BACKUP, "redis_backup_user": "cc-config"},
     ["redis_backup_user must differ", "got cc-config"]),
]


refused = batched_refusals("redis", CASES)


@pytest.mark.parametrize(("case", "role_vars", "expected"), CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_refused_before_any_change(refused, case, role_vars, expected):
    proc = refused[case]
    assert_refused_before_change(proc, "redis", expected, role_vars)


@pytest.mark.parametrize("name", ["redis_app_password", "redis_monitor_password", "redis_backup_password"])
def test_refusal_never_shows_the_secret(tmp_path, name):
    """A too-short secret is refused by name; its value appears nowhere, even at -vvv."""
    value = "Kx81mQzv"
    proc = run_role(tmp_path, "redis", {**GOOD, name: value}, "-vvv")
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert f"{name}: shorter than 16 characters" in out
    assert value not in out


@pytest.mark.parametrize("extra", [{}, {"redis_backup_password": BACKUP}], ids=["no-backup-user", "backup-user"])
def test_good_input_passes_preflight(tmp_path, extra):
    """The defaults plus two real passwords (and a backup password, or none) pass argument_specs and
    every preflight check."""
    proc = run_role(tmp_path, "redis", {**GOOD, **extra}, "--tags", "redis_preflight")
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-3000:]
    assert "failed=0" in out
    assert_preflight_passed(proc, "redis")
    assert not step_tasks(out, "redis")


def test_every_problem_is_reported_together(tmp_path):
    """Bad values of four variables and a missing password: one failure lists all of them."""
    proc = run_role(tmp_path, "redis", {"redis_app_password": GOOD["redis_app_password"], "redis_port": 0,
                                        "redis_maxmemory": "lots", "redis_save": ["daily"], "redis_data_dir": "data"})
    out = assert_refused_before_change(proc, "redis", [
        "redis: 5 input problem(s)", "redis_monitor_password: not set", "redis_port must be 1-65535, got 0",
        "redis_maxmemory must be a positive size", "got lots", "redis_save entries", "daily",
        "redis_data_dir must be an absolute path", "got data"], GOOD)
    assert out.count("FAILED!") == 1


@pytest.mark.parametrize(("maxmemory", "mem_limit"), [("1g", "955m"), ("512m", "489m"), ("1048576kb", "1025m")],
                         ids=["g-is-1000-based", "m-is-1000-based", "kb-is-1024-based"])
def test_maxmemory_is_read_in_redis_units(tmp_path, maxmemory, mem_limit):
    """redis.conf's k, m, g are powers of 1000 (kb, mb, gb of 1024): 1g is 953.7 MiB, below a 955m container limit."""
    proc = run_role(tmp_path, "redis", {**GOOD, "redis_maxmemory": maxmemory, "redis_mem_limit": mem_limit},
                    "--tags", "redis_preflight")
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]


def test_maxmemory_in_gb_is_1024_based(tmp_path):
    proc = run_role(tmp_path, "redis", {**GOOD, "redis_maxmemory": "1gb", "redis_mem_limit": "1000m"})
    assert_refused_before_change(proc, "redis", ["redis_mem_limit (1000m) must be larger than redis_maxmemory (1gb)"],
                                 GOOD)


def test_numbers_given_as_strings_pass_preflight(tmp_path):
    """-e passes strings: argument_specs accepts "6380" for an int, and so do preflight and the rest of the role."""
    proc = run_role(tmp_path, "redis", GOOD, "-e", "redis_port=6380", "-e", "redis_host_port=6380",
                    "-e", "redis_exporter_port=9122", "-e", "redis_cpus=0.5", "-e", "redis_log_max_file=2",
                    "-e", "redis_health_timeout=60", "-e", "redis_user_id=999",
                    "-e", "redis_pids_limit=128")
    assert_numbers_as_strings_pass(proc, "redis")
