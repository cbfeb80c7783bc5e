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


def run_role(tmp_path: Path, role: str, role_vars: dict, *args: str) -> subprocess.CompletedProcess:
    """Run the whole role in check mode against localhost with the given variables."""
    playbook = tmp_path / "play.yml"
    playbook.write_text(json.dumps([{
        "name": "Preflight probe", "hosts": "all", "gather_facts": True,
        "roles": [{"role": f"commandcenter.infra.{role}", "vars": role_vars}],
    }]))
    env = {**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"), "ANSIBLE_FORCE_COLOR": "0",
           "ANSIBLE_NOCOLOR": "1"}
    return subprocess.run(
        [str(Path(sys.executable).parent / "ansible-playbook"), "-i", "localhost,", "-c", "local", "--check",
         "-e", f"ansible_python_interpreter={sys.executable}", *args, str(playbook)],
        capture_output=True, text=True, check=False, cwd=ROOT, env=env, timeout=300)


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
