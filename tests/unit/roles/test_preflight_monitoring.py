# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright (c) 2026, CommandCenter platform team
"""monitoring: bad input fails before anything changes, naming the variable.

Each case runs the whole role in check mode against this machine (connection local):
argument_specs or preflight must stop it before any task of a later step ("Ensure ...")
starts. No Docker needed.
"""
from __future__ import annotations

import pytest
from conftest import (
    TYPE_ERRORS,
    assert_preflight_passed,
    assert_refused_before_change,
    batched_refusals,
    run_role,
    step_tasks,
)

# Runs ansible-playbook: `make unit` runs it, the pre-commit hook leaves it out.
pytestmark = pytest.mark.playbook

# Grafana is on by default, so its administrator password is needed: every case has one
# (a test-only value, which must never show), unless it tests the password itself.
GRAFANA_PASSWORD = "Gr4fana-unit-Pw-5vNq8xLc"
VALID = {"monitoring_grafana_admin_password": GRAFANA_PASSWORD}

CASES = [
    # types (argument_specs)
    ("bad-type-alert-for", {"monitoring_alert_for": "5m"}, ["monitoring_alert_for", "dict"]),
    ("bad-type-cadvisor", {"monitoring_cadvisor_enabled": "perhaps"}, ["monitoring_cadvisor_enabled", "bool"]),
    # values (preflight)
    ("scrape-interval", {"monitoring_scrape_interval": "15 seconds"},
     ["monitoring_scrape_interval must be Prometheus durations", "15 seconds"]),
    ("retention-time", {"monitoring_retention_time": "a month"}, ["monitoring_retention_time", "a month"]),
    ("retention-size", {"monitoring_retention_size": "20G"},
     ["monitoring_retention_size must be a size such as 512MB or 20GB", "got 20G"]),
    ("mem-limit", {"monitoring_prometheus_mem_limit": "lots"},
     ["monitoring_prometheus_mem_limit must be docker sizes", "lots"]),
    ("alert-for-unknown", {"monitoring_alert_for": {"RedisIsDown": "1m"}},
     ["monitoring_alert_for names alerts the rules do not have", "RedisIsDown"]),
    ("alert-for-duration", {"monitoring_alert_for": {"RedisDown": "soon"}},
     ["monitoring_alert_for: not durations", "RedisDown"]),
    ("threshold-unknown", {"monitoring_alert_thresholds": {"cpu": 0.9}},
     ["monitoring_alert_thresholds: unknown keys", "cpu"]),
    ("threshold-not-number", {"monitoring_alert_thresholds": {"host_cpu_ratio": "high"}},
     ["monitoring_alert_thresholds: not numbers", "host_cpu_ratio"]),
    ("alert-job-unknown", {"monitoring_alert_jobs": ["prometheus", "mongodb"]},
     ["monitoring_alert_jobs names jobs the scrape configuration does not have", "mongodb"]),
    ("port", {"monitoring_prometheus_port": 0}, ["monitoring_prometheus_port must be 1-65535, got 0"]),
    ("cpus", {"monitoring_small_cpus": 0}, ["monitoring_prometheus_cpus and monitoring_small_cpus must be greater"]),
    ("pids", {"monitoring_pids_limit": 4}, ["monitoring_pids_limit must be 16 or more, got 4"]),
    ("data-dir", {"monitoring_prometheus_data_dir": "data/prometheus"},
     ["monitoring_prometheus_data_dir must be an absolute path", "data/prometheus"]),
    ("ca-file", {"monitoring_blackbox_ca_file": "ca.crt"}, ["monitoring_blackbox_ca_file must be empty or an absolute"]),
    ("probe-url", {"monitoring_probe_urls": ["api.example.org/health"]},
     ["monitoring_probe_urls must be http(s) URLs", "api.example.org/health"]),
    # Grafana and Loki
    ("grafana-password-missing", {"monitoring_grafana_admin_password": ""},
     ["monitoring_grafana_admin_password: not set", "needed while monitoring_grafana_enabled is on"]),
    ("grafana-password-placeholder", {"monitoring_grafana_admin_password": "set-me-with-ansible-vault"},
     ["monitoring_grafana_admin_password: is a placeholder"]),
    ("grafana-password-short", {"monitoring_grafana_admin_password": "sh0rt-Pw-x7"},
     ["monitoring_grafana_admin_password: shorter than 16 characters"]),
    ("grafana-mem-limit", {"monitoring_grafana_mem_limit": "half a gig"},
     ["monitoring_grafana_mem_limit must be docker sizes", "half a gig"]),
    ("loki-cpus", {"monitoring_loki_cpus": 0}, ["monitoring_grafana_cpus and monitoring_loki_cpus must be greater"]),
    ("loki-port", {"monitoring_loki_http_port": 70000}, ["monitoring_loki_http_port must be 1-65535, got 70000"]),
    ("loki-data-dir", {"monitoring_loki_data_dir": "data/loki"},
     ["monitoring_loki_data_dir must be absolute paths", "data/loki"]),
    ("password-file", {"monitoring_grafana_admin_password_file": "grafana_admin_password"},
     ["monitoring_grafana_admin_password_file must be absolute paths"]),
    # The per-host agents
    ("cadvisor-metrics", {"monitoring_cadvisor_metrics": ["cpu", "gpu"]},
     ["monitoring_cadvisor_metrics: not cAdvisor metric kinds", "gpu"]),
    ("cadvisor-housekeeping", {"monitoring_cadvisor_housekeeping_interval": "often"},
     ["monitoring_cadvisor_housekeeping_interval must be Prometheus durations", "often"]),
    ("alloy-cpus", {"monitoring_alloy_cpus": 0}, ["monitoring_cadvisor_cpus and monitoring_alloy_cpus must be greater"]),
    ("proxy-mem-limit", {"monitoring_docker_api_proxy_mem_limit": "tiny"},
     ["monitoring_docker_api_proxy_mem_limit must be docker sizes", "tiny"]),
    ("route-domain", {"monitoring_route_domain": "https://example.org"},
     ["monitoring_route_domain must be empty or a DNS name", "https://example.org"]),
]


