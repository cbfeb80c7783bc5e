# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright (c) 2026, CommandCenter platform team
"""nats: bad input fails before anything changes, naming the variable (never a secret's value).

Each case runs the whole role in check mode against this machine (connection
local, no Docker): argument_specs or preflight must stop it before any task of
configure/deploy ("Ensure ...") runs.
"""
from __future__ import annotations

import pytest
from conftest import assert_refused_before_change, run_role, step_tasks

APP = "Tq3vW8kZp2Lr9YxN4cHs"
MONITOR = "Hm6Jd2Qw9Ez4Rb7Uk1Pf"
GOOD = {"nats_app_password": APP, "nats_monitor_password": MONITOR}

CASES = [
    # Secrets: missing, placeholder, short, too long for bcrypt, shared.
    ("missing-app-password", {"nats_app_password": ""}, ["nats_app_password: not set"]),
    ("missing-monitor-password", {"nats_monitor_password": None}, ["nats_monitor_password: not set"]),
    ("placeholder-app-password", {"nats_app_password": "changeme"}, ["nats_app_password: is a placeholder"]),
    ("short-app-password", {"nats_app_password": "Xy7"}, ["nats_app_password: shorter than 12"]),
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
]


@pytest.mark.parametrize(("role_vars", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_is_refused_before_any_change(tmp_path, role_vars, expected):
    proc = run_role(tmp_path, "nats", {**GOOD, **role_vars})
    assert_refused_before_change(proc, "nats", expected, {**GOOD, **role_vars})


def test_good_input_passes_preflight(tmp_path):
    """The defaults plus real passwords pass argument_specs and every preflight assertion."""
    proc = run_role(tmp_path, "nats", GOOD, "--tags", "nats_preflight")
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-3000:]
    assert "failed=0" in out and "Assert the NATS limits fit together" in out
    assert not step_tasks(out, "nats")
