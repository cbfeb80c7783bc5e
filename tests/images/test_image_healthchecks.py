# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright (c) 2026, CommandCenter platform team
"""CIS Docker Benchmark 4.6: every offline image that runs a long-lived service carries a
HEALTHCHECK; the others are listed in EXEMPT with the reason.

Each built image of images/images.list is inspected (`docker image inspect` ->
.Config.Healthcheck): an image with neither a HEALTHCHECK nor an EXEMPT entry fails, and
so does an exempt image that has one (the list stays honest), or an EXEMPT entry that
names no image of images.list.

Needs the Docker engine and the images `make images` builds.
"""
from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# image (NAME:TAG of images.list) -> why it has no HEALTHCHECK.
EXEMPT = {
    "debian:trixie": "a base root file system (debootstrap, `docker import`) with CMD bash: runs no service",
    "debian:bookworm": "a base root file system (debootstrap, `docker import`) with CMD bash: runs no service",
    "molecule-platform:trixie": (
        "a host stand-in with systemd as PID 1 for Molecule and the sandbox, not a service: what runs in it "
        "(the Docker engine, the stacks) is checked by the scenarios' tests and the health gate"),
    "molecule-platform:bookworm": "the same host stand-in on Debian 12 (see molecule-platform:trixie)",
    "docker-compose:trixie": "a one-shot tool (ENTRYPOINT `docker compose`: render tests run `config` and exit)",
    "toolbox:trixie": "a one-shot client (curl, openssl, jq, python3) run with `docker run --rm`; CMD bash",
    "backup:1.0": (
        "a tool image (CMD `barman --version` exits): the one long-lived thing run from it, the backup role's "
        "WAL streaming loop, is the role's script mounted at /cc/bin, whose healthcheck the role's compose "
        "file defines (`cc_backup.py healthy`); the other uses are one-shot `docker compose run` jobs"),
    "pause:3.10": (
        "does nothing that could fail (sleeps until stopped), as upstream registry.k8s.io/pause: the swarm service "
        "run from it (docker_host's network anchor) is there to hold the overlay networks, which the stacks' own "
        "health gates prove"),
    "haproxy:3.0": (
        "ships no configuration, as upstream (mount one): the port and the URI that answer for health are in "
        "the mounted haproxy.cfg, so no probe fits every use; each service run from it defines its own "
        "(traefik's maintenance responder /healthz, the monitoring role's docker-api-proxy /_ping)"),
}


def images() -> list[str]:
    refs = []
    for line in (ROOT / "images" / "images.list").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            refs.append(line.split()[0])
    return refs


def healthcheck(ref: str) -> dict | None:
    proc = subprocess.run(["docker", "image", "inspect", "--format", "{{json .Config.Healthcheck}}",
                           f"commandcenter/{ref}"], capture_output=True, text=True, check=False)
    if proc.returncode:
        pytest.fail(f"commandcenter/{ref} is not built here: run `make images` ({proc.stderr.strip()})")
    return json.loads(proc.stdout)


def test_every_exemption_names_an_image_of_the_list():
    assert set(EXEMPT) - set(images()) == set()


@pytest.mark.parametrize("ref", images())
def test_image_has_a_healthcheck_or_is_exempt_with_a_reason(ref):
    check = healthcheck(ref)
    test = (check or {}).get("Test") or []
    has_one = bool(test) and test[0] != "NONE"
    if ref in EXEMPT:
        assert not has_one, f"{ref} is exempt ({EXEMPT[ref]}) but has a HEALTHCHECK {test}: drop the exemption"
        assert len(EXEMPT[ref]) > 20, f"{ref}: say why it is exempt"
    else:
        assert has_one, (f"{ref} has no HEALTHCHECK: add one to its Dockerfile (a cheap probe of the service it runs) "
                         "or list it in EXEMPT with the reason")
        assert test[0] in ("CMD", "CMD-SHELL"), test
        # Sensible timing: a timeout no longer than the interval, a start period for the first start.
        interval, timeout = check.get("Interval", 30 * 10**9), check.get("Timeout", 30 * 10**9)
        assert 0 < timeout <= interval <= 60 * 10**9, check
        assert check.get("StartPeriod", 0) > 0, f"{ref}: HEALTHCHECK without --start-period: {check}"
