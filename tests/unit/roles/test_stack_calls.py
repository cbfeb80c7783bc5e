# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright (c) 2026, CommandCenter platform team
"""Every call of the internal stack role, read from the roles' task files: it names an entry point of the
stack's argument specs, passes only options that entry point documents, and keeps its argument check
switchable (skipped on operators' runs, done in the Molecule role scenarios: molecule/shared/converge.yml)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[3]
SPECS = yaml.safe_load((ROOT / "roles" / "stack" / "meta" / "argument_specs.yml").read_text())["argument_specs"]
SWITCH = "{{ cc_validate_internal_calls | default(false) | bool }}"


def _tasks(node):
    if isinstance(node, list):
        for item in node:
            yield from _tasks(item)
    elif isinstance(node, dict):
        yield node
        for key in ("block", "rescue", "always"):
            if key in node:
                yield from _tasks(node[key])


def _calls():
    for path in sorted((ROOT / "roles").glob("*/tasks/*.yml")):
        if path.parts[-3] == "stack":
            continue
        for task in _tasks(yaml.safe_load(path.read_text()) or []):
            include = task.get("ansible.builtin.include_role") or task.get("ansible.builtin.import_role")
            if isinstance(include, dict) and include.get("name") == "commandcenter.infra.stack":
                yield f"{path.relative_to(ROOT)}: {task.get('name')}", include, task.get("vars") or {}


CALLS = list(_calls())


def test_the_roles_call_the_stack_role():
    assert len(CALLS) >= 18, [call[0] for call in CALLS]


@pytest.mark.parametrize(("name", "include", "variables"), CALLS, ids=[c[0] for c in CALLS])
def test_each_call_passes_only_documented_options_and_keeps_the_switch(name, include, variables):
    entry = include.get("tasks_from", "main")
    assert entry in SPECS, f"{name}: tasks_from {entry} is not an entry point of the stack role"
    options = SPECS[entry].get("options") or {}
    unknown = sorted(key for key in variables if key.startswith("stack_") and key not in options)
    assert not unknown, f"{name}: {unknown} are not options of the stack entry point {entry}"
    required = sorted(key for key, spec in options.items() if spec.get("required") and key not in variables)
    assert not required, f"{name}: the stack entry point {entry} requires {required}"
    assert include.get("rolespec_validate") == SWITCH, (
        f"{name}: an internal call sets rolespec_validate: \"{SWITCH}\" (checked in Molecule, skipped on operators' runs)")


def test_molecule_role_scenarios_check_every_internal_call():
    play = yaml.safe_load((ROOT / "molecule" / "shared" / "converge.yml").read_text())[0]
    assert play["vars"]["cc_validate_internal_calls"] is True