refused = batched_refusals("monitoring", CASES, VALID)


@pytest.mark.parametrize(("case", "role_vars", "expected"), CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_refused_before_any_change(refused, case, role_vars, expected):
    proc = refused[case]
    # No value of a secret variable shows (the password cases' values, and the valid one).
    assert_refused_before_change(proc, "monitoring", expected, secrets={**VALID, **role_vars})


def test_missing_grafana_password_is_the_only_problem_of_the_defaults(tmp_path):
    """Grafana is on by default: without its password the defaults are refused, naming the variable."""
    proc = run_role(tmp_path, "monitoring", {})
    out = assert_refused_before_change(proc, "monitoring", [
        "monitoring: 1 input problem(s)",
        "monitoring_grafana_admin_password: not set (define it in the inventory's vault)"])
    assert out.count("FAILED!") == 1


def test_grafana_password_is_not_needed_when_grafana_is_off(tmp_path):
    proc = run_role(tmp_path, "monitoring", {"monitoring_grafana_enabled": False}, "--tags", "monitoring_preflight")
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-3000:]
    assert_preflight_passed(proc, "monitoring")
    assert "monitoring_grafana_admin_password" not in out


def test_defaults_pass_preflight(tmp_path):
    proc = run_role(tmp_path, "monitoring", VALID, "--tags", "monitoring_preflight")
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-3000:]
    assert_preflight_passed(proc, "monitoring")
    assert not step_tasks(out, "monitoring")
    assert GRAFANA_PASSWORD not in out


def test_every_problem_is_reported_together(tmp_path):
    proc = run_role(tmp_path, "monitoring", {**VALID, "monitoring_scrape_timeout": "ten",
                                             "monitoring_retention_size": "lots",
                                             "monitoring_alert_for": {"NoSuchAlert": "1m"},
                                             "monitoring_blackbox_port": 70000})
    out = assert_refused_before_change(proc, "monitoring", [
        "monitoring: 4 input problem(s)", "monitoring_scrape_timeout", "monitoring_retention_size", "NoSuchAlert",
        "monitoring_blackbox_port must be 1-65535, got 70000"])
    assert out.count("FAILED!") == 1


def test_numbers_given_as_strings_pass_preflight(tmp_path):
    """-e passes strings: argument_specs accepts "9091" for an int, and so does preflight."""
    proc = run_role(tmp_path, "monitoring", VALID, "--tags", "monitoring_preflight",
                    "-e", "monitoring_prometheus_port=9091", "-e", "monitoring_blackbox_port=9116",
                    "-e", "monitoring_loki_http_port=3101", "-e", "monitoring_grafana_cpus=0.25",
                    "-e", "monitoring_loki_cpus=2",
                    "-e", "monitoring_pids_limit=64", "-e", "monitoring_prometheus_cpus=0.5",
                    "-e", "monitoring_log_max_file=2", "-e", "monitoring_health_timeout=60")
    out = assert_preflight_passed(proc, "monitoring")
    assert proc.returncode == 0, out[-3000:]
    errors = [text for text in TYPE_ERRORS if text in out]
    assert not errors, f"type errors {errors}:\n{out[-3000:]}"
