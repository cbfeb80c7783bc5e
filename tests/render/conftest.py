# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright (c) 2026, CommandCenter platform team
"""Shared helpers of the render tests: checkers that run from the offline images."""
from __future__ import annotations

import subprocess
from pathlib import Path

# Docker CLI + Compose v2 from Debian 13 (images/docker-compose): the host's own
# docker CLI here has no compose plugin.
COMPOSE_IMAGE = "commandcenter/docker-compose:trixie"


def compose_config(project_dir: Path, compose_file: Path | None = None) -> subprocess.CompletedProcess:
    """`docker compose config --quiet` on a rendered project directory, mounted at the same path."""
    project_dir = Path(project_dir).resolve()
    compose_file = Path(compose_file or project_dir / "compose.yml").resolve()
    return subprocess.run(
        ["docker", "run", "--rm", "--network", "none", "-v", f"{project_dir}:{project_dir}:ro",
         COMPOSE_IMAGE, "--project-directory", str(project_dir), "-f", str(compose_file), "config", "--quiet"],
        capture_output=True, text=True, check=False, timeout=120)
