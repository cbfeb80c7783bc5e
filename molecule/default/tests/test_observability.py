# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright (c) 2026, CommandCenter platform team
"""The site's monitoring with the data services and the app deployed, as `make demo`
leaves it: every scrape job that can run here is up, every rule is healthy, every
dashboard panel's query finds its data in the live Prometheus, and every container's
log lines name it for the log shipper.

Not run here (no image of them exists on this machine: no Debian package, no reachable
registry; inventories/local switches them off): cAdvisor, Grafana, Loki and Alloy.
Their configuration is rendered and checked by tests/render.
"""
from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest
from app_client import ROOT, Client
from conftest import prometheus_api, prometheus_query, sh, wait_for

sys.path.insert(0, str(ROOT / "tests"))
import grafana_queries  # noqa: E402  (tests/ is not a package)

DASHBOARDS = sorted((ROOT / "roles" / "monitoring" / "files" / "grafana" / "dashboards").glob("*.json"))
# The jobs site.yml generates from inventories/local: every part of the platform.
EXPECTED_JOBS = {"prometheus", "alertmanager", "backend", "flower", "postgres", "redis", "node", "traefik", "nats",
                 "blackbox"}
NOT_RUN_HERE = {
    "cadvisor": "no cAdvisor image exists on this machine (no Debian package, no reachable registry): "
                "inventories/local sets monitoring_cadvisor_enabled false, so the job is not generated",
}
CADVISOR = "cAdvisor does not run here (no image): its container_* series cannot exist"
# Panels whose query may find nothing in this scenario, and why. Their metric and label
# names are still checked against the live series (see names_exist), except cAdvisor's.
NO_DATA_HERE = {
    ("cc-errors", "5xx per route"): "no request fails with a 5xx in this scenario",
    ("cc-errors", "Top routes by 5xx (time range)"): "no request fails with a 5xx in this scenario",
    ("cc-errors", "Error ratio"): "no request fails with a 5xx in this scenario (no 5xx series to divide)",
    ("cc-overview", "Error ratio (5xx)"): "no request fails with a 5xx in this scenario (no 5xx series to divide)",
    ("cc-celery", "Failure ratio"): "no Celery task fails in this scenario",
    ("cc-celery", "Failed per task"): "no Celery task fails in this scenario",
    ("cc-celery", "Prefetched tasks per worker"): "Flower exports it only while a worker holds prefetched tasks",
    ("cc-database", "Deadlocks"): "pg_stat_database_deadlocks is there; the increase is 0 or absent without one",
    ("cc-overview", "Active alerts"): "no alert but the Watchdog fires on a healthy site",
    ("cc-hosts", "Swap used"): "the sandbox host may have no swap",
}
CADVISOR_PANELS = {("cc-hosts", "Container CPU"), ("cc-hosts", "Container memory vs limit"),
                   ("cc-hosts", "Container memory"), ("cc-hosts", "Container network"),
                   ("cc-hosts", "Container restarts (time range)"), ("cc-overview", "Running containers")}
PROMQL_WORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "offset", "and", "or",
                "unless", "inf", "nan", "vector"}


def names_in(expr: str) -> tuple[set[str], set[str]]:
    """The metric names and label names a PromQL expression uses (enough for the dashboards)."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    labels = set()
    for group in re.findall(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)", text):
        labels |= {name.strip() for name in group.split(",") if name.strip()}
    text = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text)
    for matchers in re.findall(r"\{([^}]*)\}", text):
        labels |= set(re.findall(r"(\w+)\s*(?:=~|!~|!=|=)", matchers))
    text = re.sub(r"\{[^}]*\}|\[[^\]]*\]", " ", text)
    metrics = {name for name in re.findall(r"\b([A-Za-z_:][\w:]*)\b(?!\s*\()", text)
               if name.lower() not in PROMQL_WORDS and not re.fullmatch(r"\d+\w*", name)}
    return metrics, labels


def names_exist(host, expr: str) -> list[str]:
    """What of the expression's metric and label names no live series has (empty: all exist)."""
    metrics, labels = names_in(expr)
    missing, seen_labels = [], {"__name__"}
    for metric in sorted(metrics):
        series = prometheus_api(host, "/api/v1/series", **{"match[]": metric})["data"]
        if not series:
            missing.append(f"metric {metric}")
        for one in series:
            seen_labels |= set(one)
    missing += [f"label {label}" for label in sorted(labels - seen_labels)]
    return missing


def all_queries() -> list[tuple]:
    queries = []
    for path in DASHBOARDS:
        dashboard = json.loads(path.read_text())
        queries += grafana_queries.panel_queries(dashboard) + grafana_queries.annotation_queries(dashboard)
        queries += grafana_queries.variable_queries(dashboard)
    return queries


def test_every_scrape_job_that_can_run_here_is_up(host):
    def all_up():
        targets = prometheus_api(host, "/api/v1/targets")["data"]["activeTargets"]
        jobs: dict[str, list[str]] = {}
        for target in targets:
            jobs.setdefault(target["labels"]["job"], []).append(target["health"])
        return jobs if set(jobs) == EXPECTED_JOBS and all(set(h) == {"up"} for h in jobs.values()) else None
    try:
        jobs = wait_for("every scrape job up", all_up, timeout=90, interval=3)
    except AssertionError:
        targets = prometheus_api(host, "/api/v1/targets")["data"]["activeTargets"]
        pytest.fail("not every job is up: " + json.dumps(
            [(t["labels"]["job"], t["scrapeUrl"], t["health"], t["lastError"]) for t in targets]))
    print("scrape jobs up:", ", ".join(f"{job} ({len(h)} target(s))" for job, h in sorted(jobs.items())))
    for job, why in NOT_RUN_HERE.items():
        print(f"scrape job NOT run here: {job}: {why}")
    config = prometheus_api(host, "/api/v1/status/config")["data"]["yaml"]
    assert "environment: local" in config and "cluster: commandcenter" in config, config[:600]


