# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright (c) 2026, CommandCenter platform team
"""The stack role's entry point host_key, run on this machine (connection local) with the key
file in a temporary directory: check mode on a host without a key predicts and never fails;
the first run makes a root-only random key; later runs change nothing and read the same key;
the key never shows in the output, even at -vvv."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

# Runs ansible-playbook: `make unit` runs it, the pre-commit hook leaves it out.
pytestmark = pytest.mark.playbook

ROOT = Path(__file__).resolve().parents[3]
RECAP = re.compile(r"localhost\s+: ok=(\d+)\s+changed=(\d+)\s+unreachable=0\s+failed=(\d+)")


def run(tmp_path: Path, *args: str) -> tuple[subprocess.CompletedProcess, int]:
    """Include host_key, then print HMACs made with the fact it sets; returns the run and its changed count."""
    playbook = tmp_path / "play.yml"
    playbook.write_text(json.dumps([{
        "name": "Host key", "hosts": "all", "gather_facts": False,
        "tasks": [
            {"name": "Ensure the host key", "ansible.builtin.include_role": {
                "name": "commandcenter.infra.stack", "tasks_from": "host_key"},
             "vars": {"stack_host_key_file": str(tmp_path / "cc" / "secrets" / "host.key"),
                      # The stack role's defaults name the including role's path (none here).
                      "ansible_parent_role_paths": [str(tmp_path)]}},
            {"name": "Print what the key makes", "ansible.builtin.debug": {
                "msg": "HMAC={{ 'label' | commandcenter.infra.hmac(stack_host_key) }}"
                       " SALT={{ 'x:admin' | commandcenter.infra.hmac(stack_host_key, encoding='bcrypt_salt') }}"}},
        ]}]))
    env = {**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"), "ANSIBLE_FORCE_COLOR": "0",
           "ANSIBLE_NOCOLOR": "1"}
    proc = subprocess.run(
        [str(Path(sys.executable).parent / "ansible-playbook"), "-i", "localhost,", "-c", "local",
         "-e", f"ansible_python_interpreter={sys.executable}", *args, str(playbook)],
        capture_output=True, text=True, check=False, cwd=ROOT, env=env, timeout=300)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-3000:]
    ok, changed, failed = map(int, RECAP.search(out).groups())
    assert failed == 0
    return proc, changed


def made(proc: subprocess.CompletedProcess) -> tuple[str, str]:
    match = re.search(r"HMAC=([0-9a-f]{64}) SALT=([./A-Za-z0-9]{22})", proc.stdout)
    assert match, proc.stdout[-2000:]
    return match.group(1), match.group(2)


def test_check_mode_without_a_key_predicts_and_never_fails(tmp_path):
    proc, changed = run(tmp_path, "--check")
    assert changed >= 1, "check mode must predict the key's creation"
    assert not (tmp_path / "cc").exists(), "check mode wrote something"
    made(proc)  # a stand-in key: the hashes are made, nothing fails


def test_the_key_is_made_once_root_only_random_and_stable(tmp_path):
    first, changed = run(tmp_path)
    assert changed >= 1
    key_file = tmp_path / "cc" / "secrets" / "host.key"
    key = key_file.read_text()
    assert re.fullmatch(r"[0-9a-f]{64}\n", key), "32 random bytes as 64 hex digits"
    assert key_file.stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "cc" / "secrets").stat().st_mode & 0o777 == 0o700
    assert (tmp_path / "cc").stat().st_mode & 0o777 == 0o755

    again, changed = run(tmp_path)
    assert changed == 0, "a second run must change nothing"
    assert key_file.read_text() == key, "the key must never be replaced"
    assert made(again) == made(first), "the same key must make the same HMACs and salts"
    checked, changed = run(tmp_path, "--check", "-vvv")
    assert changed == 0 and made(checked) == made(first)
    assert key.strip() not in checked.stdout + checked.stderr, "the key shows in the -vvv output"

    other = tmp_path / "other"
    other.mkdir()
    assert made(run(other)[0]) != made(first), "another host (another key) must make other HMACs"
