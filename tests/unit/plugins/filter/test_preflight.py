# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright (c) 2026, CommandCenter platform team
"""preflight_problems: the messages of the failed checks, all of them, in order."""
import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.commandcenter.infra.plugins.filter.preflight import FilterModule, preflight_problems
from ansible_collections.commandcenter.infra.plugins.filter.secrets import secret_problems


def test_returns_the_messages_of_the_bad_checks_in_order():
    checks = [{"bad": True, "msg": "redis_port must be 1-65535, got 0"},
              {"bad": False, "msg": "never shown"},
              {"bad": True, "msg": "redis_maxmemory must be a positive size, got lots"}]
    assert preflight_problems(checks) == ["redis_port must be 1-65535, got 0",
                                          "redis_maxmemory must be a positive size, got lots"]


def test_good_checks_give_no_problem():
    assert preflight_problems([{"bad": False, "msg": "x"}]) == []
    assert preflight_problems([]) == []


def test_lists_of_messages_are_merged_as_they_are():
    """secret_problems' result is an item of the same list: its problems are reported with the others."""
    checks = [secret_problems({"redis_app_password": "", "redis_monitor_password": "Zq4Lw8Xe2Rn6Tb0Vy3Mk"}),
              {"bad": True, "msg": "redis_port must be 1-65535, got 0"}, []]
    assert preflight_problems(checks) == ["redis_app_password: not set (define it in the inventory's vault)",
                                          "redis_port must be 1-65535, got 0"]


def test_prefix_names_the_role_in_collect_mode():
    checks = [["nats_app_password: not set"], {"bad": True, "msg": " nats_uid: the container must not run as root "}]
    assert preflight_problems(checks, prefix="nats: ") == ["nats: nats_app_password: not set",
                                                           "nats: nats_uid: the container must not run as root"]


@pytest.mark.parametrize("bad", ["False", "true", 1, 0, None, [], "yes"])
def test_bad_must_be_a_real_boolean(bad):
    """A string "False" is truthy: a check that does not evaluate to a boolean is a mistake, not a pass or a fail."""
    with pytest.raises(AnsibleFilterError, match="bad must be a boolean"):
        preflight_problems([{"bad": bad, "msg": "redis_port ..."}])


@pytest.mark.parametrize(("checks", "error"), [
    ("redis_port", "expects a list of checks"),
    ({"bad": True, "msg": "x"}, "expects a list of checks"),
    ([{"msg": "x"}], "needs the keys bad and msg"),
    ([{"bad": True}], "needs the keys bad and msg"),
    ([{"bad": True, "msg": 3}], "msg must be a string"),
    (["a plain string"], "must be a check"),
    ([42], "must be a check"),
    ([[1]], "msg must be a string"),
])
def test_malformed_checks_are_errors(checks, error):
    with pytest.raises(AnsibleFilterError, match=error):
        preflight_problems(checks)


def test_filter_is_registered():
    assert FilterModule().filters()["preflight_problems"] is preflight_problems
