# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright (c) 2026, CommandCenter platform team
"""`make test` runs every Molecule scenario exactly once: the Makefile's LANES default
names each directory under molecule/ that has a molecule.yml in exactly one lane, except
the scenarios NOT_IN_MAKE_TEST names with the reason (run by hand until make test has room)."""
from __future__ import annotations

import collections
import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
# Scenarios make test does not run yet, and why. Each is still run with
# `make molecule SCENARIO=<name>`; an entry goes once the suite has room for it.
NOT_IN_MAKE_TEST = {
    "multihost": "the site over three hosts takes about 25 minutes of both cores alone; beside another lane both "
                 "starve (measured: its rolling upgrade failed 7284 of 11136 requests, the default scenario's load "
                 "test 5447), so it must run alone, which puts make test past its 60-minute budget",
}


def lanes_default(makefile: str) -> list[list[str]]:
    """The lanes of `LANES ?= a b;c d` (backslash continuations joined): [[a, b], [c, d]]."""
    text = makefile.replace("\\\n", " ")
    found = re.findall(r"^LANES[ \t]*\?=(.*)$", text, flags=re.MULTILINE)
    assert len(found) == 1, f"expected one `LANES ?=` line in the Makefile, found {len(found)}"
    value = found[0].split("#", 1)[0]
    return [lane.split() for lane in value.split(";") if lane.strip()]


def scenarios() -> set[str]:
    return {path.parent.name for path in (ROOT / "molecule").glob("*/molecule.yml")}


def test_lanes_default_is_parsed():
    assert lanes_default("X := 1\nLANES      ?= default a;b \\\n  c # comment\nY ?= 2\n") == [
        ["default", "a"], ["b", "c"]]


def test_every_scenario_is_in_exactly_one_lane():
    lanes = lanes_default((ROOT / "Makefile").read_text())
    counts = collections.Counter(name for lane in lanes for name in lane)
    missing = sorted(scenarios() - set(counts) - set(NOT_IN_MAKE_TEST))
    twice = sorted(name for name, count in counts.items() if count > 1)
    for name, why in NOT_IN_MAKE_TEST.items():
        print(f"NOT RUN by make test: molecule/{name} ({why})")
    assert not missing and not twice, (
        f"Molecule scenarios in no lane of the Makefile's LANES (add each to the shorter lane): {missing}; "
        f"in more than one lane: {twice}")


def test_lanes_name_only_scenarios():
    lanes = lanes_default((ROOT / "Makefile").read_text())
    # molecule/shared (converge playbook, shared testinfra checks) has no molecule.yml: not a scenario.
    unknown = sorted({name for lane in lanes for name in lane} - scenarios())
    assert not unknown, f"LANES names what is no Molecule scenario (no molecule/<name>/molecule.yml): {unknown}"


def test_the_scenarios_left_out_exist_and_are_left_out():
    """An entry of NOT_IN_MAKE_TEST is a scenario that exists and is in no lane (else it goes)."""
    lanes = {name for lane in lanes_default((ROOT / "Makefile").read_text()) for name in lane}
    assert set(NOT_IN_MAKE_TEST) <= scenarios() - lanes, (set(NOT_IN_MAKE_TEST), lanes)


def test_the_fresh_host_check_runs_once_for_every_role_and_on_debian_12():
    """`--check` on a never-converged host (a CI preview of a new host) runs in the whole site's
    scenario (every role, before its converge) and on Debian 12; the role scenarios do not repeat
    it (their converged host is checked by shared/tests/test_check_mode.py)."""
    def sequence(path: Path) -> list[str]:
        return yaml.safe_load(path.read_text())["scenario"]["test_sequence"]

    for name in ("default", "bookworm"):
        steps = sequence(ROOT / "molecule" / name / "molecule.yml")
        assert "check" in steps and steps.index("check") < steps.index("converge"), (name, steps)
    assert "check" not in sequence(ROOT / ".config" / "molecule" / "config.yml")
    assert (ROOT / "molecule" / "shared" / "tests" / "test_check_mode.py").is_file()
