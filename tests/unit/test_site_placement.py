# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright (c) 2026, CommandCenter platform team
"""playbooks/site.yml refuses an inventory that spreads the parts over several hosts.

Until multi-host placement exists, postgres, redis, nats, traefik and app reach each other by
name on one host's Docker networks. The first play of site.yml finds a spread inventory and
fails with a message that names every part and its host, before any other play starts.

The runs use two names for this machine (connection local) and a tag that no play carries, so
only the first play's `always` tasks run: nothing is changed and no role's preflight needs
inputs (the role preflights are covered by tests/unit/roles/).
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

# Runs ansible-playbook: `make unit` runs it, the pre-commit hook leaves it out.
pytestmark = pytest.mark.playbook

ROOT = Path(__file__).resolve().parents[2]
PARTS = ("postgres", "redis", "nats", "traefik", "app")


def run_site(tmp_path: Path, placement: dict[str, str]) -> subprocess.CompletedProcess:
    """site.yml in check mode against an inventory placing each group (and docker_hosts) as given."""
    hosts = sorted(set(placement.values()))
    local = {"ansible_connection": "local", "ansible_python_interpreter": sys.executable}
    inventory = {"all": {"children": {
        "docker_hosts": {"hosts": dict.fromkeys(hosts, local)},
        **{group: {"hosts": {host: local}} for group, host in placement.items()},
    }}}
    (tmp_path / "hosts.yml").write_text(yaml.safe_dump(inventory))
    env = {**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1"}
    return subprocess.run(
        [str(Path(sys.executable).parent / "ansible-playbook"), "-i", str(tmp_path / "hosts.yml"), "--check",
         "--tags", "cc_no_play_has_this_tag", str(ROOT / "playbooks" / "site.yml")],
        capture_output=True, text=True, check=False, cwd=ROOT, env=env, timeout=300)


def test_parts_spread_over_two_hosts_are_refused_before_any_play(tmp_path):
    placement = {"postgres": "data1", "redis": "data1", "nats": "data1", "traefik": "edge1", "app": "edge1"}
    proc = run_site(tmp_path, placement)
    out = proc.stdout + proc.stderr
    flat = " ".join(out.split())
    assert proc.returncode != 0, out[-3000:]
    assert "must be on one host" in flat, out[-3000:]
    assert "the inventory spreads them over data1, edge1" in flat, out[-3000:]
    for group, host in placement.items():
        assert f"{group} on {host}" in flat, f"{group} on {host} not named:\n{out[-3000:]}"
    # Nothing after the first play started.
    assert "PLAY [Prepare the Docker hosts]" not in out, out[-3000:]


def test_parts_on_one_host_pass_the_placement_check(tmp_path):
    proc = run_site(tmp_path, dict.fromkeys(PARTS, "all1"))
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-3000:]
    assert "must be on one host" not in out
    # The control: the assertion ran and passed, and the later plays were reached.
    result = out.split("TASK [Assert every part's inputs are usable]", 1)[1].split("TASK [", 1)[0]
    assert "ok: [all1]" in result, out[-3000:]
    assert "PLAY [Prepare the Docker hosts]" in out, out[-3000:]
