# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright (c) 2026, CommandCenter platform team
"""The collection builds, ships without test material, installs and documents itself."""
from __future__ import annotations

import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

# Runs ansible-playbook: `make unit` runs it, the pre-commit hook leaves it out.
pytestmark = pytest.mark.playbook

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
NOT_SHIPPED = ("tests/", "molecule/", "images/", "collections/", ".ci/", ".venv/", ".config/", "scripts/",
               "inventories/", "ansible.cfg", "Makefile")


@pytest.fixture(scope="module")
def tarball(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("build")
    subprocess.run([str(BIN / "ansible-galaxy"), "collection", "build", "--output-path", str(out), str(ROOT)],
                   check=True, capture_output=True, text=True, cwd=ROOT)
    (built,) = out.glob("commandcenter-infra-*.tar.gz")
    return built


def test_tarball_holds_the_collection_without_test_material(tarball):
    with tarfile.open(tarball) as tar:
        names = tar.getnames()
    assert "roles/docker_host/tasks/main.yml" in names
    assert "meta/runtime.yml" in names and "MANIFEST.json" in names
    leaked = [n for n in names if n.startswith(NOT_SHIPPED) or "__pycache__" in n or "/.pytest_cache" in n]
    assert not leaked, leaked


def test_installed_tarball_is_listed_by_ansible_doc(tarball, tmp_path):
    colls = tmp_path / "collections"
    # An empty configuration and an empty collections path: the installed copy only, not this checkout.
    cfg = tmp_path / "ansible.cfg"
    cfg.write_text("[defaults]\n")
    env = {**os.environ, "ANSIBLE_COLLECTIONS_PATH": str(colls), "ANSIBLE_CONFIG": str(cfg)}
    subprocess.run([str(BIN / "ansible-galaxy"), "collection", "install", "--no-deps", "-p", str(colls),
                    str(tarball)], check=True, capture_output=True, text=True, env=env, cwd=tmp_path)
    roles = subprocess.run([str(BIN / "ansible-doc"), "-t", "role", "-l", "commandcenter.infra"],
                           check=True, capture_output=True, text=True, env=env, cwd=tmp_path)
    assert "commandcenter.infra.docker_host" in roles.stdout
    spec = subprocess.run([str(BIN / "ansible-doc"), "-t", "role", "commandcenter.infra.docker_host"],
                          check=True, capture_output=True, text=True, env=env, cwd=tmp_path)
    assert "docker_host_package_source" in spec.stdout
    modules = subprocess.run([str(BIN / "ansible-doc"), "-l", "commandcenter.infra"],
                             check=True, capture_output=True, text=True, env=env, cwd=tmp_path)
    assert "commandcenter.infra.compose_health" in modules.stdout
