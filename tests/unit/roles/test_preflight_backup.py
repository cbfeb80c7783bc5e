# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright (c) 2026, CommandCenter platform team
"""backup: bad input fails before anything changes, naming the variable (never a secret's value,
nor the password of a repository URL).

Each case runs the whole role in check mode against this machine (connection local,
no Docker): argument_specs or preflight must stop it before any task of configure or
deploy ("Ensure ...") runs. The local inventory's values (inventories/local) pass.
"""
from __future__ import annotations

import pytest
import yaml
from conftest import (
    ROOT,
    assert_numbers_as_strings_pass,
    assert_preflight_passed,
    assert_refused_before_change,
    batched_refusals,
    run_play,
    run_role,
    step_tasks,
)

# Runs ansible-playbook: `make unit` runs it, the pre-commit hook leaves it out.
pytestmark = pytest.mark.playbook

ROLE = "backup"
# Valid, random-looking test values (not used anywhere else).
OFFSITE_REPOSITORY = "rest:https://backup.example.test:8000/commandcenter"
GOOD = {
    "backup_postgres_password": "Pg7-unit-backup-Vx2mQ8rT4yLk",
    "backup_redis_password": "Rd3-unit-backup-Hq4zW8pN1cTe",
    "backup_nats_password": "Nt5-unit-backup-Jd9sF3gW6tYb",
    "backup_restic_password": "Rs8-unit-backup-Lp4nB7cK2zQa",
    "backup_offsite_repository": OFFSITE_REPOSITORY,
    "backup_offsite_password": "Os2-unit-backup-Wm6yD3fK8sPu",
    "backup_offsite_environment": {"RESTIC_REST_USERNAME": "commandcenter",
                                   "RESTIC_REST_PASSWORD": "Ev4-unit-backup-Zk7cS4wA1zNr"},
}
# The role's default schedule (every kind listed), for the cases that change one entry.
SCHEDULE = yaml.safe_load((ROOT / "roles" / ROLE / "defaults" / "main.yml").read_text())["backup_schedule"]
# A password in a repository URL: refused, and never shown.
URL_PASSWORD = "Ur9-unit-backup-Xy5bV2nM8qLs"

