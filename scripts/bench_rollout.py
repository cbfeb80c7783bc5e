#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright (c) 2026, CommandCenter platform team
"""Rollout under load, against a plain `docker compose up` recreate (`make bench`).

Needs the default scenario's sandbox converged (`molecule converge -s default`, which
scripts/bench.sh does). Runs 20 requests/s through Traefik to api.DOMAIN/health while:
  1. the app role upgrades v1 -> v2 (molecule converge with the v2 images);
  2. baseline: the same release recreated in place by `docker compose up -d --force-recreate`,
     which is what a hand-written compose deploy does;
then converges back to the inventory's release. Prints figures; asserts nothing.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("MOLECULE_PROJECT_DIRECTORY", str(ROOT))
os.environ.setdefault("MOLECULE_SCENARIO_NAME", "default")
sys.path[:0] = [str(ROOT / "molecule"), str(ROOT / "molecule" / "default" / "tests")]

import yaml  # noqa: E402
from app_client import PLATFORM, Load  # noqa: E402

LOCAL = ROOT / "inventories" / "local" / "group_vars" / "all"
V2 = {"app_backend_image": "{{ cc_image_registry }}/commandcenter/cc-backend:2.0.0",
      "app_frontend_image": "{{ cc_image_registry }}/commandcenter/cc-frontend:2.0.0"}


def on_sandbox(command: str) -> str:
    proc = subprocess.run(["docker", "exec", PLATFORM, "sh", "-c", command], capture_output=True, text=True,
                          check=False)
    if proc.returncode:
        raise RuntimeError(f"{command}: rc {proc.returncode}: {proc.stderr[-2000:]}")
    return proc.stdout.strip()


def converge(extra: dict | None = None) -> float:
    start = time.monotonic()
    # The app play only (its tag), as the tests do: the wall time is the rollout's own.
    cmd = ["molecule", "converge", "-s", "default", "--", "--tags", "app"]
    if extra:
        cmd += ["-e", json.dumps(extra)]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False, cwd=ROOT)
    if proc.returncode:
        raise RuntimeError(f"converge failed:\n{(proc.stdout + proc.stderr)[-3000:]}")
    return time.monotonic() - start


def show(what: str, seconds: float, load: dict) -> None:
    print(f"{what}: wall {seconds:.1f} s; requests {load['requests']} at {load['rate']}/s over {load['seconds']} s, "
          f"failed {load['failed']}, p50 {load['p50_ms']} ms, p99 {load['p99_ms']} ms, max {load['max_ms']} ms, "
          f"versions {json.dumps(load['versions'])}", flush=True)


def main() -> None:
    variables = {}
    for name in ("main.yml", "traefik.yml"):
        variables.update(yaml.safe_load((LOCAL / name).read_text()))
    toolbox = f"{variables['cc_image_registry']}/commandcenter/toolbox:trixie"
    domain = variables["traefik_domain"]

    with Load(on_sandbox, domain, toolbox) as load:
        seconds = converge(V2)
        result = load.stop()
    show("app rollout v1 -> v2 (health-gated, blue/green)", seconds, result)

    project = next(p for p in on_sandbox(
        "docker ps --format '{{.Label \"com.docker.compose.project\"}}'").split() if p.startswith("cc-app-"))
    release_dir = f"/opt/commandcenter/app/releases/{project.removeprefix('cc-app-')}"
    with Load(on_sandbox, domain, toolbox) as load:
        start = time.monotonic()
        on_sandbox(f"cd {release_dir} && docker compose -p {project} up -d --force-recreate --wait "
                   "backend frontend worker flower >/dev/null 2>&1")
        seconds = time.monotonic() - start
        result = load.stop()
    show("baseline: docker compose up -d --force-recreate (same release, in place)", seconds, result)

    seconds = converge()
    print(f"back to the inventory's release (rollout v2 -> v1, no load): wall {seconds:.1f} s", flush=True)


if __name__ == "__main__":
    main()
