# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright (c) 2026, CommandCenter platform team
"""app: bad input fails before anything changes, naming the variable and never the secret.

Each case runs the whole role in check mode against this machine (connection
local): argument_specs or preflight must stop it before any task of a later
step ("Ensure ...") starts. No Docker needed.
"""
from __future__ import annotations

import pytest
from conftest import assert_numbers_as_strings_pass, assert_refused_before_change, batched_refusals, run_role

# Runs ansible-playbook: `make unit` runs it, the pre-commit hook leaves it out.
pytestmark = pytest.mark.playbook

# Valid, random-looking test values (not used anywhere else).
GOOD = {"app_secret_key": "Zq4Lw8Xe2Rn6Tb0Vy3Mk", "app_database_password": "p9Gt3Hs7Jd1Kf5Lq8Wz2",
        "app_redis_password": "R2dm8Vq4Nx6Ct0Bw3Lp9", "app_nats_password": "n5Yh1Uj7Ik3Ol9Pz4Ma6"}

CASES = [
    # secrets (preflight, commandcenter.infra.secret_problems)
    ("missing-secret-key", {k: v for k, v in GOOD.items() if k != "app_secret_key"}, ["app_secret_key: not set"]),
    ("missing-database-password", {k: v for k, v in GOOD.items() if k != "app_database_password"},
     ["app_database_password: not set"]),
    ("placeholder-secret-key", {**GOOD, "app_secret_key": "changeme"}, ["app_secret_key: is a placeholder"]),
    ("short-nats-password", {**GOOD, "app_nats_password": "Ab3dE6gH"},
     ["app_nats_password: shorter than 16 characters"]),
    # types (argument_specs)
    ("bad-type-replicas", {**GOOD, "app_backend_replicas": "several"}, ["app_backend_replicas", "int"]),
    ("bad-type-env", {**GOOD, "app_env": ["A=1"]}, ["app_env", "dict"]),
    ("bad-type-flower", {**GOOD, "app_flower_enabled": "perhaps"}, ["app_flower_enabled", "bool"]),
    # values (preflight)
    ("latest-image", {**GOOD, "app_backend_image": "ghcr.io/commandcenter/commandcenter-backend:latest"},
     ["app_backend_image must name a pinned tag", ":latest"]),
    ("untagged-image", {**GOOD, "app_frontend_image": "ghcr.io/commandcenter/commandcenter-frontend"},
     ["app_frontend_image must name a pinned tag or digest", "got ghcr.io/commandcenter/commandcenter-frontend"]),
    ("zero-replicas", {**GOOD, "app_backend_replicas": 0}, ["app_backend_replicas must be 1 or more"]),
    ("root-uid", {**GOOD, "app_uid": 0}, ["app_uid must not be 0"]),
    ("one-release-kept", {**GOOD, "app_releases_kept": 1}, ["app_releases_kept must be 2 or more"]),
    ("bridge-unknown-service", {**GOOD, "app_rotation_bridge": ["database", "mysql"]},
     ["app_rotation_bridge may name database, redis and nats only, got mysql"]),
    ("env-sets-a-secret", {**GOOD, "app_env": {"DATABASE_URL": "postgresql://x"}},
     ["app_env must not set", "DATABASE_URL"]),
    ("env-bad-name", {**GOOD, "app_env": {"lower case": "1"}}, ["app_env: not environment variable names"]),
    ("memory-format", {**GOOD, "app_worker_mem_limit": "lots"}, ["app_worker_mem_limit must be a docker size", "lots"]),
    ("embedding-dim", {**GOOD, "app_embedding_dim": 20000}, ["app_embedding_dim must be 1-16000"]),
]


refused = batched_refusals("app", CASES)


@pytest.mark.parametrize(("case", "role_vars", "expected"), CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_refused_before_any_change(refused, case, role_vars, expected):
    proc = refused[case]
    assert_refused_before_change(proc, "app", expected, role_vars)


def test_refusal_never_shows_the_secret(tmp_path):
    """A too-short secret is refused by name; its value appears nowhere, even at -vvv."""
    value = "Kx81mQzv"
    proc = run_role(tmp_path, "app", {**GOOD, "app_secret_key": value}, "-vvv")
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert "app_secret_key: shorter than 16 characters" in out
    assert value not in out


def test_every_problem_is_reported_together(tmp_path):
    proc = run_role(tmp_path, "app", {**GOOD, "app_secret_key": "", "app_backend_replicas": 0, "app_uid": 0,
                                      "app_redis_port": 70000})
    out = assert_refused_before_change(proc, "app", [
        "app: 4 input problem(s)", "app_secret_key: not set", "app_backend_replicas must be 1 or more, got 0",
        "app_uid must not be 0", "app_redis_port must be 1-65535, got 70000"], GOOD)
    assert out.count("FAILED!") == 1


def test_a_secret_the_data_tier_accepts_is_accepted_here(tmp_path):
    """One minimum length (16) for the whole collection: a 16-character password passes every role."""
    proc = run_role(tmp_path, "app", {**GOOD, "app_database_password": "Ab3dE6gH9jK2mN5q"}, "--tags", "app_preflight")
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]


def test_numbers_given_as_strings_pass_preflight(tmp_path):
    """-e passes strings: argument_specs accepts "2" for an int, and so do preflight and the rest of the role."""
    proc = run_role(tmp_path, "app", GOOD, "-e", "app_backend_replicas=2", "-e", "app_worker_replicas=1",
                    "-e", "app_embedding_dim=384", "-e", "app_database_port=5432", "-e", "app_redis_port=6379",
                    "-e", "app_redis_db=1", "-e", "app_nats_port=4222", "-e", "app_uid=10001", "-e", "app_backend_cpus=0.5",
                    "-e", "app_releases_kept=3", "-e", "app_switch_grace=1", "-e", "app_stop_grace_period=10",
                    "-e", "app_health_timeout=60", "-e", "app_log_max_file=2",
                    "-e", "app_backend_pids_limit=128")
    assert_numbers_as_strings_pass(proc, "app")
