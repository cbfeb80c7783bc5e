# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright (c) 2026, CommandCenter platform team
"""Helpers for role tests that run ansible-playbook on this machine (connection local, no Docker)."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def run_play(tmp_path: Path, play: dict, *args: str) -> subprocess.CompletedProcess:
    """Run one play in check mode against localhost (connection local, this Python)."""
    playbook = tmp_path / "play.yml"
    playbook.write_text(json.dumps([play]))
    env = {**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"), "ANSIBLE_FORCE_COLOR": "0",
           "ANSIBLE_NOCOLOR": "1"}
    return subprocess.run(
        [str(Path(sys.executable).parent / "ansible-playbook"), "-i", "localhost,", "-c", "local", "--check",
         "-e", f"ansible_python_interpreter={sys.executable}", *args, str(playbook)],
        capture_output=True, text=True, check=False, cwd=ROOT, env=env, timeout=300)


def run_role(tmp_path: Path, role: str, role_vars: dict, *args: str) -> subprocess.CompletedProcess:
    """Run the whole role in check mode against localhost with the given variables."""
    return run_play(tmp_path, {"name": "Preflight probe", "hosts": "all", "gather_facts": True,
                               "roles": [{"role": f"commandcenter.infra.{role}", "vars": role_vars}]}, *args)


def run_tasks(tmp_path: Path, tasks: list, *args: str) -> subprocess.CompletedProcess:
    """Run a play of these tasks (facts gathered) in check mode against localhost."""
    return run_play(tmp_path, {"name": "Tasks probe", "hosts": "all", "gather_facts": True, "tasks": tasks}, *args)


def preflight_assert(role: str) -> str:
    """The header of the task that fails with every problem of the role (the stack role's preflight entry point)."""
    return f"TASK [commandcenter.infra.stack : Assert the inputs are usable for {role}]"


def assert_preflight_passed(proc: subprocess.CompletedProcess, role: str) -> str:
    """The role's preflight ran and found nothing: its one assertion is ok."""
    out = proc.stdout + proc.stderr
    assert preflight_assert(role) in out, out[-3000:]
    result = out.split(preflight_assert(role), 1)[1].split("TASK [", 1)[0]
    assert "ok: [localhost]" in result, out[-3000:]
    return out


# What Jinja says when a string from -e meets a number: none of it may show.
TYPE_ERRORS = ("not supported between instances of", "unsupported operand type", "can only concatenate",
               "must be real number, not str", "TypeError")


def assert_numbers_as_strings_pass(proc: subprocess.CompletedProcess, role: str) -> str:
    """Numeric variables given as strings (-e name=value) pass preflight and the role goes on to its next step
    (a task named "Ensure ..." starts) without a type error anywhere in the run."""
    out = assert_preflight_passed(proc, role)
    assert step_tasks(out, role), f"no step after preflight started:\n{out[-3000:]}"
    errors = [text for text in TYPE_ERRORS if text in out]
    assert not errors, f"type errors {errors}:\n{out[-3000:]}"
    return out


def step_tasks(output: str, role: str) -> list[str]:
    """Headers of the role's tasks after preflight that started (those named "Ensure ...")."""
    return [line for line in output.splitlines()
            if line.startswith((f"TASK [commandcenter.infra.{role} : Ensure", "TASK [Ensure"))]


def assert_refused_before_change(proc: subprocess.CompletedProcess, role: str, expected, secrets=None) -> str:
    """The run failed, its message holds every expected text (white space folded), nothing
    after preflight started, nothing changed, and no secret of `secrets` (variables named
    *password, *secret, *token: name -> value) shows."""
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0, out[-3000:]
    flat = " ".join(out.split())
    for text in expected:
        assert text in flat, f"{text!r} not in the failure:\n{out[-3000:]}"
    assert "changed=0" in out
    assert not step_tasks(out, role), f"tasks ran after bad input: {step_tasks(out, role)}"
    leaked = sorted(name for name, value in (secrets or {}).items()
                    if re.search(r"(password|passwd|secret|token)$", name)
                    and isinstance(value, str) and len(value) >= 8 and value in out)
    assert not leaked, f"the output shows the value of {leaked}"
    return out
