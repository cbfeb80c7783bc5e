# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright (c) 2026, CommandCenter platform team
"""The hardening role's files rendered with its defaults and with custom values.

sshd_config and the firewall table are checked by their own programs (sshd -t, nft -c)
on every converge, where those programs run: the role's file_set validates them before
they land (molecule/hardening). Here: what the text must and must not say, for
variants a converge does not cover. auditd cannot run in a container: its rules are
checked here only.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from conftest import render_variants

VARIANTS = {
    "defaults": (False, {}),
    "custom": (False, {
        "hardening_firewall_ssh_sources": ["10.0.0.0/8", "fd00::/8"],
        "hardening_firewall_allowed_ports": [{"port": 9100, "proto": "tcp"}],
        "hardening_firewall_swarm_peers": ["10.1.0.2", "10.1.0.3", "fd00::3"],
        "hardening_firewall_published_ports": [{"port": 443, "proto": "tcp"}, {"port": 80, "proto": "tcp"},
                                               {"port": 51820, "proto": "udp"}],
        "hardening_ssh_allow_groups": [],
        "hardening_ssh_port": 2222,
        "hardening_ssh_extra_options": ["AllowUsers ops"],
        "hardening_auditd_extra_rules": ["-w /srv/secrets -p wa -k secrets"],
    }),
}
RENDERED = {name: f"{{{{ lookup('ansible.builtin.template', '{template}', template_vars={{'_hardening_nft_marker': 'M'}}) }}}}"
            for name, template in {"firewall.nft": "firewall.nft.j2", "sshd_config": "sshd_config.j2",
                                   "audit.rules": "audit.rules.j2", "modprobe.conf": "modprobe.conf.j2",
                                   "jail.local": "fail2ban.jail.local.j2", "unattended": "unattended-upgrades.j2",
                                   "sysctl.conf": "sysctl.conf.j2", "profile.sh": "profile.sh.j2"}.items()}

# CIS Docker Benchmark 1.1.3 - 1.1.18: Docker's daemon, files and directories audited.
CIS_DOCKER_PATHS = ["/usr/bin/dockerd", "/var/lib/docker", "/etc/docker", "/lib/systemd/system/docker.service",
                    "/lib/systemd/system/docker.socket", "/etc/default/docker", "/etc/docker/daemon.json",
                    "/etc/containerd/config.toml", "/usr/bin/containerd", "/usr/bin/containerd-shim-runc-v2",
                    "/usr/sbin/runc", "/run/containerd/containerd.sock", "/var/run/docker.sock"]


@pytest.fixture(scope="module")
def renders(tmp_path_factory) -> dict[str, Path]:
    return render_variants(tmp_path_factory.mktemp("hardening-render"), "hardening", VARIANTS, RENDERED, [], {})


def text(renders, variant: str, name: str) -> str:
    return (renders[variant] / name).read_text()


def test_firewall_replaces_only_its_own_table(renders):
    nft = text(renders, "defaults", "firewall.nft")
    assert not re.search(r"^\s*flush ruleset", nft, re.MULTILINE)
    assert nft.index("delete table inet commandcenter_firewall") < nft.index("table inet commandcenter_firewall {")
    assert re.search(r"chain input \{\n\s+type filter hook input priority filter; policy drop;", nft)
    assert 'comment "M"' in nft


def test_firewall_drops_published_ports_that_are_not_allowed(renders):
    default = text(renders, "defaults", "firewall.nft")
    assert "ct original proto-dst" not in default  # nothing allowed: every DNAT from outside is dropped
    assert "ct status dnat counter drop" in default
    assert 'iifname { "docker0", "br-*", "docker_gwbridge" } accept' in default
    custom = text(renders, "custom", "firewall.nft")
    assert "ct status dnat meta l4proto tcp ct original proto-dst { 80, 443 } accept" in custom
    assert "ct status dnat meta l4proto udp ct original proto-dst { 51820 } accept" in custom
    assert custom.index("proto-dst { 80, 443 } accept") < custom.index("ct status dnat counter drop")


def test_firewall_opens_swarm_ports_to_the_other_docker_hosts_only(renders):
    assert "2377" not in text(renders, "defaults", "firewall.nft")  # one host: no swarm, no port
    custom = text(renders, "custom", "firewall.nft")
    for family, peers in (("ip", "10.1.0.2, 10.1.0.3"), ("ip6", "fd00::3")):
        assert f"{family} saddr {{ {peers} }} tcp dport {{ 2377, 7946 }} accept" in custom
        assert f"{family} saddr {{ {peers} }} udp dport {{ 4789, 7946 }} accept" in custom
        assert f"{family} saddr {{ {peers} }} meta l4proto esp accept" in custom
    # Accepted before the input chain's final counter (policy drop) and never without a source.
    assert custom.index("dport { 4789, 7946 } accept") < custom.index("tcp dport 2222 accept")
    assert not re.search(r"^\s*(tcp|udp) dport \{ (2377|4789)", custom, re.MULTILINE)


def test_firewall_ssh_rules(renders):
    default = text(renders, "defaults", "firewall.nft")
    assert "tcp dport 22 ct state new add @ssh_flood4 { ip saddr limit rate over 10/minute burst 10 packets } counter drop" in default
    assert "saddr !=" not in default
    custom = text(renders, "custom", "firewall.nft")
    assert "tcp dport 2222 ip saddr != { 10.0.0.0/8 } drop" in custom
    assert "tcp dport 2222 ip6 saddr != { fd00::/8 } drop" in custom
    assert "tcp dport { 9100 } accept" in custom


def test_sshd_config_keys_only_and_modern_algorithms(renders):
    default = text(renders, "defaults", "sshd_config")
    for line in ("PasswordAuthentication no", "KbdInteractiveAuthentication no", "PermitRootLogin prohibit-password",
                 "AllowGroups root sudo", "X11Forwarding no", "AllowTcpForwarding no", "MaxAuthTries 3",
                 "Banner /etc/issue.net", "PermitEmptyPasswords no"):
        assert re.search(rf"^{re.escape(line)}$", default, re.MULTILINE), line
    assert not re.search(r"^Include", default, re.MULTILINE)  # no drop-in can weaken it
    pattern = re.compile(r"^(KexAlgorithms|Ciphers|MACs|HostKeyAlgorithms) (\S+)$", re.MULTILINE)
    algorithms = {m.group(1): m.group(2).split(",") for m in pattern.finditer(default)}
    assert "ssh-rsa" not in algorithms["HostKeyAlgorithms"]
    assert not [a for a in algorithms["Ciphers"] if "cbc" in a or "3des" in a]
    assert all("etm" in mac for mac in algorithms["MACs"])
    assert not [k for k in algorithms["KexAlgorithms"] if "sha1" in k or "nistp" in k]
    custom = text(renders, "custom", "sshd_config")
    assert "AllowGroups" not in custom and "Port 2222" in custom and custom.rstrip().endswith("AllowUsers ops")


def test_audit_rules_cover_the_cis_docker_list(renders):
    rules = text(renders, "defaults", "audit.rules")
    watched = set(re.findall(r"^-w (\S+) ", rules, re.MULTILINE))
    assert set(CIS_DOCKER_PATHS) <= watched, sorted(set(CIS_DOCKER_PATHS) - watched)
    for path in ("/etc/passwd", "/etc/shadow", "/etc/group", "/etc/sudoers", "/etc/sudoers.d"):
        assert path in watched, path
    assert "-w /srv/secrets -p wa -k secrets" in text(renders, "custom", "audit.rules")


def test_module_blacklist_spares_what_docker_needs(renders):
    conf = text(renders, "defaults", "modprobe.conf")
    blocked = set(re.findall(r"^install (\S+) /bin/false$", conf, re.MULTILINE))
    assert {"dccp", "sctp", "usb-storage", "cramfs"} <= blocked
    assert not blocked & {"overlay", "br_netfilter", "vxlan", "esp4", "esp6", "bridge", "veth", "ip_vs"}


def test_sysctl_keeps_forwarding_on(renders):
    conf = text(renders, "defaults", "sysctl.conf")
    assert re.search(r"^net\.ipv4\.ip_forward = 1$", conf, re.MULTILINE)
    assert re.search(r"^net\.ipv4\.conf\.all\.accept_redirects = 0$", conf, re.MULTILINE)
    assert re.search(r"^kernel\.unprivileged_bpf_disabled = 1$", conf, re.MULTILINE)


def test_fail2ban_and_updates(renders):
    jail = text(renders, "defaults", "jail.local")
    assert "backend = systemd" in jail and "banaction = nftables-multiport" in jail and "[sshd]" in jail
    assert "port = 2222" in text(renders, "custom", "jail.local")
    unattended = text(renders, "defaults", "unattended")
    assert 'Unattended-Upgrade::Automatic-Reboot "false";' in unattended
    assert '"docker\\.io$";' in unattended


def test_profile_sets_umask_timeout_and_no_core_dumps(renders):
    profile = text(renders, "defaults", "profile.sh")
    assert "umask 027" in profile and "readonly TMOUT" in profile and "ulimit -c 0" in profile