def test_every_rule_is_loaded_and_healthy(host):
    groups = prometheus_api(host, "/api/v1/rules")["data"]["groups"]
    rules = [rule for group in groups for rule in group["rules"]]
    assert len(rules) >= 29 and not [(r["name"], r.get("lastError")) for r in rules if r["health"] != "ok"]
    firing = [a["labels"]["alertname"] for a in prometheus_api(host, "/api/v1/alerts")["data"]["alerts"]
              if a["state"] == "firing"]
    print(f"{len(rules)} rules healthy; firing now: {sorted(firing)}")
    assert "Watchdog" in firing


def test_the_serving_release_is_on_the_graphs(host):
    """The release metric of the textfile collector names the release history's current one."""
    history = json.loads(host.file("/opt/commandcenter/app/history.json").content_string)
    serving = history[-1]
    series = wait_for("cc_app_release_info in Prometheus", lambda: prometheus_query(host, "cc_app_release_info"), timeout=60)
    assert [(s["metric"]["release"], s["metric"]["version"]) for s in series] == [
        (serving["id"], serving["backend_image"].rsplit(":", 1)[1])], series


def test_every_dashboard_query_finds_its_data(host):
    """Traffic through the edge (pages, API calls, 404s, Celery tasks), then every panel,
    annotation and variable query of the six dashboards against the live Prometheus."""
    client = Client(host)
    for _ in range(10):
        client.api("GET", "/health")
        client.api("GET", "/no-such-route")
        client.api("POST", "/tasks/add", {"x": 2, "y": 3})
        client.curl(client.domain, "/")
    every_query = all_queries()
    queries = [q for q in every_query if q[2] == "prometheus"]
    assert len(queries) >= 90, len(queries)
    expected = [q for q in queries if (q[0], q[1]) not in NO_DATA_HERE and (q[0], q[1]) not in CADVISOR_PANELS]

    def empty_ones():
        return [q for q in expected if not prometheus_query(host, q[3])]
    # rate() needs two samples of the new series in its window: a few scrapes after the traffic.
    try:
        wait_for("every expected dashboard query answered", lambda: not empty_ones(), timeout=120, interval=10)
    except AssertionError:
        pytest.fail("queries without data:\n" + "\n".join(f"{uid} / {title}: {expr}"
                                                          for uid, title, _, expr in empty_ones()))
    without_data = [q for q in queries if q not in expected]
    wrong = {f"{uid} / {title}": names_exist(host, expr) for uid, title, _, expr in without_data
             if (uid, title) not in CADVISOR_PANELS}
    assert not {panel: names for panel, names in wrong.items() if names}, wrong
    print(f"dashboard queries answered by the live Prometheus: {len(expected)} of {len(queries)}")
    for (uid, title), why in sorted(NO_DATA_HERE.items()):
        print(f"  may be empty here, its metric and label names exist: {uid} / {title}: {why}")
    for uid, title in sorted(CADVISOR_PANELS):
        print(f"  NOT checked here: {uid} / {title}: {CADVISOR}")
    loki = [q for q in every_query if q[2] == "loki"]
    print(f"  NOT run here: {len(loki)} Loki (LogQL) queries: Loki does not run on this machine")


def test_every_container_log_line_names_its_container(host):
    """The daemon's json-file lines carry the container's name and compose service (attrs),
    which the log shipper reads from disk without the Docker socket."""
    names = sh(host, "docker ps --format '{{.Names}}'").split()
    for name in names:
        config = json.loads(sh(host, f"docker inspect -f '{{{{json .HostConfig.LogConfig}}}}' {name}"))
        assert config["Type"] == "json-file" and config["Config"].get("tag") == "{{.Name}}", (name, config)
        assert config["Config"].get("labels") == "com.docker.compose.project,com.docker.compose.service", name
    log = Path(sh(host, "docker inspect -f '{{.LogPath}}' cc-redis-redis-1"))
    line = json.loads(sh(host, f"tail -n 1 {log}"))
    assert line["attrs"]["tag"] == "cc-redis-redis-1", line
    assert line["attrs"]["com.docker.compose.service"] == "redis", line
    print(f"{len(names)} containers: json-file lines carry tag (the name) and the compose labels")


def test_traefik_series_keep_traefiks_own_service_label(host):
    """The traefik job honours the scraped `service` label: the per-service alerts and
    panels see backend@file and frontend@file, not one series labelled traefik."""
    Client(host).api("GET", "/health")
    series = wait_for("traefik_service_requests_total", lambda: prometheus_query(
        host, "sum by (service) (traefik_service_requests_total)"), timeout=60)
    services = {s["metric"].get("service") for s in series}
    assert {"backend@file", "frontend@file"} <= services and "traefik" not in services, services
    assert prometheus_query(host, 'up{job="traefik", service="traefik"}'), "the target's own series keep service=traefik"
