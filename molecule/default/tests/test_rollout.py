# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright (c) 2026, CommandCenter platform team
"""Zero-downtime proof: 20 requests/s through Traefik never fail while the app is
upgraded v1 -> v2, while an upgrade to a broken build is refused, and while
playbooks/rollback.yml returns to the previous release.

The tests run in order and leave the host as site.yml made it (release v1)."""
from __future__ import annotations

import json
import time

import pytest
from app_client import APP_ONLY, ROOT, Client, app_projects, host_load, timed_converge, timed_playbook
from conftest import prometheus_api, prometheus_query, sh, wait_for

V2 = {"app_backend_image": "{{ cc_image_registry }}/commandcenter/cc-backend:2.0.0",
      "app_frontend_image": "{{ cc_image_registry }}/commandcenter/cc-frontend:2.0.0"}
BROKEN = {**V2, "app_backend_image": "{{ cc_image_registry }}/commandcenter/cc-backend:broken"}


@pytest.fixture(scope="module")
def client(host):
    return Client(host)


def report(what: str, load: dict, seconds: float) -> None:
    print(f"\n{what}: rollout {seconds:.1f} s; {load['requests']} requests at {load['rate']}/s, "
          f"{load['failed']} failed, p50 {load['p50_ms']} ms, p99 {load['p99_ms']} ms, "
          f"max {load['max_ms']} ms, versions {json.dumps(load['versions'])}")


def assert_monitoring_follows_the_switch(host, version: str) -> None:
    """Prometheus scrapes exactly the serving release's backends (DNS service discovery:
    no stale target of the old release, none missing) and the release metric names it."""
    start = time.monotonic()
    serving = json.loads(host.file("/opt/commandcenter/app/history.json").content_string)[-1]
    names = sh(host, "docker ps --filter label=com.docker.compose.project=cc-app-" + serving["id"]
               + " --filter label=com.docker.compose.service=backend --format '{{.Names}}'").split()
    addresses = {sh(host, "docker inspect -f '{{.NetworkSettings.Networks.monitoring.IPAddress}}' " + name) + ":8000"
                 for name in names}
    assert len(addresses) >= 2, names

    def backend_targets():
        targets = prometheus_api(host, "/api/v1/targets")["data"]["activeTargets"]
        return {t["discoveredLabels"]["__address__"]: t["health"] for t in targets if t["labels"]["job"] == "backend"}

    def followed():
        release = prometheus_query(host, "cc_app_release_info")
        targets = backend_targets()
        return (set(targets) == addresses and set(targets.values()) == {"up"}
                and [(r["metric"]["release"], r["metric"]["version"]) for r in release] == [(serving["id"], version)])
    try:
        wait_for(f"Prometheus following release {serving['id']}", followed, timeout=90, interval=2)
    except AssertionError:
        pytest.fail(f"backend targets {backend_targets()} are not exactly release {serving['id']}'s {addresses}, "
                    "or cc_app_release_info is "
                    + json.dumps(prometheus_query(host, "cc_app_release_info")))
    print(f"monitoring follows release {serving['id']} ({version}) within {time.monotonic() - start:.0f} s of the "
          f"rollout's end: {len(addresses)} backend targets, all up, none stale; cc_app_release_info names it")


def test_upgrade_v1_to_v2_under_load_fails_no_request(host, client, converge):
    with host_load(host, client) as load:
        run, seconds = timed_converge(converge, **V2)
        result = load.stop()
    report("upgrade v1 -> v2", result, seconds)
    assert run.returncode == 0, run.output[-4000:]
    assert result["failed"] == 0, result["failures"]
    assert result["requests"] >= 0.9 * result["rate"] * result["seconds"], result
    assert set(result["versions"]) == {"1.0.0", "2.0.0"}, result["versions"]
    status, health = client.api("GET", "/health")
    assert status == 200 and health["version"] == "2.0.0" and health["checks"]["migrations"] == "ok", health
    assert len(app_projects(host)) == 1
    assert_monitoring_follows_the_switch(host, "2.0.0")


def test_broken_upgrade_is_refused_under_load_and_v2_keeps_serving(host, client, converge):
    serving = app_projects(host)
    with host_load(host, client) as load:
        run, seconds = timed_converge(converge, **BROKEN)
        result = load.stop()
    report("upgrade v2 -> broken (refused)", result, seconds)
    assert run.returncode != 0 and run.failed, run.output[-4000:]
    assert "did not pass the health gate" in run.output and "keeps serving" in run.output, run.output[-4000:]
    assert "backend" in run.output and "unhealthy" in run.output, run.output[-4000:]
    assert result["failed"] == 0, result["failures"]
    assert set(result["versions"]) == {"2.0.0"}, result["versions"]
    assert app_projects(host) == serving
    status, health = client.api("GET", "/health")
    assert status == 200 and health["version"] == "2.0.0"


def test_rollback_returns_to_the_previous_release_under_load(host, client):
    with host_load(host, client) as load:
        run, seconds = timed_playbook(ROOT / "playbooks" / "rollback.yml")
        result = load.stop()
    report("rollback v2 -> v1", result, seconds)
    assert run.returncode == 0, run.output[-4000:]
    assert result["failed"] == 0, result["failures"]
    assert set(result["versions"]) == {"1.0.0", "2.0.0"}, result["versions"]
    status, health = client.api("GET", "/health")
    assert status == 200 and health["version"] == "1.0.0", health
    history = json.loads(host.file("/opt/commandcenter/app/history.json").content_string)
    assert [h["backend_image"].rsplit(":", 1)[1] for h in history] == ["1.0.0", "2.0.0", "1.0.0"]
    assert_monitoring_follows_the_switch(host, "1.0.0")


def test_site_after_the_rollback_changes_nothing(converge):
    """The inventory names v1, which the rollback made current again: nothing to do."""
    run = converge(*APP_ONLY)
    assert run.returncode == 0, run.output[-3000:]
    assert run.changed == 0, run.output[-3000:]
