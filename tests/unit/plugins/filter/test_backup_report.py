# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright (c) 2026, CommandCenter platform team
import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.commandcenter.infra.plugins.filter.backup_report import FilterModule, backup_report

NOW = 1_800_000_000.0


def kind(name: str, success: float, result: int = 1, max_age: int = 26 * 3600) -> str:
    return (f'# HELP cc_backup_last_success_timestamp_seconds When.\n'
            f'cc_backup_last_success_timestamp_seconds{{kind="{name}"}} {success}\n'
            f'cc_backup_last_result{{kind="{name}"}} {result}\n'
            f'cc_backup_max_age_seconds{{kind="{name}"}} {max_age}\n')


def drill(at: float, result: int = 1) -> str:
    return f"cc_backup_restore_drill_last_result {result}\ncc_backup_restore_drill_last_timestamp_seconds {at}\n"


def test_fresh_backups_and_drill_are_lines_without_problems():
    report = backup_report(kind("redis", NOW - 600, max_age=3 * 3600) + kind("postgres_base", NOW - 7200)
                           + drill(NOW - 86400), NOW)
    assert report == {"lines": ["backup postgres_base: last success 2 h ago", "backup redis: last success 10 min ago",
                                "restore drill: passed 1 d ago"], "problems": []}


def test_a_failed_run_a_stale_success_and_a_failed_drill_are_problems():
    report = backup_report(kind("redis", NOW - 4 * 3600, max_age=3 * 3600) + kind("nats", NOW - 60, result=0)
                           + drill(NOW - 60, result=0), NOW)
    assert report["problems"] == [
        "backup nats: its last run failed (journalctl -u cc-backup-nats.service)",
        "backup redis: last success 4 h ago, older than 3 h",
        "restore drill: the last one failed (playbooks/restore.yml says why)"]
    assert "restore drill: FAILED 1 min ago" in report["lines"]


def test_an_old_drill_is_a_problem_past_its_limit_only():
    assert backup_report(drill(NOW - 9 * 86400), NOW)["problems"] == [
        "restore drill: the last one is 9 d old, older than 8 d"]
    assert backup_report(drill(NOW - 9 * 86400), NOW, drill_max_age_days=10)["problems"] == []


def test_nothing_run_yet_is_said_not_counted():
    report = backup_report("", NOW)
    assert report["problems"] == []
    assert report["lines"] == ["backups: none has run yet (playbooks/backup.yml runs every kind now)",
                               "restore drill: none yet (playbooks/restore.yml runs one)"]
    assert backup_report(kind("check", 0), NOW)["lines"][0] == "backup check: never succeeded"


def test_bad_input_is_refused_by_name():
    with pytest.raises(AnsibleFilterError, match="metrics files' text"):
        backup_report(None, NOW)
    with pytest.raises(AnsibleFilterError, match="must be numbers"):
        backup_report("", "yesterday")
    assert FilterModule().filters()["backup_report"] is backup_report
