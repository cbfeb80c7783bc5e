# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright (c) 2026, CommandCenter platform team
"""Bad input fails before anything changes, with the bad variable's name in the message.

Each case runs the whole role in check mode against this machine (connection
local): argument_specs or preflight must stop it before any task of a later
step runs. No Docker needed.
"""
from __future__ import annotations

import subprocess

import pytest
from conftest import assert_numbers_as_strings_pass, assert_preflight_passed, assert_refused_before_change, run_role

# Runs ansible-playbook: `make unit` runs it, the pre-commit hook leaves it out.
pytestmark = pytest.mark.playbook

CASES = [
    ("docker_host", {"docker_host_package_source": "podman"},
     ["docker_host_package_source", "upstream, distro"]),
    ("docker_host", {"docker_host_log_max_file": "many"}, ["docker_host_log_max_file", "int"]),
    ("docker_host", {"docker_host_daemon_options": ["log-level", "debug"]}, ["docker_host_daemon_options", "dict"]),
    ("docker_host", {"docker_host_log_max_size": "10 megabytes"}, ["docker_host_log_max_size", "10m"]),
    ("docker_host", {"docker_host_networks": ["edge", "bad name"]}, ["docker_host_networks", "bad name"]),
    ("docker_host", {"docker_host_insecure_registries": ["http://registry:5000"]},
     ["docker_host_insecure_registries", "http://registry:5000"]),
    ("docker_host", {"docker_host_service_environment": {"HTTP PROXY": "x"}}, ["docker_host_service_environment"]),
    # Several hosts (a swarm).
    ("docker_host", {"docker_host_swarm_hosts": ["localhost", "peer"], "docker_host_live_restore": True},
     ["docker_host_live_restore must be false on a swarm host"]),
    ("docker_host", {"docker_host_swarm_hosts": ["localhost", "peer"], "docker_host_swarm_advertise_addr": "eth0"},
     ["docker_host_swarm_advertise_addr must be this host's IP address", "got 'eth0'"]),
]


@pytest.mark.parametrize(("role", "role_vars", "expected"), CASES,
                         ids=[f"{c[0]}-{next(iter(c[1]))}" for c in CASES])
def test_bad_input_is_refused_before_any_change(tmp_path, role, role_vars, expected):
    proc = run_role(tmp_path, role, role_vars)
    assert_refused_before_change(proc, role, expected, None)


def test_distro_source_without_known_packages_names_the_variable(tmp_path):
    """Debian 12 ships only Compose v1: distro source needs an explicit package list."""
    facts = subprocess.run(["sh", "-c", ". /etc/os-release; echo $ID-$VERSION_ID"], capture_output=True,
                           text=True, check=True).stdout.strip()
    if facts != "debian-12":
        pytest.skip(f"needs a Debian 12 control machine, this is {facts}")
    proc = run_role(tmp_path, "docker_host", {"docker_host_package_source": "distro"})
    assert proc.returncode != 0
    assert "docker_host_distro_packages" in proc.stdout


def test_good_input_passes_preflight(tmp_path):
    """The defaults pass argument_specs and preflight (preflight only: nothing else is touched)."""
    proc = run_role(tmp_path, "docker_host", {}, "--tags", "docker_host_preflight")
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
    assert_preflight_passed(proc, "docker_host")


def test_every_problem_is_reported_together(tmp_path):
    """Three bad variables: one failure names all three."""
    proc = run_role(tmp_path, "docker_host", {"docker_host_log_max_size": "huge", "docker_host_networks": ["a b"],
                                              "docker_host_service_environment": {"1X": "y"}})
    out = assert_refused_before_change(proc, "docker_host", [
        "docker_host: 3 input problem(s)", "docker_host_log_max_size must look like 10m, 512k or 1g, got huge",
        "docker_host_networks: invalid network name(s) ['a b']", "docker_host_service_environment"])
    assert out.count("FAILED!") == 1


def test_numbers_given_as_strings_pass_preflight(tmp_path):
    """-e docker_host_log_max_file=2 is a string: preflight compares the coerced number, the role goes on."""
    proc = run_role(tmp_path, "docker_host", {}, "-e", "docker_host_log_max_file=2")
    assert_numbers_as_strings_pass(proc, "docker_host")


def test_encrypted_overlays_are_refused_where_the_kernel_has_no_esp4(tmp_path):
    """The preflight reads whether the kernel can do IPsec (esp4 loaded, built in or installed)."""
    probe = subprocess.run(["sh", "-c", "test -d /sys/module/esp4 || grep -qs '/esp4[.]ko' "
                            "\"/lib/modules/$(uname -r)/modules.builtin\" \"/lib/modules/$(uname -r)/modules.dep\""],
                           check=False)
    proc = run_role(tmp_path, "docker_host", {"docker_host_swarm_hosts": ["localhost", "peer"],
                                              "docker_host_swarm_encrypted": True}, "--tags", "docker_host_preflight")
    if probe.returncode == 0:  # this machine's kernel can: the same input passes
        assert_preflight_passed(proc, "docker_host")
    else:
        assert_refused_before_change(proc, "docker_host", ["docker_host_swarm_encrypted", "has no esp4 module"])
