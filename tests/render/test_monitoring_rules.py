# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright (c) 2026, CommandCenter platform team
"""monitoring: the alert rules (roles/monitoring/templates/rules/*.yml.j2), rendered with
the defaults and with every `for:` and the runbook URL changed, checked by promtool.

- `promtool check rules` accepts every rendered file, and refuses each deliberately
  broken file of tests/render/monitoring_rules/broken/ naming the problem;
- `promtool test rules` runs the unit tests of tests/render/monitoring_rules/ (one file
  per rule group) against the rendered defaults;
- every alert has a test where it fires (labels and annotations asserted) and one where
  it must not (the series are there, the condition or its `for:` is not met);
- monitoring_alert_for sets each rule's `for:`, monitoring_runbook_url its runbook_url,
  and the role's list of alert names is the rule files' list.

Needs Docker and the image commandcenter/prometheus:2.53 (`make images`); skipped with
the reason without them.
"""
from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest
import yaml
from conftest import needs_images, render_variants

ROOT = Path(__file__).resolve().parents[2]
ROLE = ROOT / "roles" / "monitoring"
TESTS = Path(__file__).resolve().parent / "monitoring_rules"
BROKEN = TESTS / "broken"
PROMETHEUS_IMAGE = "commandcenter/prometheus:2.53"
RULE_FILES = sorted(p.name.removesuffix(".j2") for p in (ROLE / "templates" / "rules").glob("*.yml.j2"))
RUNBOOK = "https://wiki.example.org/ops/commandcenter-runbook"

pytestmark = needs_images(PROMETHEUS_IMAGE)


def _names() -> list[str]:
    vars_main = yaml.safe_load((ROLE / "vars" / "main.yml").read_text())
    return list(vars_main["_monitoring_alert_for_defaults"])


def _short_for() -> dict[str, str]:
    """Every alert but DiskSpaceCritical (which keeps its default) gets its own short `for:`."""
    return {name: f"{10 + i}s" for i, name in enumerate(_names()) if name != "DiskSpaceCritical"}


# The scrape jobs of an inventory with every group (monitoring_alert_jobs defaults to the
# jobs generated from the inventory; these renderings have none).
ALL_JOBS = ["prometheus", "alertmanager", "backend", "flower", "postgres", "redis", "node", "cadvisor", "traefik",
            "nats", "blackbox"]
# name -> (with inventories/local?, extra variables); the rules need no inventory.
VARIANTS = {
    "defaults": (False, {"monitoring_alert_jobs": ALL_JOBS}),
    "short-for": (False, {"monitoring_alert_for": _short_for(), "monitoring_runbook_url": RUNBOOK,
                          "monitoring_alert_jobs": ALL_JOBS}),
    "overrides": (False, {"monitoring_alert_jobs": ["backend", "flower"],
                          "monitoring_alert_thresholds": {"host_cpu_ratio": 0.95, "celery_queue_length": 500,
                                                          "backup_wal_lag_mib": 512},
                          "monitoring_celery_queues": ["celery", "priority"],
                          "monitoring_celery_beat_task": "myapp.tasks.tick"}),
}
RENDERED = {name: f"{{{{ lookup('ansible.builtin.template', 'rules/{name}.j2') }}}}" for name in RULE_FILES}
RENDERED["vars.json"] = ("{{ {'names': _monitoring_alert_names, 'for': _monitoring_alert_for,"
                         " 'threshold_names': _monitoring_alert_threshold_names,"
                         " 'thresholds': _monitoring_alert_thresholds} | to_json }}")

# The deliberately broken rule files and what promtool must say about each.
BROKEN_EXPECTED = {
    "bad-promql.yml": r'"BadPromql": could not parse expression: .*unclosed left parenthesis',
    "bad-duration.yml": r'unknown unit " minutes" in duration "5 minutes"',
    "duplicate-group.yml": r'groupname: "celery" is repeated in the same file',
    "bad-template.yml": r'"BadTemplate": annotation "summary": template: .*unclosed action',
    "bad-label-name.yml": r'"BadLabelName": invalid label name: alert-severity',
}
# Fires at every evaluation by design: it has no case where it must not fire.
ALWAYS_FIRING = {"Watchdog"}


