# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright (c) 2026, CommandCenter platform team
"""`make test` runs every Molecule scenario exactly once: the Makefile's LANES default
names each directory under molecule/ that has a molecule.yml in exactly one lane, and the
two site scenarios (default: the whole site on one host; multihost: over three hosts) never
run side by side, where both starve (their load tests then fail requests)."""
from __future__ import annotations

import collections
import os
import re
import subprocess
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
SITE_SCENARIOS = ("default", "multihost")


def lanes_default(makefile: str) -> list[list[tuple[bool, list[str]]]]:
    """The phases of `LANES ?= a b;nice: c | d;e` (backslash continuations joined), each a
    list of lanes as (niced, scenarios): [[(False, [a, b]), (True, [c])], [(False, [d]), (False, [e])]]."""
    text = makefile.replace("\\\n", " ")
    found = re.findall(r"^LANES[ \t]*\?=(.*)$", text, flags=re.MULTILINE)
    assert len(found) == 1, f"expected one `LANES ?=` line in the Makefile, found {len(found)}"
    value = found[0].split("#", 1)[0]
    return [[(lane.strip().startswith("nice:"), lane.strip().removeprefix("nice:").split())
             for lane in phase.split(";") if lane.strip()]
            for phase in value.split("|") if phase.strip()]


def all_lanes() -> list[list[str]]:
    return [lane for phase in lanes_default((ROOT / "Makefile").read_text()) for _niced, lane in phase]


def scenarios() -> set[str]:
    return {path.parent.name for path in (ROOT / "molecule").glob("*/molecule.yml")}


def test_lanes_default_is_parsed():
    assert lanes_default("X := 1\nLANES      ?= default a;b \\\n  c | d;nice: e f # comment\nY ?= 2\n") == [
        [(False, ["default", "a"]), (False, ["b", "c"])], [(False, ["d"]), (True, ["e", "f"])]]


def test_every_scenario_is_in_exactly_one_lane():
    counts = collections.Counter(name for lane in all_lanes() for name in lane)
    missing = sorted(scenarios() - set(counts))
    twice = sorted(name for name, count in counts.items() if count > 1)
    assert not missing and not twice, (
        f"Molecule scenarios in no lane of the Makefile's LANES (add each to the shorter lane): {missing}; "
        f"in more than one lane: {twice}")


def test_lanes_name_only_scenarios():
    # molecule/shared (converge playbook, shared testinfra checks) has no molecule.yml: not a scenario.
    unknown = sorted({name for lane in all_lanes() for name in lane} - scenarios())
    assert not unknown, f"LANES names what is no Molecule scenario (no molecule/<name>/molecule.yml): {unknown}"


def test_the_site_scenarios_run_in_different_phases_at_normal_priority():
    """Each phase runs at most one site scenario, in a lane without `nice:`, so the lanes
    beside it are role scenarios."""
    phases = lanes_default((ROOT / "Makefile").read_text())
    for phase in phases:
        sites = [name for _niced, lane in phase for name in lane if name in SITE_SCENARIOS]
        assert len(sites) <= 1, f"site scenarios side by side in one phase of LANES: {sites}"
        niced_sites = [name for niced, lane in phase for name in lane if niced and name in SITE_SCENARIOS]
        assert not niced_sites, f"a site scenario in a `nice:` lane: {niced_sites}"
    assert {name for lane in all_lanes() for name in lane} >= set(SITE_SCENARIOS)


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


def test_the_second_converge_is_the_shared_one_at_vvv_and_no_step_repeats_lint():
    """No sequence repeats the converge as Molecule's `idempotence` step: the shared test's
    converge at -vvv (after the check-mode run) is the second converge, and it asserts
    changed=0 besides the leak check. Every scenario runs it (it needs no secret)."""
    sequences = {".config": yaml.safe_load((ROOT / ".config" / "molecule" / "config.yml").read_text())}
    for path in (ROOT / "molecule").glob("*/molecule.yml"):
        sequences[path.parent.name] = yaml.safe_load(path.read_text())
    for name, config in sequences.items():
        steps = (config.get("scenario") or {}).get("test_sequence")
        if steps is None:
            continue  # no sequence of its own: the base config's, checked as ".config"
        # `idempotence`: see the docstring; `syntax`: make lint's ansible-lint checks every playbook.
        assert "idempotence" not in steps and "syntax" not in steps, (name, steps)
        assert steps.index("converge") < steps.index("verify"), (name, steps)
    shared = (ROOT / "molecule" / "shared" / "tests" / "test_secrets_not_leaked.py").read_text()
    test = shared.split("def test_second_converge_at_vvv_changes_nothing_and_shows_no_secret", 1)[1].split("\ndef ")[0]
    assert 'converge("-vvv")' in test and "run.changed == 0" in test and "leaks(run.output" in test, test
    assert "@needs_secrets\ndef test_second_converge" not in shared and "pytestmark" not in shared


FAKE_MOLECULE = """#!/bin/bash
# molecule test -s NAME: record start/end, the niceness, and fail for the scenario "broken".
name=$3
echo "start $name $(date +%s.%N) $(nice)" >>"$CC_FAKE_RECORD"
sleep 0.4
echo "end $name $(date +%s.%N)" >>"$CC_FAKE_RECORD"
echo "output of $name"
[ "$name" != broken ]
"""


def run_lanes(tmp_path: Path, spec: str):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "molecule").write_text(FAKE_MOLECULE)
    (bin_dir / "molecule").chmod(0o755)
    record = tmp_path / "record"
    env = dict(os.environ, PATH=f"{bin_dir}:{os.environ['PATH']}", CC_FAKE_RECORD=str(record),
               CC_MOLECULE_LOG_DIR=str(tmp_path / "logs"))
    run = subprocess.run([str(ROOT / "scripts" / "molecule-lanes.sh"), spec], capture_output=True, text=True,
                         env=env, timeout=60, check=False)
    events: dict[str, dict] = {}
    for line in record.read_text().splitlines():
        kind, name, at, *rest = line.split()
        events.setdefault(name, {})[kind] = float(at)
        if rest:
            events[name]["nice"] = int(rest[0])
    return run, events


def test_lanes_script_runs_phases_in_turn_lanes_side_by_side_and_niced(tmp_path):
    run, events = run_lanes(tmp_path, "a b;nice: c | d;nice: e f")
    assert run.returncode == 0, run.stdout + run.stderr
    assert "=== scenarios: 6 passed, 0 failed, of 6" in run.stdout, run.stdout
    # Phase 2 starts when the whole of phase 1 has ended.
    assert min(events[n]["start"] for n in "def") >= max(events[n]["end"] for n in "abc"), events
    # The lanes of a phase run side by side; the scenarios of a lane one after the other.
    assert events["c"]["start"] < events["a"]["end"] and events["e"]["start"] < events["d"]["end"], events
    assert events["b"]["start"] >= events["a"]["end"] and events["f"]["start"] >= events["e"]["end"], events
    base = events["a"]["nice"]
    assert [events[n]["nice"] - base for n in "abcdef"] == [0, 0, 10, 0, 10, 10], events


def test_lanes_script_fails_for_one_failed_scenario_and_prints_its_log(tmp_path):
    run, events = run_lanes(tmp_path, "broken;a | b")
    assert run.returncode == 1
    assert set(events) == {"broken", "a", "b"}, events  # a failure stops no other scenario
    assert "=== molecule scenario broken: failed" in run.stdout and "output of broken" in run.stdout, run.stdout
    assert "=== scenarios: 2 passed, 1 failed, of 3" in run.stdout, run.stdout
