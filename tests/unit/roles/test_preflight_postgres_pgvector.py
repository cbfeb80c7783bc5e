# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright (c) 2026, CommandCenter platform team
"""postgres_pgvector: bad input fails before anything changes, naming the variable (never a secret).

Each case runs the whole role in check mode against this machine (connection local,
no Docker): argument_specs or preflight must stop it before any "Ensure" task runs.
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

ROLE = "postgres_pgvector"
GOOD = {
    "postgres_pgvector_superuser_password": "Xq3-unit-test-superuser-7Hd9kLw2",
    "postgres_pgvector_app_password": "Xq3-unit-test-app-password-P4sT",
    "postgres_pgvector_monitor_password": "Xq3-unit-test-monitor-pw-Zr81mQ",
}

CASES = [
    # secrets: missing, placeholder, too short
    ("missing-secrets", {"postgres_pgvector_superuser_password": "", "postgres_pgvector_app_password": ""},
     ["postgres_pgvector_superuser_password: not set", "postgres_pgvector_app_password: not set"]),
    ("placeholder-secret", {"postgres_pgvector_app_password": "changeme"},
     ["postgres_pgvector_app_password: is a placeholder"]),
    ("short-secret", {"postgres_pgvector_monitor_password": "Sh0rt-pw"},
     ["postgres_pgvector_monitor_password: shorter than"]),
    # one minimum for the collection: what the app role would refuse, the data tier refuses too
    ("fourteen-character-secret", {"postgres_pgvector_app_password": "Ab3dE6gH9jK2mN"},
     ["postgres_pgvector_app_password: shorter than 16 characters"]),
    ("multiline-secret", {"postgres_pgvector_app_password": "first-line-secret\nsecond-line"},
     ["postgres_pgvector_app_password: a password must be a single line"]),
    # types and choices: argument_specs
    ("type-int", {"postgres_pgvector_max_connections": "lots"}, ["postgres_pgvector_max_connections", "int"]),
    ("type-bool", {"postgres_pgvector_publish_port": "perhaps"}, ["postgres_pgvector_publish_port", "bool"]),
    ("type-dict", {"postgres_pgvector_settings": ["work_mem", "8MB"]}, ["postgres_pgvector_settings", "dict"]),
    # values: preflight
    ("publish-public", {"postgres_pgvector_publish_port": True, "postgres_pgvector_publish_address": "0.0.0.0"},
     ["postgres_pgvector_publish_address: must be a loopback address", "0.0.0.0"]),
    ("memory-limit", {"postgres_pgvector_memory_limit": "2 GB"}, ["postgres_pgvector_memory_limit", "2 GB"]),
    ("shared-buffers-too-big", {"postgres_pgvector_memory_limit": "1g", "postgres_pgvector_shared_buffers": "900MB"},
     ["postgres_pgvector_shared_buffers: 900MB is more than half of postgres_pgvector_memory_limit 1g"]),
    ("pg-size-unit", {"postgres_pgvector_work_mem": "16mb"}, ["postgres_pgvector_work_mem", "16mb"]),
    ("names", {"postgres_pgvector_app_user": "Bad-Name", "postgres_pgvector_app_db": "postgres"},
     ["postgres_pgvector_app_user: must be a lower-case SQL name", "postgres_pgvector_app_db: must not be a system"]),
    ("network-and-port", {"postgres_pgvector_client_networks": ["10.0.0.0/8", "everyone"],
                          "postgres_pgvector_host_port": 70000},
     ["postgres_pgvector_client_networks: entries must be CIDRs, got everyone", "postgres_pgvector_host_port"]),
    # the backup service's role: its password is checked like the others once it is set
    ("backup-placeholder-secret", {"postgres_pgvector_backup_password": "changeme"},
     ["postgres_pgvector_backup_password: is a placeholder"]),
    ("backup-short-secret", {"postgres_pgvector_backup_password": "Sh0rt-backup-pw"},
     ["postgres_pgvector_backup_password: shorter than 16 characters"]),
    ("backup-multiline-secret", {"postgres_pgvector_backup_password": "first-line-backup-secret\nsecond"},
     ["postgres_pgvector_backup_password: a password must be a single line"]),
    ("backup-user-is-the-app-user", {"postgres_pgvector_backup_user": "commandcenter"},
     ["postgres_pgvector_backup_user must differ from the superuser (postgres), postgres_pgvector_app_user",
      "got commandcenter"]),
    ("bridge-role-is-the-monitor-role", {"postgres_pgvector_monitor_user": "commandcenter_next"},
     ["postgres_pgvector_app_user with `_next` (commandcenter_next) is the rotation bridge's role"]),
    ("bridge-password-short", {"postgres_pgvector_app_next_password": "short"},
     ["postgres_pgvector_app_next_password: shorter than 16 characters"]),
    ("backup-user-name", {"postgres_pgvector_backup_user": "Backup-User"},
     ["postgres_pgvector_backup_user: must be a lower-case SQL name", "got Backup-User"]),
    ("backup-networks", {"postgres_pgvector_backup_networks": ["10.30.0.0/24", "barman-host"]},
     ["postgres_pgvector_backup_networks: entries must be CIDRs, got barman-host"]),
    ("slot-keep-size-unit", {"postgres_pgvector_max_slot_wal_keep_size": "2gb"},
     ["postgres_pgvector_max_slot_wal_keep_size: -1 (no cap) or a PostgreSQL size of at least 16MB", "got 2gb"]),
    ("slot-keep-size-too-small", {"postgres_pgvector_max_slot_wal_keep_size": "8MB"},
     ["postgres_pgvector_max_slot_wal_keep_size: -1 (no cap) or a PostgreSQL size of at least 16MB", "got 8MB"]),
    ("slot-keep-size-negative", {"postgres_pgvector_max_slot_wal_keep_size": "-2"},
     ["postgres_pgvector_max_slot_wal_keep_size: -1 (no cap)", "got -2"]),
    ("archive-timeout-unit", {"postgres_pgvector_archive_timeout": "1m"},
     ["postgres_pgvector_archive_timeout: 0 (off) or a PostgreSQL duration in s, min, h or d", "got 1m"]),
    ("archive-timeout-ms", {"postgres_pgvector_archive_timeout": "500ms"},
     ["postgres_pgvector_archive_timeout: 0 (off) or a PostgreSQL duration", "got 500ms"]),
    ("replication-turned-off", {"postgres_pgvector_backup_password": "Xq3-unit-test-backup-pw-Lm27vB",
                                "postgres_pgvector_settings": {"wal_level": "minimal", "max_wal_senders": 0}},
     ["postgres_pgvector_settings: wal_level, max_wal_senders would stop the backup service's streaming replication"]),
]


refused = batched_refusals(ROLE, CASES, GOOD)


@pytest.mark.parametrize(("case", "role_vars", "expected"), CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_refused_before_any_change(refused, case, role_vars, expected):
    proc = refused[case]
    assert_refused_before_change(proc, ROLE, expected, GOOD)


def test_monitor_password_is_optional_without_exporter(tmp_path):
    proc = run_role(tmp_path, ROLE, {**GOOD, "postgres_pgvector_monitor_password": "",
                                     "postgres_pgvector_exporter_enabled": False},
                    "--tags", "postgres_pgvector_preflight")
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]


def test_good_input_passes_preflight(tmp_path):
    proc = run_role(tmp_path, ROLE, GOOD, "--tags", "postgres_pgvector_preflight")
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-3000:]
    assert_preflight_passed(proc, ROLE)
    assert not step_tasks(out, ROLE)


def test_every_problem_is_reported_together(tmp_path):
    proc = run_role(tmp_path, ROLE, {**GOOD, "postgres_pgvector_app_password": "", "postgres_pgvector_work_mem": "16mb",
                                     "postgres_pgvector_host_port": 0, "postgres_pgvector_max_connections": 5})
    out = assert_refused_before_change(proc, ROLE, [
        "postgres_pgvector: 4 input problem(s)", "postgres_pgvector_app_password: not set",
        "postgres_pgvector_work_mem: empty (derived) or a PostgreSQL size", "got 16mb",
        "postgres_pgvector_host_port: between 1 and 65535, got 0", "postgres_pgvector_max_connections: between 10 and 10000, got 5"],
        GOOD)
    assert out.count("FAILED!") == 1


@pytest.mark.parametrize("settings", [{"postgres_pgvector_shared_buffers": "65536"},
                                      {"postgres_pgvector_work_mem": "16384", "postgres_pgvector_maintenance_work_mem": "1GB"},
                                      {"postgres_pgvector_effective_cache_size": "1TB", "postgres_pgvector_shared_buffers": "134217728B"}],
                         ids=["bare-shared-buffers-in-8kB-pages", "bare-work-mem-in-kB", "B-and-TB"])
def test_postgres_sizes_accept_postgres_units(tmp_path, settings):
    proc = run_role(tmp_path, ROLE, {**GOOD, **settings}, "--tags", "postgres_pgvector_preflight")
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]


def test_bare_shared_buffers_count_8kb_pages(tmp_path):
    """131072 pages of 8kB are 1 GiB: more than half of a 1g limit."""
    proc = run_role(tmp_path, ROLE, {**GOOD, "postgres_pgvector_memory_limit": "1g",
                                     "postgres_pgvector_shared_buffers": "131072"})
    assert_refused_before_change(proc, ROLE, ["postgres_pgvector_shared_buffers: 131072 is more than half of"], GOOD)


def test_numbers_given_as_strings_pass_preflight(tmp_path):
    """-e passes strings: argument_specs accepts "100" for an int, and so do preflight and the rest of the role."""
    proc = run_role(tmp_path, ROLE, GOOD, "-e", "postgres_pgvector_max_connections=100",
                    "-e", "postgres_pgvector_host_port=5433", "-e", "postgres_pgvector_cpus=1.5",
                    "-e", "postgres_pgvector_exporter_cpus=0.5", "-e", "postgres_pgvector_log_max_file=2",
                    "-e", "postgres_pgvector_health_timeout=60",
                    "-e", "postgres_pgvector_pids_limit=300")
    assert_numbers_as_strings_pass(proc, ROLE)


@pytest.mark.parametrize("settings", [
    {"postgres_pgvector_backup_password": "Xq3-unit-test-backup-pw-Lm27vB"},
    {"postgres_pgvector_backup_password": "Xq3-unit-test-backup-pw-Lm27vB",
     "postgres_pgvector_backup_networks": ["10.30.0.0/24", "fd00:30::/64"],
     "postgres_pgvector_max_slot_wal_keep_size": -1, "postgres_pgvector_archive_timeout": 0},
    {"postgres_pgvector_max_slot_wal_keep_size": "4096", "postgres_pgvector_archive_timeout": "300"},
    {"postgres_pgvector_max_slot_wal_keep_size": "16MB", "postgres_pgvector_archive_timeout": "5min"},
    # Without a backup password the replication settings are the operator's business.
    {"postgres_pgvector_settings": {"wal_level": "minimal", "max_wal_senders": 0}},
], ids=["backup-password", "backup-own-networks-no-cap-no-timeout", "bare-MB-and-seconds", "units",
        "no-backup-replication-off"])
def test_backup_settings_pass_preflight(tmp_path, settings):
    proc = run_role(tmp_path, ROLE, {**GOOD, **settings}, "--tags", "postgres_pgvector_preflight")
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
    assert_preflight_passed(proc, ROLE)
