# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright (c) 2026, CommandCenter platform team
"""Helpers for role tests that run ansible-playbook on this machine (connection local, no Docker)."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]


def run_play(tmp_path: Path, play: dict, *args: str, inventory: str = "localhost,",
             timeout: int = 300) -> subprocess.CompletedProcess:
    """Run one play in check mode against localhost, or the hosts of `inventory` (connection local, this Python)."""
    playbook = tmp_path / "play.yml"
    playbook.write_text(json.dumps([play]))
    env = {**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"), "ANSIBLE_FORCE_COLOR": "0",
           "ANSIBLE_NOCOLOR": "1"}
    return subprocess.run(
        [str(Path(sys.executable).parent / "ansible-playbook"), "-i", inventory, "-c", "local", "--check",
         "-e", f"ansible_python_interpreter={sys.executable}", *args, str(playbook)],
        capture_output=True, text=True, check=False, cwd=ROOT, env=env, timeout=timeout)


def role_play(role: str, role_vars: dict | None = None) -> dict:
    """The play that runs the whole role (facts gathered), with these role variables."""
    return {"name": "Preflight probe", "hosts": "all", "gather_facts": True,
            "roles": [{"role": f"commandcenter.infra.{role}", "vars": role_vars or {}}]}


def run_role(tmp_path: Path, role: str, role_vars: dict, *args: str) -> subprocess.CompletedProcess:
    """Run the whole role in check mode against localhost with the given variables."""
    return run_play(tmp_path, role_play(role, role_vars), *args)


def run_tasks(tmp_path: Path, tasks: list, *args: str) -> subprocess.CompletedProcess:
    """Run a play of these tasks (facts gathered) in check mode against localhost."""
    return run_play(tmp_path, {"name": "Tasks probe", "hosts": "all", "gather_facts": True, "tasks": tasks}, *args)


def preflight_assert(role: str) -> str:
    """The header of the task that fails with every problem of the role (the stack role's preflight entry point)."""
    return f"TASK [commandcenter.infra.stack : Assert the inputs are usable for {role}]"


def assert_preflight_passed(proc: subprocess.CompletedProcess, role: str) -> str:
    """The role's preflight ran and found nothing: its one assertion is ok."""
    out = proc.stdout + proc.stderr
    assert preflight_assert(role) in out, out[-3000:]
    result = out.split(preflight_assert(role), 1)[1].split("TASK [", 1)[0]
    assert "ok: [localhost]" in result, out[-3000:]
    return out


# What Jinja says when a string from -e meets a number: none of it may show.
TYPE_ERRORS = ("not supported between instances of", "unsupported operand type", "can only concatenate",
               "must be real number, not str", "TypeError")


def assert_numbers_as_strings_pass(proc: subprocess.CompletedProcess, role: str) -> str:
    """Numeric variables given as strings (-e name=value) pass preflight and the role goes on to its next step
    (a task named "Ensure ..." starts) without a type error anywhere in the run."""
    out = assert_preflight_passed(proc, role)
    assert step_tasks(out, role), f"no step after preflight started:\n{out[-3000:]}"
    errors = [text for text in TYPE_ERRORS if text in out]
    assert not errors, f"type errors {errors}:\n{out[-3000:]}"
    return out


def step_tasks(output: str, role: str) -> list[str]:
    """Headers of the role's tasks after preflight that started (those named "Ensure ...")."""
    return [line for line in output.splitlines()
            if line.startswith((f"TASK [commandcenter.infra.{role} : Ensure", "TASK [Ensure"))]


def assert_refused_before_change(proc: subprocess.CompletedProcess, role: str, expected, secrets=None) -> str:
    """The run failed, its message holds every expected text (white space folded), nothing
    after preflight started, nothing changed, and no secret of `secrets` (variables named
    *password, *secret, *token: name -> value) shows."""
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0, out[-3000:]
    flat = " ".join(out.split())
    for text in expected:
        assert text in flat, f"{text!r} not in the failure:\n{out[-3000:]}"
    assert "changed=0" in out
    assert not step_tasks(out, role), f"tasks ran after bad input: {step_tasks(out, role)}"
    leaked = sorted(name for name, value in (secrets or {}).items()
                    if re.search(r"(password|passwd|secret|token)$", name)
                    and isinstance(value, str) and len(value) >= 8 and value in out)
    assert not leaked, f"the output shows the value of {leaked}"
    return out


# Batched cases: one ansible-playbook run serves every case of a module, each case a host of its own.
_HEADER = re.compile(r"^(PLAY \[|TASK \[|RUNNING HANDLER \[|PLAY RECAP)")
_ENTRY = re.compile(r"^(?:ok|changed|fatal|failed|skipping|unreachable): \[([^\]\s]+)")
_INCLUDED = re.compile(r"^included: .* for (.+)$")
_NOTICE = re.compile(r"^\[(ERROR|WARNING|DEPRECATION WARNING)\]")
_RECAP = re.compile(r"^(\S+)\s+: ok=\d+\s+changed=\d+\s+unreachable=(\d+)\s+failed=(\d+)")


def split_output_by_host(output: str, hosts: list[str]) -> dict[str, str]:
    """One output per host from the default callback's output of a run over several hosts: every block's
    header followed by that host's result lines (an [ERROR] or [WARNING] printed just before a result
    belongs to that result), then its recap line. Lines of no host (before the first play) go to all."""
    per_host: dict[str, list[str]] = {host: [] for host in hosts}
    header: str | None = None
    shown: set[str] = set()        # hosts whose lines already follow the current header
    owners: list[str] = list(hosts)  # the hosts the current line belongs to
    pending: list[str] = []        # an [ERROR]/[WARNING] block waiting for the result it belongs to

    def emit(targets, lines):
        for host in targets:
            if host not in per_host:
                continue
            if header is not None and host not in shown:
                per_host[host].append(header)
                shown.add(host)
            per_host[host].extend(lines)

    for line in output.splitlines():
        if _HEADER.match(line):
            emit(owners, pending)
            pending, header, shown, owners = [], line, set(), []
            continue
        recap = _RECAP.match(line)
        if recap:
            emit([recap.group(1)], [line])
            continue
        entry, included = _ENTRY.match(line), _INCLUDED.match(line)
        if entry or included:
            owners = [entry.group(1)] if entry else [h.strip() for h in included.group(1).split(",")]
            emit(owners, [*pending, line])
            pending = []
        elif _NOTICE.match(line) or pending:
            pending.append(line)
        else:
            emit(owners, [line])
    emit(owners or list(hosts), pending)
    return {host: "\n".join(lines) + "\n" for host, lines in per_host.items()}


def run_role_cases(tmp_path: Path, role: str, cases: dict[str, dict], *args: str) -> dict[str, subprocess.CompletedProcess]:
    """run_role for many cases at once: each case is a host (connection local) whose host variables are the
    case's role variables, so one ansible-playbook run (one start, forks in parallel) serves them all. Each
    case gets its own output (split_output_by_host) and return code (2 when its host failed), as if run alone.
    Host variables rank below role parameters but above role defaults, which is what the cases override."""
    names = {name: f"case{n}" for n, name in enumerate(cases)}
    inventory = tmp_path / "cases.json"
    inventory.write_text(json.dumps({"all": {"hosts": {names[name]: role_vars for name, role_vars in cases.items()}}}))
    proc = run_play(tmp_path, role_play(role), *args, inventory=str(inventory), timeout=900)
    outputs = split_output_by_host(proc.stdout + "\n" + proc.stderr, list(names.values()))
    results = {}
    for name, host in names.items():
        recap = next((m for m in map(_RECAP.match, outputs[host].splitlines()) if m), None)
        failed = recap is None or int(recap.group(2)) > 0 or int(recap.group(3)) > 0
        returncode = (proc.returncode or 2) if failed else 0
        results[name] = subprocess.CompletedProcess(proc.args, returncode, outputs[host], "")
    return results


def batched_refusals(role: str, cases: list, base: dict | None = None):
    """A module fixture: run_role_cases over `cases` (name, role_vars, expected), each case's variables
    over `base`. A module assigns it (`refused = batched_refusals("redis", CASES)`) and its parametrized
    test reads `refused[name]`."""
    @pytest.fixture(scope="module")
    def refused(tmp_path_factory):
        return run_role_cases(tmp_path_factory.mktemp("cases"), role,
                              {name: {**(base or {}), **role_vars} for name, role_vars, _expected in cases})
    return refused
