# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright (c) 2026, CommandCenter platform team
"""The offline image set: built, pushed, incremental, and honouring its contract.

Needs the Docker engine and registry that `make images` starts.
"""
from __future__ import annotations

import json
import subprocess
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
REGISTRY = "localhost:5000"


def images() -> list[tuple[str, str]]:
    rows = []
    for line in (ROOT / "images" / "images.list").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            ref, _directory = line.split()
            rows.append(tuple(ref.split(":", 1)))
    return rows


def docker(*args: str) -> str:
    return subprocess.run(["docker", *args], check=True, capture_output=True, text=True).stdout.strip()


def test_rebuild_with_nothing_changed_builds_nothing():
    proc = subprocess.run([str(ROOT / "images" / "build.sh")], check=True, capture_output=True, text=True)
    assert f"0 built, {len(images())} up to date" in proc.stdout, proc.stdout


@pytest.mark.parametrize(("name", "tag"), images(), ids=[f"{n}:{t}" for n, t in images()])
def test_registry_serves_the_local_image(name, tag):
    request = urllib.request.Request(
        f"http://{REGISTRY}/v2/commandcenter/{name}/manifests/{tag}", method="HEAD",
        headers={"Accept": "application/vnd.docker.distribution.manifest.v2+json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        digest = response.headers["Docker-Content-Digest"]
    assert f"{REGISTRY}/commandcenter/{name}@{digest}" in docker(
        "image", "inspect", "--format", "{{json .RepoDigests}}", f"commandcenter/{name}:{tag}")


def test_platform_image_runs_systemd_without_docker():
    config = json.loads(docker("image", "inspect", "--format", "{{json .Config}}",
                               "commandcenter/molecule-platform:trixie"))
    assert config["Cmd"] == ["/lib/systemd/systemd"]
    assert config["StopSignal"] == "SIGRTMIN+3"
    probe = docker("run", "--rm", "commandcenter/molecule-platform:trixie", "sh", "-c",
                   "command -v dockerd || echo no-dockerd; python3 -c 'print(42)'; command -v sudo; "
                   "systemctl is-enabled proc-sys-rw.service")
    assert probe.splitlines() == ["no-dockerd", "42", "/usr/bin/sudo", "enabled"]


@pytest.mark.parametrize(("args", "expected"), [
    (["version"], "Version:      3.7.15"),  # a subcommand goes to traefik, as upstream
    (["--help"], "Traefik is a modern HTTP reverse proxy"),  # so does a flag
    (["sh", "-c", "echo shell"], "shell"),  # anything else runs as given
])
def test_traefik_entrypoint_behaves_as_upstream(args, expected):
    assert expected in docker("run", "--rm", "commandcenter/traefik:3.7", *args)
