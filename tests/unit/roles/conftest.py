# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright (c) 2026, CommandCenter platform team
"""Helpers for role tests that run ansible-playbook on this machine (connection local, no Docker)."""
from __future__ import annotations

import json
import os
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
