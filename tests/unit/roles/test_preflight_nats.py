# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright (c) 2026, CommandCenter platform team
"""nats: bad input fails before anything changes, naming the variable (never a secret's value).

Each case runs the whole role in check mode against this machine (connection
local, no Docker): argument_specs or preflight must stop it before any task of
configure/deploy ("Ensure ...") runs.
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

APP = "Tq3vW8kZp2Lr9YxN4cHs"
MONITOR = "Hm6Jd2Qw9Ez4Rb7Uk1Pf"
BACKUP = "Wc4rN8yT2kLm6QzSx5Jd"
GOOD = {"nats_app_password": APP, "nats_monitor_password": MONITOR}

CASES = [
    # Secrets: missing, placeholder, short, too long for bcrypt, shared.
    ("missing-app-password", {"nats_app_password": ""}, ["nats_app_password: not set"]),
    ("missing-monitor-password", {"nats_monitor_password": None}, ["nats_monitor_password: not set"]),
    ("placeholder-app-password", {"nats_app_password": "changeme"}, ["nats_app_password: is a placeholder"]),
    ("short-app-password", {"nats_app_password": "Xy7"}, ["nats_app_password: shorter than 16"]),
    ("fourteen-character-password", {"nats_app_password": "Ab3dE6gH9jK2mN"}, ["nats_app_password: shorter than 16"]),
    ("long-monitor-password", {"nats_monitor_password": "Vb8" * 25}, ["nats_monitor_password", "72 bytes"]),
    ("same-passwords", {"nats_monitor_password": APP}, ["nats_monitor_password", "differ"]),
    # Types and choices (argument_specs).
    ("client-port-type", {"nats_client_port": "many"}, ["nats_client_port", "int"]),
    # Values (preflight).
    ("size-format", {"nats_jetstream_max_memory": "lots"}, ["nats_jetstream_max_memory", "lots"]),
    ("payload-limit", {"nats_max_payload": "128MB"}, ["nats_max_payload", "64MB"]),
    ("memory-store-above-container-limit", {"nats_jetstream_max_memory": "1G", "nats_mem_limit": "512m"},
     ["nats_jetstream_max_memory", "nats_mem_limit"]),
    ("port-range", {"nats_monitor_port": 70000}, ["nats_monitor_port", "70000"]),
    ("port-clash", {"nats_monitor_port": 4222}, ["nats_monitor_port", "nats_client_port"]),
    ("root-uid", {"nats_uid": 0}, ["nats_uid", "root"]),
    # The backup user: checked like the others once its password is set (empty: no backup user).
    ("placeholder-backup-password", {"nats_backup_password": "changeme"}, ["nats_backup_password: is a placeholder"]),
    ("short-backup-password", {"nats_backup_password": "Xy7Xy7Xy7"}, ["nats_backup_password: shorter than 16"]),
    ("long-backup-password", {"nats_backup_password": "Vb8" * 25}, ["nats_backup_password", "72 bytes"]),
    ("backup-password-is-app-password", {"nats_backup_password": APP},
     ["nats_backup_password: must differ from nats_app_password and nats_monitor_password"]),
    ("backup-user-name", {"nats_backup_user": "back up"}, ["nats_backup_user", "back up"]),
    ("bridge-user-is-the-monitor-user", {"nats_app_next_password": BACKUP, "nats_monitor_user": "commandcenter_next"},
     ["nats_app_next_password makes the user commandcenter_next (nats_app_user with `_next`), which"]),
    ("bridge-password-placeholder", {"nats_app_next_password": "changeme"},
     ["nats_app_next_password: is a placeholder"]),
    ("backup-user-is-app-user", {"nats_backup_password": BACKUP, "nats_backup_user": "commandcenter"},
     ["nats_backup_user: must differ from nats_app_user and nats_monitor_user, got commandcenter"]),
]


refused = batched_refusals("nats", CASES, GOOD)


@pytest.mark.parametrize(("case", "role_vars", "expected"), CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_refused_before_any_change(refused, case, role_vars, expected):
    proc = refused[case]
    assert_refused_before_change(proc, "nats", expected, {**GOOD, **role_vars})


@pytest.mark.parametrize("extra", [{}, {"nats_backup_password": BACKUP}], ids=["no-backup-user", "backup-user"])
def test_good_input_passes_preflight(tmp_path, extra):
    """The defaults plus real passwords (and a backup password, or none) pass argument_specs and every
    preflight check."""
    proc = run_role(tmp_path, "nats", {**GOOD, **extra}, "--tags", "nats_preflight")
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-3000:]
    assert "failed=0" in out
    assert_preflight_passed(proc, "nats")
    assert not step_tasks(out, "nats")


def test_every_problem_is_reported_together(tmp_path):
    proc = run_role(tmp_path, "nats", {**GOOD, "nats_monitor_port": 70000, "nats_uid": 0, "nats_max_payload": "1 MB",
                                       "nats_app_account": "SYS"})
    out = assert_refused_before_change(proc, "nats", [
        "nats: 4 input problem(s)", "nats_monitor_port: must be a port 1-65535, got 70000", "nats_uid", "root",
        "nats_max_payload: a NATS size", "got 1 MB", "nats_system_account: must differ from nats_app_account"], GOOD)
    assert out.count("FAILED!") == 1


@pytest.mark.parametrize(("memory", "limit", "fits"), [("1G", "1g", True), ("1GB", "1g", False), ("500M", "477m", True)],
                         ids=["G-is-1000-based", "GB-is-1024-based", "M-is-1000-based"])
def test_sizes_are_read_as_nats_server_reads_them(tmp_path, memory, limit, fits):
    """nats-server's K, M, G are powers of 1000 and KB, MB, GB powers of 1024 (conf/parse.go); Docker's m, g of 1024."""
    proc = run_role(tmp_path, "nats", {**GOOD, "nats_jetstream_max_memory": memory, "nats_mem_limit": limit},
                    *(["--tags", "nats_preflight"] if fits else []))
    if fits:
        assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
    else:
        assert_refused_before_change(proc, "nats", [f"nats_jetstream_max_memory ({memory}) must be below nats_mem_limit"],
                                     GOOD)


def test_numbers_given_as_strings_pass_preflight(tmp_path):
    """-e passes strings: argument_specs accepts "4222" for an int, and so do preflight and the rest of the role."""
    proc = run_role(tmp_path, "nats", GOOD, "-e", "nats_client_port=4222", "-e", "nats_monitor_port=8222",
                    "-e", "nats_bcrypt_cost=10", "-e", "nats_uid=1000", "-e", "nats_gid=1000", "-e", "nats_cpus=0.5",
                    "-e", "nats_max_connections=100", "-e", "nats_log_max_file=2", "-e", "nats_health_timeout=60",
                    "-e", "nats_pids_limit=256")
    assert_numbers_as_strings_pass(proc, "nats")