@pytest.fixture(scope="module")
def renders(tmp_path_factory) -> dict[str, Path]:
    return render_variants(tmp_path_factory.mktemp("monitoring-render"), "monitoring", VARIANTS, RENDERED, [], {})


def promtool(*args: str, mounts: dict[Path, str]) -> subprocess.CompletedProcess:
    """promtool from the offline Prometheus image, with host paths mounted read-only."""
    volumes = [arg for host, inside in mounts.items() for arg in ("-v", f"{host}:{inside}:ro")]
    return subprocess.run(["docker", "run", "--rm", "--network", "none", "--user", "65534:65534",
                           "--entrypoint", "/bin/promtool", *volumes, PROMETHEUS_IMAGE, *args],
                          capture_output=True, text=True, check=False, timeout=120)


def rules_of(out: Path) -> dict[str, dict]:
    """alert name -> rule, over every rendered rule file (a name twice is an error)."""
    rules: dict[str, dict] = {}
    for name in RULE_FILES:
        for group in yaml.safe_load((out / name).read_text())["groups"]:
            for rule in group["rules"]:
                assert rule["alert"] not in rules, f"alert {rule['alert']} defined twice"
                rules[rule["alert"]] = rule
    return rules


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_promtool_accepts_the_rendered_rules(renders, variant):
    out = renders[variant]
    proc = promtool("check", "rules", *(f"/rules/{name}" for name in RULE_FILES), mounts={out: "/rules"})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for name in RULE_FILES:
        assert re.search(rf"Checking /rules/{re.escape(name)}\n\s+SUCCESS: \d+ rules found", proc.stdout), proc.stdout


def test_every_broken_fixture_has_its_expected_message():
    assert sorted(p.name for p in BROKEN.glob("*.yml")) == sorted(BROKEN_EXPECTED)


@pytest.mark.parametrize("fixture", sorted(BROKEN_EXPECTED))
def test_promtool_refuses_a_broken_rule_file(fixture):
    proc = promtool("check", "rules", f"/broken/{fixture}", mounts={BROKEN: "/broken"})
    output = proc.stdout + proc.stderr
    assert proc.returncode == 1, output
    assert "FAILED" in output and re.search(BROKEN_EXPECTED[fixture], output), output


def test_there_is_one_test_file_per_rule_file():
    assert sorted(p.name.removesuffix(".test.yml") for p in TESTS.glob("*.test.yml")) == \
        sorted(name.removesuffix(".yml") for name in RULE_FILES)
    for name in RULE_FILES:
        assert yaml.safe_load((TESTS / name.replace(".yml", ".test.yml")).read_text())["rule_files"] == [f"/rules/{name}"]


@pytest.mark.parametrize("test_file", sorted(p.name for p in TESTS.glob("*.test.yml")))
def test_promtool_unit_tests_pass_on_the_defaults(renders, test_file):
    proc = promtool("test", "rules", f"/tests/{test_file}", mounts={renders["defaults"]: "/rules", TESTS: "/tests"})
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0 and "SUCCESS" in output and "FAILED" not in output, output


def coverage(test_docs: dict[str, dict], rules: dict[str, dict]) -> tuple[list[str], list[str], list[str]]:
    """(alerts without a firing case, alerts without a quiet case, incomplete firing cases).

    A firing case expects the alert with every label of the rule (its value too, unless
    templated) and every annotation; a quiet case expects no alert at a time the test
    group's series exist (its condition unmet, or its `for:` not elapsed)."""
    fires: set[str] = set()
    quiet: set[str] = set()
    incomplete: list[str] = []
    for file_name, doc in sorted(test_docs.items()):
        for group in doc["tests"]:
            has_series = bool(group.get("input_series"))
            for case in group.get("alert_rule_test", []):
                name, expected = case["alertname"], case.get("exp_alerts") or []
                if not expected:
                    if has_series:
                        quiet.add(name)
                    continue
                rule = rules.get(name)
                for alert in expected:
                    labels, annotations = alert.get("exp_labels", {}), alert.get("exp_annotations", {})
                    if rule is None or any(k not in labels or ("{{" not in v and labels[k] != v)
                                           for k, v in rule.get("labels", {}).items()) \
                            or not set(rule["annotations"]) <= set(annotations):
                        incomplete.append(f"{file_name}: {name} at {case['eval_time']}")
                        break
                else:
                    fires.add(name)
    return sorted(set(rules) - fires), sorted(set(rules) - quiet - ALWAYS_FIRING), incomplete


