#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright (c) 2026, CommandCenter platform team
"""Write the variables table of each role's README.md from its meta/argument_specs.yml.

The table sits between the markers below; the prose around it is hand-written.
`role_readme.py` rewrites the tables, `role_readme.py --check` exits 1 when one is stale.
"""
from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
BEGIN, END = "<!-- BEGIN VARIABLES (scripts/role_readme.py) -->", "<!-- END VARIABLES -->"


def _cell(value) -> str:
    text = value if isinstance(value, str) else json.dumps(value)
    text = re.sub(r"\b[CIV]\(([^)]*)\)", r"`\1`", text)  # ansible-doc markup to Markdown
    return text.replace("|", "\\|").replace("\n", " ")


def variables_table(role_dir: Path) -> str:
    spec = yaml.safe_load((role_dir / "meta" / "argument_specs.yml").read_text())["argument_specs"]["main"]
    rows = ["| Variable | Type | Default | Description |", "| --- | --- | --- | --- |"]
    for name, opt in spec["options"].items():
        kind = opt["type"] + (f" of {opt['elements']}" if "elements" in opt else "")
        if "choices" in opt:
            kind += " (" + ", ".join(map(str, opt["choices"])) + ")"
        default = "*required*" if opt.get("required") else f"`{_cell(opt.get('default'))}`"
        desc = opt["description"]
        desc = " ".join(desc) if isinstance(desc, list) else desc
        rows.append(f"| `{name}` | {kind} | {default} | {_cell(desc)} |")
    return "\n".join([BEGIN, *rows, END])


def render(readme: str, table: str) -> str:
    if BEGIN in readme and END in readme:
        head, rest = readme.split(BEGIN, 1)
        return head + table + rest.split(END, 1)[1]
    return readme.rstrip("\n") + "\n\n## Variables\n\n" + table + "\n"


def main(argv: list[str]) -> int:
    check = "--check" in argv
    stale = []
    for role_dir in sorted((ROOT / "roles").iterdir()):
        if not (role_dir / "meta" / "argument_specs.yml").exists():
            continue
        path = role_dir / "README.md"
        current = path.read_text() if path.exists() else f"# {role_dir.name}\n"
        wanted = render(current, variables_table(role_dir))
        if wanted != current:
            stale.append(str(path.relative_to(ROOT)))
            if not check:
                path.write_text(wanted)
    if stale:
        print(("stale: " if check else "wrote: ") + ", ".join(stale))
    return 1 if (check and stale) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
