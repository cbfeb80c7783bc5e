# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright (c) 2026, CommandCenter platform team
"""The swarm_addresses filter: the address each host of a swarm advertises."""
from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.commandcenter.infra.plugins.filter.swarm_addresses import swarm_addresses

HOSTVARS = {
    "a": {"ansible_facts": {"default_ipv4": {"address": "10.0.0.1"}}},
    "b": {"docker_host_swarm_advertise_addr": "192.168.5.2", "ansible_facts": {"default_ipv4": {"address": "10.0.0.2"}}},
    "c": {"ansible_facts": {}},
}


def test_inventory_setting_wins_over_the_default_route_address():
    assert swarm_addresses(HOSTVARS, ["a", "b"]) == {"a": "10.0.0.1", "b": "192.168.5.2"}


def test_a_host_without_facts_or_setting_has_no_address():
    assert swarm_addresses(HOSTVARS, ["c", "unknown"]) == {"c": "", "unknown": ""}


def test_hosts_must_be_a_list():
    with pytest.raises(AnsibleFilterError, match="must be a list"):
        swarm_addresses(HOSTVARS, "a")