def unit_test_docs() -> dict[str, dict]:
    return {p.name: yaml.safe_load(p.read_text()) for p in sorted(TESTS.glob("*.test.yml"))}


def test_every_alert_has_a_firing_and_a_quiet_case(renders):
    no_fire, no_quiet, incomplete = coverage(unit_test_docs(), rules_of(renders["defaults"]))
    assert not incomplete, f"firing cases without the rule's labels and annotations: {incomplete}"
    assert not no_fire, f"alerts without a case where they fire: {no_fire}"
    assert not no_quiet, f"alerts without a case where they must not fire: {no_quiet}"


def test_the_coverage_check_names_what_is_missing(renders):
    """The check above, on the test files with cases taken out, names exactly those alerts."""
    rules = rules_of(renders["defaults"])
    docs = unit_test_docs()
    for group in docs["datastores.test.yml"]["tests"]:        # RedisDown: no quiet case left
        group["alert_rule_test"] = [c for c in group["alert_rule_test"]
                                    if c["alertname"] != "RedisDown" or c.get("exp_alerts")]
    for group in docs["celery.test.yml"]["tests"]:            # CeleryQueueBacklog: no firing case left
        group["alert_rule_test"] = [c for c in group["alert_rule_test"]
                                    if c["alertname"] != "CeleryQueueBacklog" or not c.get("exp_alerts")]
    for group in docs["meta.test.yml"]["tests"]:              # ServiceDown: an annotation not asserted
        for case in group["alert_rule_test"]:
            for alert in case.get("exp_alerts") or []:
                if case["alertname"] == "ServiceDown":
                    del alert["exp_annotations"]["runbook_url"]
    no_fire, no_quiet, incomplete = coverage(docs, rules)
    # ServiceDown's only firing case is incomplete: it counts as none.
    assert (no_fire, no_quiet, incomplete) == (["CeleryQueueBacklog", "ServiceDown"], ["RedisDown"],
                                               ["meta.test.yml: ServiceDown at 4m"])


@pytest.mark.parametrize(("variant", "test_file", "alert"), [
    ("overrides", "host.test.yml", "HighCpuUsage"),
    ("short-for", "meta.test.yml", "ServiceDown"),
])
def test_the_unit_tests_notice_a_changed_rule(renders, variant, test_file, alert):
    """Against rules with another threshold or `for:`, the unit tests fail, naming the alert."""
    proc = promtool("test", "rules", f"/tests/{test_file}", mounts={renders[variant]: "/rules", TESTS: "/tests"})
    output = proc.stdout + proc.stderr
    assert proc.returncode == 1 and "FAILED" in output, output
    assert f"alertname: {alert}," in output, output


