# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright (c) 2026, CommandCenter platform team
"""Checks every scenario shares. Runs before the scenario's own tests."""


def test_check_mode_on_converged_host_reports_no_changes(converge):
    """CI-driven deploys run `--check --diff` on pull requests: it must be clean."""
    run = converge("--check", "--diff")
    assert run.returncode == 0, run.output[-6000:]
    assert run.recap, "no PLAY RECAP in the output:\n" + run.output[-3000:]
    assert run.changed == 0, "check mode predicted changes on a converged host:\n" + run.output[-6000:]
