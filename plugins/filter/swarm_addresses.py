# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright (c) 2026, CommandCenter platform team
"""Jinja2 filter ``swarm_addresses``: the address each host of a swarm advertises.

A host's address is its own ``docker_host_swarm_advertise_addr`` when the inventory sets
one (hostvars hold inventory variables, not another host's role defaults), else the
address of its default route's interface from its gathered facts (the role default).
The docker_host role joins the swarm at the first manager's address; the hardening
role's firewall opens Swarm's ports to the other hosts' addresses. Both read this one
rule.

Documentation for ``ansible-doc -t filter`` lives in the sidecar file ``swarm_addresses.yml``.
"""

from __future__ import annotations

from collections.abc import Mapping

from ansible.errors import AnsibleFilterError

VARIABLE = "docker_host_swarm_advertise_addr"


def swarm_addresses(hostvars, hosts):
    """Inventory host name -> advertise address ('' when neither is known)."""
    if not isinstance(hosts, (list, tuple)):
        raise AnsibleFilterError(f"swarm_addresses: the hosts must be a list, got {type(hosts).__name__}")
    addresses = {}
    for host in hosts:
        # Not hostvars.get(): Ansible's hostvars answers an unknown host with an Undefined.
        host_vars = hostvars[host] if host in hostvars else {}  # noqa: SIM401
        if not isinstance(host_vars, Mapping):
            raise AnsibleFilterError(f"swarm_addresses: no variables for host {host!r}")
        given = host_vars.get(VARIABLE)
        if given:
            addresses[host] = str(given)
            continue
        facts = host_vars.get("ansible_facts") or {}
        default_ipv4 = facts.get("default_ipv4") or {}
        addresses[host] = str(default_ipv4.get("address") or "")
    return addresses


class FilterModule:
    """Docker Swarm addresses."""

    def filters(self):
        return {"swarm_addresses": swarm_addresses}
