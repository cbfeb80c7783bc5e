# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright (c) 2026, CommandCenter platform team
"""backup_report: the backup role's textfile metrics as lines a person reads, and what is wrong."""
from __future__ import annotations

import re

from ansible.errors import AnsibleFilterError

SAMPLE_RE = re.compile(r'^(?P<metric>cc_backup_[a-z_]+)(?:\{kind="(?P<kind>[a-z_]+)"\})? (?P<value>\S+)$', re.M)


def _age(seconds: float) -> str:
    """A duration as a person says it: 42 s, 17 min, 5 h, 3 d."""
    seconds = max(0, int(seconds))
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds // size} {unit}"
    return f"{seconds} s"


def backup_report(metrics, now, drill_max_age_days=8):
    """Read the cc_backup_*.prom files' text (the backup role's metrics) at unix time `now`.

    Returns {"lines": [...], "problems": [...]}: per kind, when it last succeeded; a problem
    for a kind whose last run failed or whose last success is older than its
    cc_backup_max_age_seconds, and for a restore drill that failed or is older than
    drill_max_age_days. A kind that never ran, or no drill yet, is a line, not a problem:
    a site deployed today has none until its timers fire (playbooks/backup.yml and
    playbooks/restore.yml run them now); the BackupTooOld and RestoreDrillTooOld alerts
    take over once a first one ran.
    """
    if not isinstance(metrics, str):
        raise AnsibleFilterError(f"backup_report expects the metrics files' text, got {type(metrics).__name__}")
    try:
        now = float(now)
        drill_max = float(drill_max_age_days) * 86400
    except (TypeError, ValueError) as exc:
        raise AnsibleFilterError(f"backup_report: now and drill_max_age_days must be numbers ({exc})") from None
    kinds: dict[str, dict[str, float]] = {}
    drill: dict[str, float] = {}
    for match in SAMPLE_RE.finditer(metrics):
        try:
            value = float(match["value"])
        except ValueError:
            continue
        if match["kind"]:
            kinds.setdefault(match["kind"], {})[match["metric"]] = value
        else:
            drill[match["metric"]] = value
    lines, problems = [], []
    if not kinds:
        lines.append("backups: none has run yet (playbooks/backup.yml runs every kind now)")
    for kind in sorted(kinds):
        values = kinds[kind]
        success = values.get("cc_backup_last_success_timestamp_seconds", 0)
        max_age = values.get("cc_backup_max_age_seconds", 0)
        if success <= 0:
            lines.append(f"backup {kind}: never succeeded")
        else:
            lines.append(f"backup {kind}: last success {_age(now - success)} ago")
        if values.get("cc_backup_last_result", 1) == 0:
            problems.append(f"backup {kind}: its last run failed (journalctl -u cc-backup-{kind}.service)")
        elif success > 0 and max_age > 0 and now - success > max_age:
            problems.append(f"backup {kind}: last success {_age(now - success)} ago, older than {_age(max_age)}")
    drill_at = drill.get("cc_backup_restore_drill_last_timestamp_seconds", 0)
    if drill_at <= 0:
        lines.append("restore drill: none yet (playbooks/restore.yml runs one)")
    else:
        passed = drill.get("cc_backup_restore_drill_last_result", 0) == 1
        lines.append(f"restore drill: {'passed' if passed else 'FAILED'} {_age(now - drill_at)} ago")
        if not passed:
            problems.append("restore drill: the last one failed (playbooks/restore.yml says why)")
        elif now - drill_at > drill_max:
            problems.append(f"restore drill: the last one is {_age(now - drill_at)} old, older than "
                            f"{_age(drill_max)}")
    return {"lines": lines, "problems": problems}


class FilterModule:
    """What the backups' metrics say, for playbooks/verify.yml."""

    def filters(self):
        return {"backup_report": backup_report}
