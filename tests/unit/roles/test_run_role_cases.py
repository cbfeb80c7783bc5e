# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright (c) 2026, CommandCenter platform team
"""split_output_by_host: the batched preflight cases (run_role_cases) are only as good as the
split of one run's output into the output of each case: no line of one case may reach another's."""
from __future__ import annotations

from conftest import split_output_by_host, step_tasks

# The default callback over three hosts (trimmed from a real run): case1 fails argument_specs,
# case2 and case0 fail preflight, each with the [ERROR] block printed before its result.
OUTPUT = """\
[WARNING]: a warning of no host

PLAY [Preflight probe] *********************************************************

TASK [Gathering Facts] *********************************************************
ok: [case1]
ok: [case0]
ok: [case2]

TASK [commandcenter.infra.redis : Validating arguments against arg spec 'main'] ***
ok: [case2]
ok: [case0]
[ERROR]: Task failed: Action failed: Validation of arguments failed:
argument 'redis_port' is of type str and we were unable to convert to int
fatal: [case1]: FAILED! =>
    changed: false
    msg: |-
        Validation of arguments failed: redis_port

TASK [Check the Redis inputs, every problem reported together] *****************
included: commandcenter.infra.stack for case2, case0

TASK [commandcenter.infra.stack : Assert the inputs are usable for redis] ******
[ERROR]: Task failed: Action failed: redis: 1 input problem(s), nothing was changed:
- redis_maxmemory must be a positive size
fatal: [case2]: FAILED! =>
    msg: |-
        - redis_maxmemory must be a positive size
[ERROR]: Task failed: Action failed: redis: 1 input problem(s), nothing was changed:
- redis_app_password: not set
fatal: [case0]: FAILED! =>
    msg: |-
        - redis_app_password: not set

TASK [commandcenter.infra.redis : Ensure the Redis directories exist] **********
ok: [case2]

PLAY RECAP *********************************************************************
case0                      : ok=3    changed=0    unreachable=0    failed=1    skipped=1    rescued=0    ignored=0
case1                      : ok=1    changed=0    unreachable=0    failed=1    skipped=0    rescued=0    ignored=0
case2                      : ok=3    changed=0    unreachable=0    failed=1    skipped=1    rescued=0    ignored=0
"""


def test_each_host_gets_its_own_results_errors_and_recap():
    out = split_output_by_host(OUTPUT, ["case0", "case1", "case2"])
    assert "redis_app_password: not set" in out["case0"]
    assert "redis_maxmemory" not in out["case0"] and "redis_port" not in out["case0"]
    assert "redis_port" in out["case1"] and "not set" not in out["case1"] and "maxmemory" not in out["case1"]
    assert "redis_maxmemory must be a positive size" in out["case2"] and "redis_app_password" not in out["case2"]
    for host in out:
        recaps = [line for line in out[host].splitlines() if ": ok=" in line]
        assert len(recaps) == 1 and recaps[0].startswith(host), out[host]
        assert out[host].count("FAILED!") == 1, out[host]
        assert "a warning of no host" in out[host]


def test_a_task_header_follows_only_the_hosts_that_ran_it():
    out = split_output_by_host(OUTPUT, ["case0", "case1", "case2"])
    assert step_tasks(out["case2"], "redis") == [
        "TASK [commandcenter.infra.redis : Ensure the Redis directories exist] **********"]
    assert step_tasks(out["case0"], "redis") == [] and step_tasks(out["case1"], "redis") == []
    assert "Assert the inputs are usable" not in out["case1"]
    assert "included: commandcenter.infra.stack for case2, case0" in out["case0"]
