# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright (c) 2026, CommandCenter platform team
"""A rules or scrape-configuration change reaches the running Prometheus through its
reload endpoint: the same container (same id, same start time) answers with the new
rules and settings. The test converges the monitoring part with other values, then with
the scenario's own again, so the host is left as the converge made it."""
from __future__ import annotations

from conftest import PROMETHEUS_CONTAINER, container_run_id, prometheus_api

MONITORING_ONLY = ("--tags", "monitoring")
CHANGED = {"monitoring_alert_for": {"RedisDown": "11s"}, "monitoring_scrape_interval": "6s"}


def redis_down_for(host) -> float:
    groups = prometheus_api(host, "/api/v1/rules")["data"]["groups"]
    return next(rule["duration"] for group in groups for rule in group["rules"] if rule["name"] == "RedisDown")


def scrape_interval(host) -> str:
    config = prometheus_api(host, "/api/v1/status/config")["data"]["yaml"]
    return config.split("scrape_interval: ", 1)[1].split()[0]


def test_a_rule_and_a_scrape_setting_change_reload_prometheus_without_a_restart(host, converge):
    before = container_run_id(host, PROMETHEUS_CONTAINER)
    assert (redis_down_for(host), scrape_interval(host)) == (10, "5s")
    try:
        run = converge(*MONITORING_ONLY, extra_vars=CHANGED)
        assert run.returncode == 0, run.output[-4000:]
        assert run.changed > 0, "new rules and settings changed nothing"
        assert (redis_down_for(host), scrape_interval(host)) == (11, "6s"), "not loaded by the running Prometheus"
        assert container_run_id(host, PROMETHEUS_CONTAINER) == before, "Prometheus was restarted or recreated"
    finally:
        back = converge(*MONITORING_ONLY)
    assert back.returncode == 0, back.output[-4000:]
    assert (redis_down_for(host), scrape_interval(host)) == (10, "5s")
    assert container_run_id(host, PROMETHEUS_CONTAINER) == before
    print(f"rules and scrape settings changed and back: {PROMETHEUS_CONTAINER} reloaded twice, never restarted")
