# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright (c) 2026, CommandCenter platform team
"""Every role's meta/argument_specs.yml mirrors its defaults/main.yml key for key."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[3]
ROLES = sorted(p.name for p in (ROOT / "roles").iterdir() if (p / "tasks" / "main.yml").exists())
TYPES = {"str": str, "int": int, "bool": bool, "list": list, "dict": dict, "float": (int, float), "path": str,
         "raw": object}


def load(role: str, rel: str):
    return yaml.safe_load((ROOT / "roles" / role / rel).read_text()) or {}


def test_there_are_roles():
    assert "docker_host" in ROLES


@pytest.mark.parametrize("role", ROLES)
def test_argument_specs_mirror_defaults(role):
    defaults = load(role, "defaults/main.yml")
    options = load(role, "meta/argument_specs.yml")["argument_specs"]["main"]["options"]
    assert sorted(options) == sorted(defaults), (
        f"{role}: only in defaults: {sorted(set(defaults) - set(options))}; "
        f"only in argument_specs: {sorted(set(options) - set(defaults))}")
    for name, spec in options.items():
        assert name.startswith(f"{role}_"), f"{role}: public variable {name} lacks the role prefix"
        assert spec.get("description"), f"{role}: {name} has no description"
        assert "type" in spec, f"{role}: {name} has no type"
        assert spec.get("default") == defaults[name], f"{role}: {name}: argument_specs default differs from defaults/main.yml"
        if not (isinstance(defaults[name], str) and "{{" in defaults[name]):
            assert isinstance(defaults[name], TYPES[spec["type"]]), f"{role}: {name} default is not a {spec['type']}"
        if "choices" in spec:
            assert defaults[name] in spec["choices"], f"{role}: {name} default is not one of its choices"


@pytest.mark.parametrize("role", ROLES)
def test_internal_variables_are_prefixed(role):
    for rel in ("vars",):
        for path in sorted((ROOT / "roles" / role / rel).glob("*.yml")):
            for name in yaml.safe_load(path.read_text()) or {}:
                assert name.startswith(f"_{role}_"), f"{path.relative_to(ROOT)}: {name} must be _{role}_*"


@pytest.mark.parametrize("role", ROLES)
def test_readme_documents_every_variable(role):
    readme = (ROOT / "roles" / role / "README.md").read_text()
    options = load(role, "meta/argument_specs.yml")["argument_specs"]["main"]["options"]
    missing = [name for name in options if f"`{name}`" not in readme]
    assert not missing, f"roles/{role}/README.md does not document {missing}"


def test_readme_tables_are_current():
    import subprocess
    import sys
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "role_readme.py"), "--check"],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0, f"run scripts/role_readme.py: {proc.stdout}{proc.stderr}"
