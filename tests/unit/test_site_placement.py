# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright (c) 2026, CommandCenter platform team
"""playbooks/site.yml checks where the inventory places the parts, before any play changes anything.

The parts may be spread over the Docker hosts (several Docker hosts form one swarm whose
overlay networks carry the names); what multi-host placement cannot do is refused by the
first play with a message naming the group and the hosts: a stateful or single-instance
part on two hosts, a part on a host that is not a Docker host, parts spread over hosts whose
swarm the inventory switched off.

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


def run_site(tmp_path: Path, placement: dict[str, str | list[str]], docker_hosts: list[str] | None = None,
             host_vars: dict[str, dict] | None = None, tags: str = "cc_no_play_has_this_tag") -> subprocess.CompletedProcess:
    """site.yml in check mode against an inventory placing each group (and docker_hosts) as given."""
    groups = {group: [hosts] if isinstance(hosts, str) else hosts for group, hosts in placement.items()}
    hosts = sorted({host for members in groups.values() for host in members})
    local = {"ansible_connection": "local", "ansible_python_interpreter": sys.executable}
    inventory = {"all": {
        "hosts": {host: {**local, **(host_vars or {}).get(host, {})} for host in hosts},
        "children": {
            "docker_hosts": {"hosts": dict.fromkeys(hosts if docker_hosts is None else docker_hosts)},
            **{group: {"hosts": dict.fromkeys(members)} for group, members in groups.items()},
        }}}
    (tmp_path / "hosts.yml").write_text(yaml.safe_dump(inventory))
    env = {**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1"}
    return subprocess.run(
        [str(Path(sys.executable).parent / "ansible-playbook"), "-i", str(tmp_path / "hosts.yml"), "--check",
         "--tags", tags, str(ROOT / "playbooks" / "site.yml")],
        capture_output=True, text=True, check=False, cwd=ROOT, env=env, timeout=300)


def placement_result(proc: subprocess.CompletedProcess) -> tuple[str, str]:
    out = proc.stdout + proc.stderr
    return out, " ".join(out.split())


def test_parts_spread_over_docker_hosts_pass_the_placement_check(tmp_path):
    placement = {"postgres": "data1", "redis": "data1", "nats": "data1", "traefik": "edge1",
                 "app": ["edge1", "data1", "mon1"], "monitoring": "mon1", "alertmanager": "mon1", "backup": "mon1"}
    proc = run_site(tmp_path, placement)
    out, flat = placement_result(proc)
    assert proc.returncode == 0, out[-3000:]
    assert "site: " not in flat, out[-3000:]
    # The control: the assertion ran and passed for every host, and the later plays were reached.
    result = out.split("TASK [Assert every part's inputs are usable]", 1)[1].split("TASK [", 1)[0]
    for host in ("data1", "edge1", "mon1"):
        assert f"ok: [{host}]" in result, out[-3000:]
    assert "PLAY [Prepare the Docker hosts]" in out, out[-3000:]


@pytest.mark.parametrize("group", ["postgres", "redis", "nats", "traefik", "backup", "monitoring", "alertmanager"])
def test_a_single_instance_part_on_two_hosts_is_refused_before_any_play(tmp_path, group):
    placement = {"postgres": "h1", "redis": "h1", "nats": "h1", "traefik": "h1", "app": "h1", "backup": "h1",
                 "monitoring": "h1", "alertmanager": "h1"}
    placement[group] = ["h1", "h2"]
    proc = run_site(tmp_path, placement)
    out, flat = placement_result(proc)
    assert proc.returncode != 0, out[-3000:]
    assert f"site: the {group} group must have one host (one {group} instance runs), got h1, h2" in flat, out[-3000:]
    assert "PLAY [Prepare the Docker hosts]" not in out, out[-3000:]


def test_a_part_on_a_host_outside_docker_hosts_is_refused(tmp_path):
    proc = run_site(tmp_path, {"postgres": "db1", "app": "app1"}, docker_hosts=["app1"])
    out, flat = placement_result(proc)
    assert proc.returncode != 0, out[-3000:]
    assert "site: db1 run(s) parts of the platform but are not in docker_hosts" in flat, out[-3000:]


def test_parts_spread_with_the_swarm_switched_off_are_refused(tmp_path):
    proc = run_site(tmp_path, {"postgres": "db1", "app": "app1"},
                    host_vars={"db1": {"docker_host_swarm_enabled": False}})
    out, flat = placement_result(proc)
    assert proc.returncode != 0, out[-3000:]
    assert "site: the parts are spread over" in flat and "docker_host_swarm_enabled is false for db1" in flat, out[-3000:]


def test_parts_on_one_host_pass_the_placement_check(tmp_path):
    proc = run_site(tmp_path, dict.fromkeys(PARTS, "all1"))
    out, _flat = placement_result(proc)
    assert proc.returncode == 0, out[-3000:]
    # The control: the assertion ran and passed, and the later plays were reached.
    result = out.split("TASK [Assert every part's inputs are usable]", 1)[1].split("TASK [", 1)[0]
    assert "ok: [all1]" in result, out[-3000:]
    assert "PLAY [Prepare the Docker hosts]" in out, out[-3000:]


def test_an_even_number_of_swarm_managers_is_refused_before_any_play(tmp_path):
    """The docker_host preflight (in site.yml's first play: --tags docker_host runs it) counts the managers."""
    proc = run_site(tmp_path, {"app": ["h1", "h2"], "swarm_managers": ["h1", "h2"]}, tags="docker_host")
    out, flat = placement_result(proc)
    assert proc.returncode != 0, out[-3000:]
    assert "docker_host_swarm_managers_group (swarm_managers): 2 managers (h1, h2); a swarm needs an odd number" in flat, \
        out[-3000:]
    assert "PLAY [Prepare the Docker hosts]" not in out, out[-3000:]
