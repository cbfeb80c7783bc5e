# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright (c) 2026, CommandCenter platform team
"""docs/runbook.md is what every alert's runbook_url points at (monitoring_runbook_url,
"#", the alert name in lower case): exactly one `## <AlertName>` section per alert of the
monitoring role's rule files, in their order, none for an alert that is gone, each with
its Severity, Impact, Diagnose and Fix parts, and stating the rule's severity label, its
default `for:` and the default of each threshold the rule compares with."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
RUNBOOK = ROOT / "docs" / "runbook.md"
ROLE = ROOT / "roles" / "monitoring"
RULE_FILES = sorted((ROLE / "templates" / "rules").glob("*.yml.j2"))

# The rule files are Jinja templates with [[ ]] expressions and {% %} / {# #} statements.
JINJA_EXPRESSION = re.compile(r"\[\[.*?\]\]")
JINJA_STATEMENT_LINE = re.compile(r"^[ \t]*\{[%#].*?[%#]\}[ \t]*\n", re.MULTILINE)
ALERT_LINE = re.compile(r"^[ \t]*- alert:[ \t]*(\S+)[ \t]*$", re.MULTILINE)
SEVERITY_LABEL = re.compile(r"^[ \t]*severity:[ \t]*[\"']?([\w-]+)[\"']?[ \t]*$", re.MULTILINE)
THRESHOLD_USE = re.compile(r"\bt\.(\w+)")
RUNBOOK_ANCHOR = re.compile(r"runbook_url:[ \t]*\"\[\[ *monitoring_runbook_url *\]\]#([^\"]*)\"")

# An alert's section in the runbook: a `## ` heading of one word (what the alert names
# are; the introduction's headings have several words).
HEADING = re.compile(r"^## (.+?)[ \t]*$")
ALERT_HEADING = re.compile(r"^[A-Za-z][A-Za-z0-9]*$")
SEVERITY_STATED = re.compile(r"^\*\*Severity:\*\*[ \t]*([\w-]+)", re.MULTILINE)
PARTS = ("**Severity:**", "**Impact:**", "**Diagnose:**", "**Fix")


def strip_jinja(text: str) -> str:
    return JINJA_EXPRESSION.sub("0", JINJA_STATEMENT_LINE.sub("", text))


def parse_rule_file(path: Path) -> list[dict]:
    """The alerts of one rule file, in order: name, severity label, the threshold keys
    (`t.<key>`) and the runbook anchor, each from the text between its `- alert:` line
    and the next one."""
    text = path.read_text()
    starts = list(ALERT_LINE.finditer(text))
    alerts = []
    for index, start in enumerate(starts):
        end = starts[index + 1].start() if index + 1 < len(starts) else len(text)
        chunk = text[start.start():end]
        severities = SEVERITY_LABEL.findall(strip_jinja(chunk))
        anchors = RUNBOOK_ANCHOR.findall(chunk)
        alerts.append({"name": start.group(1), "file": path.name,
                       "severity": severities[0] if len(severities) == 1 else None,
                       "thresholds": sorted(set(THRESHOLD_USE.findall(chunk))),
                       "anchor": anchors[0] if len(anchors) == 1 else None})
    return alerts


ALERTS = [alert for path in RULE_FILES for alert in parse_rule_file(path)]
ALERT_NAMES = [alert["name"] for alert in ALERTS]
ROLE_VARS = yaml.safe_load((ROLE / "vars" / "main.yml").read_text())
FOR_DEFAULTS = ROLE_VARS["_monitoring_alert_for_defaults"]
THRESHOLD_DEFAULTS = ROLE_VARS["_monitoring_alert_threshold_defaults"]


def runbook_sections() -> list[tuple[str, str]]:
    """Every `## ` heading of the runbook outside code blocks, with its text up to the
    next heading of level 1 or 2."""
    sections: list[tuple[str, list[str]]] = []
    in_code = False
    for line in RUNBOOK.read_text().splitlines():
        if line.lstrip().startswith("```"):
            in_code = not in_code
        heading = None if in_code else HEADING.match(line)
        if heading:
            sections.append((heading.group(1), []))
        elif not in_code and line.startswith("# "):
            sections.append(("", []))
        elif sections:
            sections[-1][1].append(line)
    return [(title, "\n".join(body)) for title, body in sections if title]


def alert_sections() -> list[tuple[str, str]]:
    return [(title, body) for title, body in runbook_sections() if ALERT_HEADING.match(title)]


def section_of(name: str) -> str:
    bodies = [body for title, body in alert_sections() if title == name]
    assert len(bodies) == 1, f"docs/runbook.md has {len(bodies)} sections '## {name}', not exactly one"
    return bodies[0]


def test_the_rule_files_hold_alerts():
    assert RULE_FILES, "no rule file in roles/monitoring/templates/rules/"
    assert len(ALERT_NAMES) == len(set(ALERT_NAMES)), f"an alert name repeats: {ALERT_NAMES}"


@pytest.mark.parametrize("path", RULE_FILES, ids=lambda path: path.name)
def test_the_alert_lines_are_every_rule_of_the_file(path):
    """The regex sees what YAML sees once the Jinja is stripped: no alert written in
    another style is missed, and every severity is read right."""
    document = yaml.safe_load(strip_jinja(path.read_text()))
    rules = [(rule["alert"], rule["labels"]["severity"])
             for group in document["groups"] for rule in group["rules"] if "alert" in rule]
    assert [(alert["name"], alert["severity"]) for alert in parse_rule_file(path)] == rules


def test_the_default_runbook_url_is_this_file():
    defaults = yaml.safe_load((ROLE / "defaults" / "main.yml").read_text())
    assert defaults["monitoring_runbook_url"].endswith("/docs/runbook.md")
    assert RUNBOOK.is_file(), "docs/runbook.md is missing: every alert's runbook_url points at it"


@pytest.mark.parametrize("alert", ALERTS, ids=ALERT_NAMES)
def test_every_alert_has_exactly_one_section(alert):
    name = alert["name"]
    section_of(name)
    # GitHub's anchor of a one-word heading is the word in lower case: the rule's link.
    assert alert["anchor"] == name.lower(), f"{alert['file']}: {name}'s runbook_url ends in #{alert['anchor']}"


def test_the_runbook_has_no_section_of_an_alert_that_is_gone():
    stale = [section[0] for section in alert_sections() if section[0] not in ALERT_NAMES]
    assert not stale, f"docs/runbook.md has sections of alerts no rule file defines: {stale}"
    stated = [section[0] for section in runbook_sections() if SEVERITY_STATED.search(section[1])]
    assert sorted(stated) == sorted(ALERT_NAMES), "a section stating a severity is not headed by an alert name"


def test_the_sections_follow_the_rule_files():
    titles = [section[0] for section in alert_sections()]
    assert titles == ALERT_NAMES, "the alert sections are not in the order of the rule files"


@pytest.mark.parametrize("alert", ALERTS, ids=ALERT_NAMES)
def test_each_section_has_its_parts(alert):
    section = section_of(alert["name"])
    missing = [part for part in PARTS if part not in section]
    assert not missing, f"docs/runbook.md: section {alert['name']} lacks {missing}"


@pytest.mark.parametrize("alert", ALERTS, ids=ALERT_NAMES)
def test_each_section_states_the_rule_severity(alert):
    assert alert["severity"], f"{alert['file']}: {alert['name']} has no single severity label"
    stated = SEVERITY_STATED.findall(section_of(alert["name"]))
    assert stated == [alert["severity"]], (
        f"docs/runbook.md: {alert['name']} says severity {stated}, the rule's label is {alert['severity']}")


@pytest.mark.parametrize("alert", ALERTS, ids=ALERT_NAMES)
def test_each_section_states_the_default_for_and_thresholds(alert):
    name = alert["name"]
    section = section_of(name)
    assert name in FOR_DEFAULTS, f"vars/main.yml has no `for:` default of {name}"
    expected = [f"**for:** {FOR_DEFAULTS[name]} (`monitoring_alert_for.{name}`)"]
    expected += [f"{THRESHOLD_DEFAULTS[key]:g} (`monitoring_alert_thresholds.{key}`)" for key in alert["thresholds"]]
    missing = [text for text in expected if text not in section]
    assert not missing, f"docs/runbook.md: section {name} does not state {missing}"


def test_the_runbook_links_resolve():
    """Relative links to files, and #anchors to the runbook's own headings."""
    text = RUNBOOK.read_text()
    anchors = {re.sub(r"[^a-z0-9 _-]", "", section[0].lower()).replace(" ", "-") for section in runbook_sections()}
    links = re.findall(r"\]\(([^)\s]+)\)", text)
    broken = [link for link in links if "://" not in link and (
        link[1:] not in anchors if link.startswith("#") else not (RUNBOOK.parent / link.split("#")[0]).exists())]
    assert not broken, f"docs/runbook.md: broken links {broken}"
