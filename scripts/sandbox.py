#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright (c) 2026, CommandCenter platform team
"""The local sandbox host of `make demo`: a systemd container with its own Docker engine.

It is the host `cc-sandbox` of inventories/local, so the demo converges with exactly
the operator's inventory and playbook (ansible-playbook -i inventories/local ...).
The container options are read from the Molecule base config's platform
(.config/molecule/config.yml), the one place that says how such a host runs here.

Usage: scripts/sandbox.py up | down | status
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
NAME = "cc-sandbox"
# A named volume for the nested engine's /var/lib/docker (overlay2 needs a real file
# system); it lives as long as the sandbox, `down` removes both.
VOLUME = f"{NAME}-docker"


def platform() -> dict:
    config = yaml.safe_load((ROOT / ".config/molecule/config.yml").read_text())
    return config["platforms"][0]


def run_args(spec: dict) -> list[str]:
    """`docker run` arguments equivalent to the Molecule docker driver's for this platform."""
    args = ["docker", "run", "-d", "--name", NAME, "--hostname", NAME]
    args += [f"--cap-add={cap}" for cap in spec.get("capabilities", [])]
    args += [f"--security-opt={opt}" for opt in spec.get("security_opts", [])]
    args += [f"--tmpfs={path}" for path in spec.get("tmpfs", [])]
    for volume in spec.get("volumes", []):
        # The platform's anonymous /var/lib/docker becomes the sandbox's named volume.
        args += ["-v", f"{VOLUME}:{volume}" if ":" not in volume else volume]
    if spec.get("cgroupns_mode"):
        args.append(f"--cgroupns={spec['cgroupns_mode']}")
    args += [spec["image"], *spec["command"].split()]
    return args


def state() -> str:
    proc = subprocess.run(["docker", "inspect", "--format", "{{json .State}}", NAME],
                          capture_output=True, text=True, check=False)
    return json.loads(proc.stdout).get("Status", "") if proc.returncode == 0 else "absent"


def up() -> None:
    current = state()
    if current == "running":
        print(f"sandbox: {NAME} is running")
        return
    if current != "absent":
        subprocess.run(["docker", "start", NAME], check=True, stdout=subprocess.DEVNULL)
        print(f"sandbox: {NAME} started again")
        return
    subprocess.run(run_args(platform()), check=True, stdout=subprocess.DEVNULL)
    print(f"sandbox: {NAME} created from {platform()['image']}")


def down() -> None:
    subprocess.run(["docker", "rm", "-f", "-v", NAME], check=False, capture_output=True)
    subprocess.run(["docker", "volume", "rm", "-f", VOLUME], check=False, capture_output=True)
    print(f"sandbox: {NAME} and its engine's volume removed "
          "(inventories/local/.secrets/ is kept; delete it to start over with new secrets)")


def main(argv: list[str]) -> int:
    actions = {"up": up, "down": down, "status": lambda: print(f"sandbox: {NAME} {state()}")}
    if len(argv) != 2 or argv[1] not in actions:
        print(__doc__.strip().splitlines()[-1], file=sys.stderr)
        return 2
    actions[argv[1]]()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