CASES = [
    # Secrets (commandcenter.infra.secret_problems): every one is named, none is shown.
    ("missing-secrets", {"backup_postgres_password": "", "backup_restic_password": None, "backup_offsite_password": ""},
     ["backup_postgres_password: not set", "backup_restic_password: not set", "backup_offsite_password: not set"]),
    ("placeholder-postgres-password", {"backup_postgres_password": "changeme"},
     ["backup_postgres_password: is a placeholder"]),
    ("placeholder-restic-password", {"backup_restic_password": "<restic repository password>"},
     ["backup_restic_password: is a placeholder"]),
    ("placeholder-offsite-password", {"backup_offsite_password": "set-me-with-ansible-vault"},
     ["backup_offsite_password: is a placeholder"]),
    ("short-redis-password", {"backup_redis_password": "Zr4kP0x9"}, ["backup_redis_password: shorter than 16"]),
    ("short-nats-password", {"backup_nats_password": "Ab3dE6gH9jK2mN"}, ["backup_nats_password: shorter than 16"]),
    # Types (argument_specs).
    ("type-port", {"backup_postgres_port": "many"}, ["backup_postgres_port", "int"]),
    ("type-bool", {"backup_redis_enabled": "perhaps"}, ["backup_redis_enabled", "bool"]),
    ("type-environment", {"backup_offsite_environment": ["RESTIC_REST_USERNAME=commandcenter"]},
     ["backup_offsite_environment", "dict"]),
    ("type-schedule", {"backup_schedule": ["hourly"]}, ["backup_schedule", "dict"]),
    # Names.
    ("slot-name", {"backup_postgres_slot": "Barman-Slot"},
     ["backup_postgres_slot must be a replication slot name", "got Barman-Slot"]),
    ("slot-name-too-long", {"backup_postgres_slot": "b" * 64}, ["backup_postgres_slot must be a replication slot"]),
    ("postgres-user", {"backup_postgres_user": "cc backup"},
     ["backup_postgres_user must be a plain role name", "got cc backup"]),
    ("postgres-host", {"backup_postgres_host": "postgres;true"},
     ["backup_postgres_host must be a host name or address, got postgres;true"]),
    ("redis-host", {"backup_redis_host": "-redis"}, ["backup_redis_host must be a host name or address, got -redis"]),
    ("nats-url", {"backup_nats_url": "http://nats:8222"},
     ["backup_nats_url must look like nats://nats:4222, got http://nats:8222"]),
    # Barman's retention.
    ("retention-word", {"backup_postgres_retention": "KEEP 7 DAYS"},
     ["backup_postgres_retention must be Barman's", "got KEEP 7 DAYS"]),
    ("retention-zero", {"backup_postgres_retention": "RECOVERY WINDOW OF 0 DAYS"},
     ["backup_postgres_retention must be Barman's", "got RECOVERY WINDOW OF 0 DAYS"]),
    ("retention-unit", {"backup_postgres_retention": "RECOVERY WINDOW OF 7 YEARS"},
     ["backup_postgres_retention must be Barman's"]),
    # Paths: the backups are not part of the platform's state that they back up.
    ("root-under-platform", {"backup_root": "/opt/commandcenter/backups"},
     ["backup_root must not be under /opt/commandcenter", "got /opt/commandcenter/backups"]),
    ("root-is-platform", {"backup_root": "/opt/commandcenter"},
     ["backup_root must not be under /opt/commandcenter", "got /opt/commandcenter"]),
    ("root-relative", {"backup_root": "backups"}, ["backup_root must be an absolute path", "got backups"]),
    ("root-trailing-slash", {"backup_root": "/srv/backups/"}, ["backup_root must be an absolute path"]),
    ("metrics-dir-relative", {"backup_metrics_dir": "textfile/backup.d"},
     ["backup_metrics_dir must be an absolute path, got textfile/backup.d"]),
    ("platform-path-relative", {"backup_platform_paths": ["/opt/commandcenter", "etc/commandcenter"]},
     ["backup_platform_paths must be absolute paths", "etc/commandcenter"]),
    # The offsite repository.
    ("offsite-missing", {"backup_offsite_repository": ""},
     ["backup_offsite_repository is empty: backups would stay on this host only", "backup_offsite_required"]),
    ("offsite-not-restic", {"backup_offsite_repository": "ftp:/backup.example.test/commandcenter"},
     ["backup_offsite_repository must be a restic repository", "got ftp:/backup.example.test/commandcenter"]),
    ("offsite-relative", {"backup_offsite_repository": "backups/offsite"},
     ["backup_offsite_repository must be a restic repository"]),
    ("env-names", {"backup_offsite_environment": {"restic-rest-username": "commandcenter",
                                                  "1AWS_KEY": "Ev4-unit-backup-Zk7cS4wA1zNr",
                                                  "RESTIC_REST_PASSWORD": "Ev4-unit-backup-Zk7cS4wA1zNr"}},
     ["backup_offsite_environment keys must be environment variable names", "restic-rest-username", "1AWS_KEY"]),
    # restic check's share and the retentions.
    ("check-subset-words", {"backup_check_read_data_subset": "ten percent"},
     ["backup_check_read_data_subset must be a percentage (10%) or n/t (1/5), got ten percent"]),
    ("check-subset-zero", {"backup_check_read_data_subset": "0%"}, ["backup_check_read_data_subset", "got 0%"]),
    ("check-subset-over-100", {"backup_check_read_data_subset": "101%"},
     ["backup_check_read_data_subset", "got 101%"]),
    ("check-subset-fraction", {"backup_check_read_data_subset": "0/5"}, ["backup_check_read_data_subset", "got 0/5"]),
    ("local-keep-nothing", {"backup_local_keep_daily": 0, "backup_local_keep_weekly": 0,
                            "backup_local_keep_monthly": 0},
     ["backup_local_keep_daily, _weekly and _monthly are all 0"]),
    ("offsite-keep-nothing", {"backup_offsite_keep_daily": 0, "backup_offsite_keep_weekly": 0,
                              "backup_offsite_keep_monthly": 0},
     ["backup_offsite_keep_daily, _weekly and _monthly are all 0"]),
    # Schedules: every kind, each {on_calendar, max_age_hours}.
    ("schedule-unknown-kind", {"backup_schedule": {**SCHEDULE, "mysql": {"on_calendar": "daily", "max_age_hours": 26}}},
     ["backup_schedule has unknown kinds ['mysql']"]),
    ("schedule-missing-kinds", {"backup_schedule": {k: v for k, v in SCHEDULE.items() if k not in ("check", "redis")}},
     ["backup_schedule lacks [", "'redis'", "'check'", "every kind needs {on_calendar, max_age_hours}"]),
    ("schedule-max-age-zero", {"backup_schedule": {**SCHEDULE, "redis": {"on_calendar": "hourly", "max_age_hours": 0}}},
     ["backup_schedule entries must be", "bad: ['redis']"]),
    ("schedule-max-age-word",
     {"backup_schedule": {**SCHEDULE, "nats": {"on_calendar": "hourly", "max_age_hours": "soon"}}},
     ["backup_schedule entries must be", "bad: ['nats']"]),
    ("schedule-max-age-fraction", {"backup_schedule": {**SCHEDULE, "check": {"on_calendar": "weekly",
                                                                             "max_age_hours": 1.5}}},
     ["backup_schedule entries must be", "bad: ['check']"]),
    ("schedule-no-max-age", {"backup_schedule": {**SCHEDULE, "platform": {"on_calendar": "daily"}}},
     ["backup_schedule entries must be", "bad: ['platform']"]),
    ("schedule-no-calendar", {"backup_schedule": {**SCHEDULE, "offsite": {"on_calendar": " ", "max_age_hours": 26}}},
     ["backup_schedule entries must be", "bad: ['offsite']"]),
    # A line break would add lines to the timer unit.
    ("schedule-calendar-line-break", {"backup_schedule": {**SCHEDULE, "redis": {
        "on_calendar": "hourly\nOnBootSec=1s", "max_age_hours": 3}}}, ["backup_schedule entries must be", "['redis']"]),
    ("schedule-not-a-mapping", {"backup_schedule": {**SCHEDULE, "postgres_dump": "daily"}},
     ["backup_schedule entries must be", "bad: ['postgres_dump']"]),
    ("randomized-delay-words", {"backup_randomized_delay": "a while"},
     ["backup_randomized_delay must be a systemd time span such as 15min or 30s, got a while"]),
    ("randomized-delay-unit", {"backup_randomized_delay": "15 fortnights"},
     ["backup_randomized_delay must be a systemd time span", "got 15 fortnights"]),
    # Sizes, ports and limits.
    ("memory-limit", {"backup_memory_limit": "lots"},
     ["backup_memory_limit must be a docker size such as 512m, got lots"]),
    ("log-max-size", {"backup_log_max_size": "10 MB"}, ["backup_log_max_size must look like 10m, got 10 MB"]),
    ("postgres-port-range", {"backup_postgres_port": 70000}, ["backup_postgres_port must be 1-65535, got 70000"]),
    ("redis-port-zero", {"backup_redis_port": 0}, ["backup_redis_port must be 1-65535, got 0"]),
    ("cpus-zero", {"backup_cpus": 0}, ["backup_cpus must be greater than 0"]),
    ("pids-limit", {"backup_pids_limit": 16}, ["backup_pids_limit must be 32 or more, got 16"]),
    ("log-max-file", {"backup_log_max_file": 0}, ["backup_log_max_file must be 1 or more, got 0"]),
    ("health-timeout", {"backup_health_timeout": 0}, ["backup_health_timeout must be 1 or more seconds, got 0"]),
]


