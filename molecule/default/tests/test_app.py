# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright (c) 2026, CommandCenter platform team
"""The application as site.yml deploys it: reached through Traefik, working, hardened."""
from __future__ import annotations

import time
import uuid

import pytest
from app_client import APP_ONLY, Client, app_projects
from conftest import docker_json, sh


@pytest.fixture(scope="module")
def client(host):
    return Client(host)


def test_health_reports_database_redis_nats_ok_and_the_version(client):
    status, health = client.api("GET", "/health")
    assert status == 200, health
    assert health["status"] == "ok"
    assert health["version"] == "1.0.0"
    for check in ("database", "redis", "nats", "migrations"):
        assert health["checks"][check] == "ok", health


def test_an_embedding_is_stored_and_found_by_nearest_neighbour(client):
    tag = uuid.uuid4().hex[:8]
    points = {f"{tag}-a": [0.11, 0.52, 0.93], f"{tag}-b": [5.0, -3.0, 2.0], f"{tag}-c": [-7.0, 8.0, -9.0]}
    for content, vector in points.items():
        status, body = client.api("POST", "/embeddings", {"content": content, "embedding": vector})
        assert status == 201, body
    status, body = client.api("POST", "/embeddings/search", {"embedding": [5.1, -2.9, 2.1], "limit": 1})
    assert status == 200, body
    assert [r["content"] for r in body["results"]] == [f"{tag}-b"]
    status, body = client.api("POST", "/embeddings", {"content": "wrong", "embedding": [1.0, 2.0]})
    assert status == 422, body


def test_a_celery_task_round_trips(client):
    status, body = client.api("POST", "/tasks/add", {"x": 20, "y": 22})
    assert status == 202, body
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        status, result = client.api("GET", f"/tasks/{body['task_id']}")
        if result.get("state") == "SUCCESS":
            break
        time.sleep(1)
    assert result.get("state") == "SUCCESS" and result.get("result") == 42, result


def test_the_frontend_is_served(client):
    status, page = client.curl(client.domain, "/")
    assert status == 200
    assert "CommandCenter" in page and "1.0.0" in page


def test_flower_needs_the_dashboard_credentials(client):
    status, _ = client.curl(f"flower.{client.domain}", "/")
    assert status == 401
    status, page = client.curl(f"flower.{client.domain}", "/", netrc=True)
    assert status == 200
    assert "Flower" in page


def test_one_release_runs_hardened_with_one_scheduler(host):
    projects = app_projects(host)
    assert len(projects) == 1, projects
    (project, names), = projects.items()
    services = {}
    for name in names:
        container = docker_json(host, "inspect", name)
        services.setdefault(container["Config"]["Labels"]["com.docker.compose.service"], []).append(container)
        assert container["State"]["Status"] == "running", name
        assert container["Config"]["User"] == "10001:10001", name
        assert container["HostConfig"]["CapDrop"] == ["ALL"], name
        assert container["HostConfig"]["ReadonlyRootfs"] is True, name
        assert "no-new-privileges:true" in container["HostConfig"]["SecurityOpt"], name
        assert container["HostConfig"]["Memory"] > 0 and container["HostConfig"]["NanoCpus"] > 0, name
        assert container["State"]["Health"]["Status"] == "healthy", name
        assert not container["HostConfig"]["PortBindings"], f"{name} publishes ports"
    assert {s: len(c) for s, c in services.items()} == {
        "backend": 2, "frontend": 1, "worker": 1, "beat": 1, "flower": 1}
    release = project.removeprefix("cc-app-")
    listing = sh(host, f"stat -c '%a %u %n' /opt/commandcenter/app/releases/{release}/secrets/*").splitlines()
    assert len(listing) == 4 and all(line.startswith("600 10001 ") for line in listing), listing
    env = dict(item.split("=", 1) for item in services["backend"][0]["Config"]["Env"])
    for name in ("DATABASE_URL", "REDIS_URL", "NATS_URL", "SECRET_KEY"):  # secrets only as files
        assert env.get(f"{name}_FILE") == f"/run/secrets/{name.lower()}" and name not in env, (name, sorted(env))


def test_a_failed_migration_stops_the_rollout_with_its_log(host, client, converge):
    wrong = "Wr0ng-" + uuid.uuid4().hex
    before = app_projects(host)
    run = converge(*APP_ONLY, extra_vars={"app_database_password": wrong})
    assert run.returncode != 0 and run.failed, run.output[-3000:]
    assert "migrations failed" in run.output and "nothing was switched" in run.output, run.output[-3000:]
    assert "password authentication failed" in run.output or "OperationalError" in run.output, run.output[-3000:]
    assert wrong not in run.output
    assert app_projects(host) == before
    status, health = client.api("GET", "/health")
    assert status == 200 and health["version"] == "1.0.0"
