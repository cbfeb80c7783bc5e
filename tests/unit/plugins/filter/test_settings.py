# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright (c) 2026, CommandCenter platform team
import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.commandcenter.infra.plugins.filter.settings import FilterModule, setting_changes

RECORDED = {"redis": {"image": "redis:8.0.2", "mem_limit": "384m", "port": "6379"},
            "redis-exporter": {"image": "exporter:1", "password_file": "0123456789abcdef"}}


def test_no_change_no_message():
    assert setting_changes(RECORDED, {k: dict(v) for k, v in RECORDED.items()}) == []


def test_each_changed_setting_is_named_with_both_values_in_order():
    new = {"redis": {"image": "redis:8.0.3", "mem_limit": "439m", "port": "6379"},
           "redis-exporter": dict(RECORDED["redis-exporter"])}
    assert setting_changes(RECORDED, new) == ["redis: image redis:8.0.2 -> redis:8.0.3",
                                              "redis: mem_limit 384m -> 439m"]


def test_added_and_removed_settings_show_unset():
    new = {"redis": {"image": "redis:8.0.2", "mem_limit": "384m", "maxclients": "100"}}
    assert setting_changes(RECORDED, new) == ["redis: maxclients (unset) -> 100", "redis: port 6379 -> (unset)"]


def test_a_service_not_recorded_is_a_creation_not_a_restart():
    assert setting_changes({}, RECORDED) == []
    assert setting_changes({"redis": RECORDED["redis"]}, RECORDED) == []


def test_values_are_compared_as_given_and_shown_readably():
    assert setting_changes({"s": {"a": "", "b": True, "c": 1}}, {"s": {"a": "x", "b": False, "c": 2}}) == [
        's: a "" -> x', "s: b true -> false", "s: c 1 -> 2"]


@pytest.mark.parametrize("old, new", [([], {}), ({}, "x")])
def test_not_a_mapping_is_an_error(old, new):
    with pytest.raises(AnsibleFilterError, match="must be a mapping"):
        setting_changes(old, new)


def test_registered():
    assert FilterModule().filters()["setting_changes"] is setting_changes