refused = batched_refusals(ROLE, CASES, GOOD)


@pytest.mark.parametrize(("case", "role_vars", "expected"), CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_refused_before_any_change(refused, case, role_vars, expected):
    proc = refused[case]
    out = assert_refused_before_change(proc, ROLE, expected, {**GOOD, **role_vars})
    # The offsite backend's credentials are secrets too (a dict, which the helper does not look into).
    environment = {**GOOD, **role_vars}["backup_offsite_environment"]
    for value in environment.values() if isinstance(environment, dict) else environment:
        if "unit-backup" in str(value):
            assert str(value) not in out


@pytest.mark.parametrize("repository", [
    f"rest:https://commandcenter:{URL_PASSWORD}@backup.example.test:8000/commandcenter",
    f"s3:https://AKIAUNITTEST:{URL_PASSWORD}@s3.example.test/commandcenter-backups",
    # Not a restic repository either: its own message shows the URL, with the credentials masked.
    f"https://commandcenter:{URL_PASSWORD}@backup.example.test/commandcenter",
], ids=["rest", "s3", "not-restic"])
@pytest.mark.parametrize("verbosity", [[], ["-vvv"]], ids=["quiet", "vvv"])
def test_a_password_in_the_repository_url_is_refused_and_never_shown(tmp_path, repository, verbosity):
    proc = run_role(tmp_path, ROLE, {**GOOD, "backup_offsite_repository": repository}, *verbosity)
    out = assert_refused_before_change(proc, ROLE, [
        "backup_offsite_repository must not carry a password in its URL: put the backend's credentials in"
        " backup_offsite_environment"], GOOD)
    assert URL_PASSWORD not in out
    if repository.startswith("https:"):
        assert "got https://***@backup.example.test/commandcenter" in " ".join(out.split())


@pytest.mark.parametrize("name", ["backup_postgres_password", "backup_redis_password", "backup_nats_password",
                                  "backup_restic_password", "backup_offsite_password"])
def test_refusal_never_shows_the_secret(tmp_path, name):
    """A too-short secret is refused by name; its value appears nowhere, even at -vvv."""
    value = "Kx81mQzv"
    proc = run_role(tmp_path, ROLE, {**GOOD, name: value}, "-vvv")
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert f"{name}: shorter than 16 characters" in out
    assert value not in out


GOOD_VARIANTS = {
    "offsite": {},
    # No offsite copy, accepted as such: no offsite password needed.
    "no-offsite": {"backup_offsite_repository": "", "backup_offsite_password": "", "backup_offsite_environment": {},
                   "backup_offsite_required": False},
    # Redis and NATS not backed up: their passwords are not needed.
    "no-redis-nats": {"backup_redis_enabled": False, "backup_redis_password": "", "backup_nats_enabled": False,
                      "backup_nats_password": ""},
    "other-forms": {"backup_offsite_repository": "/mnt/offsite/restic", "backup_check_read_data_subset": "1/5",
                    "backup_randomized_delay": "30s", "backup_postgres_retention": "REDUNDANCY 3",
                    "backup_root": "/opt/commandcenter-backups", "backup_postgres_slot": "barman_cc",
                    "backup_nats_url": "tls://nats.internal:4222", "backup_local_keep_daily": 0,
                    "backup_local_keep_monthly": 1,
                    "backup_schedule": {**SCHEDULE, "check": {"on_calendar": "Sat *-*-1..7 05:00",
                                                              "max_age_hours": 800}}},
    "percent-forms": {"backup_check_read_data_subset": "2.5%", "backup_randomized_delay": "1h",
                      "backup_postgres_retention": "RECOVERY WINDOW OF 4 WEEKS"},
}


@pytest.mark.parametrize("extra", list(GOOD_VARIANTS.values()), ids=list(GOOD_VARIANTS))
def test_good_input_passes_preflight(tmp_path, extra):
    """Real passwords and an offsite repository (or none, accepted), and other valid forms of the values, pass
    argument_specs and every preflight check."""
    proc = run_role(tmp_path, ROLE, {**GOOD, **extra}, "--tags", "backup_preflight")
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-3000:]
    assert "failed=0" in out
    assert_preflight_passed(proc, ROLE)
    assert not step_tasks(out, ROLE)


