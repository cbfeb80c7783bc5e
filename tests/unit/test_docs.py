# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright (c) 2026, CommandCenter platform team
"""The project explains itself: the README links docs/architecture.md, which covers what a
contributor needs (stack pattern, inventory -> container, networks, health gate, releases,
offline images); no tracked file points a reader at notes outside the repository; every
relative link of the README and the docs resolves."""
from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ARCHITECTURE = ROOT / "docs" / "architecture.md"
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")


def tracked_text_files() -> list[Path]:
    names = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    files = [ROOT / n for n in names.decode().split("\0") if n]
    return [f for f in files if f.is_file() and not f.is_symlink() and b"\0" not in f.read_bytes()[:4096]]


def test_readme_links_the_architecture_doc():
    assert "(docs/architecture.md)" in (ROOT / "README.md").read_text()
    assert ARCHITECTURE.is_file()


@pytest.mark.parametrize("heading", ["From inventory to running container", "The stack pattern", "Networks",
                                     "The health gate", "Application releases", "Offline images"])
def test_the_architecture_doc_covers(heading):
    headings = [line.lstrip("# ").strip() for line in ARCHITECTURE.read_text().splitlines() if line.startswith("## ")]
    assert any(h.startswith(heading) for h in headings), f"docs/architecture.md has no section '{heading}': {headings}"


def test_no_file_points_outside_the_repository_for_its_explanation():
    outside = re.compile(r"(?<!\.\./)\.\./shared/|\b(DESIGN|ENVIRONMENT|STYLE)\.md\b|SEED-infrastructure")
    found = [f"{f.relative_to(ROOT)}:{n}" for f in tracked_text_files() if f != Path(__file__)
             for n, line in enumerate(f.read_text(errors="replace").splitlines(), 1) if outside.search(line)]
    assert not found, f"references to notes outside the repository: {found}"


@pytest.mark.parametrize("doc", ["README.md", "CONTRIBUTING.md", "docs/architecture.md"])
def test_relative_links_resolve(doc):
    path = ROOT / doc
    broken = [t for t in LINK.findall(path.read_text()) if "://" not in t and not t.startswith("mailto:")
              and not (path.parent / t).exists()]
    assert not broken, f"{doc}: links to missing files {broken}"