def test_the_role_lists_exactly_the_alerts_of_the_rule_files(renders):
    """_monitoring_alert_names is what a preflight checks monitoring_alert_for's keys against."""
    names = json.loads((renders["defaults"] / "vars.json").read_text())["names"]
    assert len(names) == len(set(names))
    assert sorted(names) == sorted(rules_of(renders["defaults"]))
    # Every rule of the platform's assessment (its two tables, HighErrorRate once: rules_of()
    # refuses a name twice) and every rule the monitoring must add to them.
    assessment = {"ServiceDown", "HighRequestLatency", "HighErrorRate", "PostgresqlDown", "PostgresqlTooManyConnections",
                  "RedisDown", "RedisHighMemoryUsage", "HighCpuUsage", "HighMemoryUsage", "DiskSpaceRunningOut",
                  "DiskSpaceCritical", "ContainerHighCpu", "ContainerHighMemory", "DatabasePoolExhausted",
                  "SlowDatabaseQueries", "SlowAPIResponses", "CeleryWorkerDown", "CeleryHighFailureRate",
                  "CeleryQueueBacklog", "DiskSpaceLow"}
    added = {"Watchdog", "TargetMissing", "CertificateExpiringSoon", "ContainerRestarting", "ContainerOOMKilled",
             "CeleryBeatMissing", "PrometheusRuleFailures", "AlertmanagerNotificationsFailing", "EndpointDown"}
    # The backups (the backup role's textfile metrics).
    backup = {"BackupTooOld", "BackupFailed", "WalStreamingStalled", "RestoreDrillFailed", "RestoreDrillTooOld",
              "WalRetentionNearCap"}
    assert len(assessment) == 20 and len(added) == 9 and len(backup) == 6
    assert sorted(names) == sorted(assessment | added | backup)


def test_every_rule_has_severity_and_annotations(renders):
    for name, rule in rules_of(renders["defaults"]).items():
        labels, annotations = rule["labels"], rule["annotations"]
        assert labels.get("service", "x"), name
        assert labels["severity"] in ({"none"} if name in ALWAYS_FIRING else {"critical", "warning"}), name
        assert set(annotations) == {"summary", "description", "runbook_url"}, name
        if name not in ALWAYS_FIRING:
            assert "{{ $value" in annotations["description"] or "{{ $labels" in annotations["description"], name


def test_for_defaults_and_the_shortened_variant(renders):
    defaults = yaml.safe_load((ROLE / "vars" / "main.yml").read_text())["_monitoring_alert_for_defaults"]
    for name, rule in rules_of(renders["defaults"]).items():
        assert rule["for"] == defaults[name], name
    short = _short_for()
    for name, rule in rules_of(renders["short-for"]).items():
        assert rule["for"] == short.get(name, defaults[name]), name
    assert rules_of(renders["short-for"])["DiskSpaceCritical"]["for"] == "1m"   # not overridden: its default
    assert json.loads((renders["short-for"] / "vars.json").read_text())["for"] == {**defaults, **short}


def test_runbook_urls_point_at_an_anchor_per_alert(renders):
    repository = yaml.safe_load((ROOT / "galaxy.yml").read_text())["repository"]
    for variant, base in (("defaults", f"{repository}/blob/main/docs/runbook.md"), ("short-for", RUNBOOK)):
        for name, rule in rules_of(renders[variant]).items():
            assert rule["annotations"]["runbook_url"] == f"{base}#{name.lower()}", (variant, name)


def test_jobs_queues_beat_task_and_thresholds_come_from_the_variables(renders):
    rules = rules_of(renders["overrides"])
    assert rules["TargetMissing"]["expr"] == 'absent(up{job="backend"}) or absent(up{job="flower"})'
    assert rules["HighCpuUsage"]["expr"].endswith("> 0.95")
    assert rules["CeleryQueueBacklog"]["expr"] == 'redis_key_size{key=~"celery|priority"} > 500'
    assert 'task="myapp.tasks.tick"' in rules["CeleryBeatMissing"]["expr"]
    assert "myapp.tasks.tick" in rules["CeleryBeatMissing"]["annotations"]["description"]
    # ... and every other threshold keeps its default
    thresholds = json.loads((renders["overrides"] / "vars.json").read_text())["thresholds"]
    defaults = yaml.safe_load((ROLE / "vars" / "main.yml").read_text())["_monitoring_alert_threshold_defaults"]
    assert thresholds == {**defaults, "host_cpu_ratio": 0.95, "celery_queue_length": 500, "backup_wal_lag_mib": 512}
    assert "cc_backup_wal_streaming_lag_bytes > 536870912," in rules["WalStreamingStalled"]["expr"]
    assert "(threshold 512 MiB)" in rules["WalStreamingStalled"]["annotations"]["description"]
    assert rules_of(renders["defaults"])["HighCpuUsage"]["expr"].endswith("> 0.8")