def test_the_local_inventorys_values_pass_preflight(tmp_path):
    """inventories/local (its shared settings and backup.yml, as group_vars): the image from the local registry,
    no offsite copy (accepted), the passwords generated on first use (here into tmp_path)."""
    local = ROOT / "inventories" / "local" / "group_vars" / "all"
    (tmp_path / "secrets-dir.yml").write_text(yaml.safe_dump({"cc_local_secrets_dir": str(tmp_path / "secrets")}))
    proc = run_play(tmp_path, {
        "name": "Preflight probe", "hosts": "all", "gather_facts": True,
        "vars_files": [str(local / "main.yml"), str(local / "backup.yml"), str(tmp_path / "secrets-dir.yml")],
        "roles": [{"role": f"commandcenter.infra.{ROLE}"}]}, "--tags", "backup_preflight")
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-3000:]
    assert_preflight_passed(proc, ROLE)
    assert not step_tasks(out, ROLE)
    # The passwords the local inventory generates are what preflight checked.
    assert sorted(p.name for p in (tmp_path / "secrets").iterdir()) == [
        "backup_nats_password", "backup_postgres_password", "backup_redis_password", "backup_restic_password"]


def test_every_problem_is_reported_together(tmp_path):
    """Bad values of five variables and a missing password: one failure lists all of them."""
    proc = run_role(tmp_path, ROLE, {**GOOD, "backup_restic_password": "", "backup_postgres_port": 0,
                                     "backup_root": "/opt/commandcenter/backup", "backup_postgres_slot": "Slot",
                                     "backup_randomized_delay": "soon", "backup_check_read_data_subset": "all"})
    out = assert_refused_before_change(proc, ROLE, [
        "backup: 6 input problem(s)", "backup_restic_password: not set", "backup_postgres_port must be 1-65535, got 0",
        "backup_root must not be under /opt/commandcenter", "backup_postgres_slot must be a replication slot name",
        "got Slot", "backup_randomized_delay must be a systemd time span", "got soon",
        "backup_check_read_data_subset must be a percentage", "got all"], GOOD)
    assert out.count("FAILED!") == 1


def test_numbers_given_as_strings_pass_preflight(tmp_path):
    """-e passes strings: argument_specs accepts "5433" for an int, and so do preflight and the rest of the role."""
    proc = run_role(tmp_path, ROLE, GOOD, "-e", "backup_postgres_port=5433", "-e", "backup_redis_port=6380",
                    "-e", "backup_local_keep_daily=3", "-e", "backup_offsite_keep_weekly=4", "-e", "backup_cpus=0.5",
                    "-e", "backup_pids_limit=128", "-e", "backup_log_max_file=2", "-e", "backup_health_timeout=60",
                    "-e", "backup_drill_pids_limit=256")
    assert_numbers_as_strings_pass(proc, ROLE)
