# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright (c) 2026, CommandCenter platform team
"""The whole site on a hardened host: the hardening play ran first, Docker still works,
the edge answers from outside the host, and nothing else Docker publishes does."""
from __future__ import annotations

import time
from pathlib import Path

import yaml
from conftest import http_status_on_host, inventory_hostvars, platform_address, tcp_state

ROOT = Path(__file__).resolve().parents[3]


def host_var(name: str):
    """A setting from the inventory, else the traefik role's default."""
    hostvars = inventory_hostvars()
    if name in hostvars:
        return hostvars[name]
    return yaml.safe_load((ROOT / "roles/traefik/defaults/main.yml").read_text())[name]


def test_site_applies_hardening_before_anything_else():
    plays = yaml.safe_load((ROOT / "playbooks" / "site.yml").read_text())
    roles = [play["roles"][0]["role"] for play in plays if play.get("roles")]
    assert roles[0] == "commandcenter.infra.hardening", roles
    assert roles.index("commandcenter.infra.hardening") < roles.index("commandcenter.infra.docker_host")


def test_the_host_is_hardened(host):
    assert "policy drop" in host.check_output("nft list chain inet commandcenter_firewall input")
    assert host.check_output("sshd -T | grep -i '^passwordauthentication'") == "passwordauthentication no"
    assert host.check_output("sysctl -n net.ipv4.ip_forward") == "1"
    assert host.service("fail2ban").is_running


def test_edge_answers_from_outside_and_other_published_ports_do_not(host):
    address = platform_address()
    ports = {int(host_var("traefik_http_port")), int(host_var("traefik_https_port"))}
    image = f"{host_var('cc_image_registry')}/commandcenter/toolbox:trixie"
    host.run("docker rm -f cc-unlisted >/dev/null 2>&1")
    host.run_expect([0], f"docker run -d --name cc-unlisted -p 0.0.0.0:18081:8080 {image} python3 -m http.server 8080")
    try:
        assert http_status_on_host(host, 18081) == "200"  # the container does listen
        edge = {port: tcp_state(address, port) for port in sorted(ports)}
        deadline = time.monotonic() + 10
        unlisted = tcp_state(address, 18081)
        while unlisted == "open" and time.monotonic() < deadline:
            time.sleep(1)
            unlisted = tcp_state(address, 18081)
        print(f"from outside the host: Traefik {edge}; a container published on 0.0.0.0:18081: {unlisted}")
        assert all(state == "open" for state in edge.values()), edge
        assert unlisted == "timeout", f"0.0.0.0:18081 is {unlisted} from outside"
    finally:
        host.run("docker rm -f cc-unlisted")
