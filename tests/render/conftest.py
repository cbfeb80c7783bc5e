# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright (c) 2026, CommandCenter platform team
"""Shared helpers of the render tests: checkers that run from the offline images."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]

# Docker CLI + Compose v2 from Debian 13 (images/docker-compose): the host's own
# docker CLI here has no compose plugin.
COMPOSE_IMAGE = "commandcenter/docker-compose:trixie"
# The per-host HMAC key of the renderings (on a host: /opt/commandcenter/secrets/host.key).
RENDER_HOST_KEY = "render-test-host-key-3f9c2a7b1e6d4c8a"
# Every service's logging with the default sizes: json-file, rotated, each line naming its
# container (tag) and compose project and service (labels) for the log shipper.
JSON_FILE_LOGGING = {"driver": "json-file", "options": {
    "max-size": "10m", "max-file": "3", "tag": "{{.Name}}",
    "labels": "com.docker.compose.project,com.docker.compose.service"}}


def needs_images(*images: str):
    """A skip mark for a module whose checkers run from these images (besides the compose
    image): the reason says what is missing and how to get it. `make test` builds them,
    so there these tests run; only a bare `pytest` run without Docker skips them."""
    problem = None
    if not shutil.which("docker"):
        problem = "no docker CLI on this machine"
    elif subprocess.run(["docker", "info"], capture_output=True, check=False).returncode != 0:
        problem = "the Docker engine is not reachable"
    else:
        for image in (COMPOSE_IMAGE, *images):
            if subprocess.run(["docker", "image", "inspect", image], capture_output=True, check=False).returncode:
                problem = f"image {image} missing: run `make images`"
                break
    return pytest.mark.skipif(problem is not None, reason=str(problem))


def compose_config(project_dir: Path, compose_file: Path | None = None) -> subprocess.CompletedProcess:
    """`docker compose config --quiet` on a rendered project directory, mounted at the same path."""
    project_dir = Path(project_dir).resolve()
    compose_file = Path(compose_file or project_dir / "compose.yml").resolve()
    return subprocess.run(
        ["docker", "run", "--rm", "--network", "none", "-v", f"{project_dir}:{project_dir}:ro",
         COMPOSE_IMAGE, "--project-directory", str(project_dir), "-f", str(compose_file), "config", "--quiet"],
        capture_output=True, text=True, check=False, timeout=120)


def render_variants(tmp: Path, role: str, variants: dict, rendered: dict, local_inventory: list[Path],
                    test_secrets: dict) -> dict[str, Path]:
    """Render a role's files for every variant into <tmp>/<variant>/ with ONE ansible-playbook run (a play each).

    variants: name -> (use the local inventory?, extra variables). rendered: file name -> the Jinja
    expression of its content (e.g. a template lookup). Precedence as in a real run: role defaults,
    then the local inventory or test_secrets, then the variant's variables, then the role's
    vars/main.yml for the internal variables. No facts are gathered. The host key the
    stack role reads on a real host (fact stack_host_key) is RENDER_HOST_KEY, unless a
    variant sets its own.
    """
    role_dir = ROOT / "roles" / role
    (tmp / "templates").symlink_to(role_dir / "templates")  # the play's search path for the lookups
    (tmp / "test-secrets.yml").write_text(yaml.safe_dump(test_secrets))
    (tmp / "host-key.yml").write_text(yaml.safe_dump({"stack_host_key": RENDER_HOST_KEY}))
    plays = []
    for name, (inventory, extra) in variants.items():
        vars_files = [str(role_dir / "defaults" / "main.yml"), str(tmp / "host-key.yml")]
        vars_files += [str(p) for p in local_inventory] if inventory else [str(tmp / "test-secrets.yml")]
        if extra:
            (tmp / f"{name}.yml").write_text(yaml.safe_dump(extra))
            vars_files.append(str(tmp / f"{name}.yml"))
        vars_files.append(str(role_dir / "vars" / "main.yml"))
        plays.append({"name": name, "hosts": "localhost", "gather_facts": False, "vars_files": vars_files,
                      "tasks": [{"name": "Render", "ansible.builtin.debug": {"msg": rendered}}]})
    (tmp / "render.yml").write_text(json.dumps(plays))
    env = {**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1",
           "ANSIBLE_STDOUT_CALLBACK": "ansible.builtin.json", "ANSIBLE_LOAD_CALLBACK_PLUGINS": "1"}
    proc = subprocess.run(
        [str(Path(sys.executable).parent / "ansible-playbook"), "-i", "localhost,", "-c", "local",
         "-e", f"ansible_python_interpreter={sys.executable}", str(tmp / "render.yml")],
        capture_output=True, text=True, check=False, cwd=ROOT, env=env, timeout=300)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
    outs = {}
    for play in json.loads(proc.stdout)["plays"]:
        out = tmp / play["play"]["name"]
        out.mkdir()
        for filename, content in play["tasks"][0]["hosts"]["localhost"]["msg"].items():
            (out / filename).parent.mkdir(parents=True, exist_ok=True)
            (out / filename).write_text(content if isinstance(content, str) else json.dumps(content))
        outs[play["play"]["name"]] = out
    assert sorted(outs) == sorted(variants)
    return outs
