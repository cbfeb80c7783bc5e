# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright (c) 2026, CommandCenter platform team
"""app: a release's compose file and Traefik services, rendered with the defaults and
with inventories/local, checked by `docker compose config` (Compose v2 from the offline
image) and read back for what the rollout relies on.

Needs Docker and the images `make images` builds; skipped with the reason without them.
"""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from conftest import compose_config, needs_images, render_variants

ROOT = Path(__file__).resolve().parents[2]
TEST_SECRETS = {"app_secret_key": "r3nd3r-key-Vb8nM2qW4z", "app_database_password": "r3nd3r-db-Xc5vB9nL1k",
                "app_redis_password": "r3nd3r-redis-Jh6gF3dS8a", "app_nats_password": "r3nd3r-nats-Pk2jH7gT4r"}
LOCAL = ROOT / "inventories/local/group_vars/all"
LOCAL_INVENTORY = [LOCAL / "main.yml", LOCAL / "postgres_pgvector.yml", LOCAL / "redis.yml", LOCAL / "nats.yml",
                   LOCAL / "app.yml"]
VARIANTS = {
    "defaults": (False, None),
    "local-inventory": (True, None),
    "three-replicas-no-flower": (True, {"app_backend_replicas": 3, "app_flower_enabled": False,
                                        "app_env": {"FEATURE_X": "on"}}),
    "renamed-networks": (False, {"app_edge_network": "cc-edge", "app_data_network": "cc-data",
                                 "app_monitoring_network": "cc-monitoring"}),
}
RENDERED = {
    "compose.yml": "{{ lookup('ansible.builtin.template', 'compose.yml.j2') }}",
    "traefik-app.yml": "{{ _app_traefik_services | to_nice_yaml }}",
    "secrets.json": "{{ _app_secret_files | to_json }}",
}


pytestmark = needs_images()


@pytest.fixture(scope="module")
def rendered(tmp_path_factory) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("app")
    variants = {name: (inv, {**(extra or {}), "_app_target": "0123456789ab",
                             "_app_release": {"routed": "{{ _app_routed }}"}})
                for name, (inv, extra) in VARIANTS.items()}
    outs = render_variants(tmp, "app", variants, RENDERED, LOCAL_INVENTORY, TEST_SECRETS)
    for out in outs.values():   # compose checks that the secret files exist
        (out / "secrets").mkdir()
        for name in ("database_url", "redis_url", "nats_url", "secret_key"):
            (out / "secrets" / name).write_text("x")
    return outs


@pytest.mark.parametrize("variant", VARIANTS)
def test_compose_file_is_accepted_by_docker_compose(rendered, variant):
    proc = compose_config(rendered[variant])
    assert proc.returncode == 0, proc.stderr


@pytest.mark.parametrize("variant", VARIANTS)
def test_every_service_is_hardened_and_reads_secrets_from_files(rendered, variant):
    compose = yaml.safe_load((rendered[variant] / "compose.yml").read_text())
    text = (rendered[variant] / "compose.yml").read_text()
    for name, service in compose["services"].items():
        assert service["user"] == "10001:10001", name
        assert service["cap_drop"] == ["ALL"] and service["read_only"] is True, name
        assert "no-new-privileges:true" in service["security_opt"], name
        assert service["mem_limit"] and service["cpus"] > 0, name
        assert "ports" not in service, name
        if name != "migrate":
            assert service["healthcheck"]["test"], name
            assert service["restart"] == "unless-stopped", name
        if name != "frontend":
            env = service["environment"]
            assert env["DATABASE_URL_FILE"] == "/run/secrets/database_url", name
            assert not {"DATABASE_URL", "REDIS_URL", "NATS_URL", "SECRET_KEY"} & set(env), name
    assert compose["services"]["migrate"]["profiles"] == ["migrate"]
    assert "deploy" not in compose["services"]["beat"], "beat must never be scaled"
    for value in TEST_SECRETS.values():
        assert value not in text


def test_replicas_flower_and_extra_env_follow_the_variables(rendered):
    default = yaml.safe_load((rendered["local-inventory"] / "compose.yml").read_text())["services"]
    other = yaml.safe_load((rendered["three-replicas-no-flower"] / "compose.yml").read_text())["services"]
    assert default["backend"]["deploy"]["replicas"] == 2 and "flower" in default
    assert other["backend"]["deploy"]["replicas"] == 3 and "flower" not in other
    assert other["worker"]["environment"]["FEATURE_X"] == "on"


# Each service on the networks it talks on (docs/architecture.md, Networks): Traefik routes
# to backend, flower and frontend on edge; the data services are on data; Prometheus scrapes
# backend and flower on monitoring. The frontend (static files) is never on data.
NETWORKS = {"backend": ["edge", "data", "monitoring"], "flower": ["edge", "data", "monitoring"],
            "worker": ["data"], "beat": ["data"], "migrate": ["data"], "frontend": ["edge"]}


@pytest.mark.parametrize("variant", VARIANTS)
def test_each_service_joins_only_the_networks_it_talks_on(rendered, variant):
    compose = yaml.safe_load((rendered[variant] / "compose.yml").read_text())
    assert {name: s["networks"] for name, s in compose["services"].items()} == {
        name: networks for name, networks in NETWORKS.items() if name in compose["services"]}
    names = ({"edge": "cc-edge", "data": "cc-data", "monitoring": "cc-monitoring"} if variant == "renamed-networks"
             else {"edge": "edge", "data": "data", "monitoring": "monitoring"})
    assert compose["networks"] == {key: {"name": name, "external": True} for key, name in names.items()}


def test_traefik_services_list_every_server_of_the_release(rendered):
    default = yaml.safe_load((rendered["local-inventory"] / "traefik-app.yml").read_text())["http"]["services"]
    assert [s["url"] for s in default["backend"]["loadBalancer"]["servers"]] == [
        "http://cc-app-0123456789ab-backend-1:8000", "http://cc-app-0123456789ab-backend-2:8000"]
    assert default["frontend"]["loadBalancer"]["servers"] == [{"url": "http://cc-app-0123456789ab-frontend-1:8080"}]
    assert default["backend"]["loadBalancer"]["healthCheck"]["path"] == "/version"
    other = yaml.safe_load((rendered["three-replicas-no-flower"] / "traefik-app.yml").read_text())["http"]["services"]
    assert sorted(other) == ["backend", "frontend"] and len(other["backend"]["loadBalancer"]["servers"]) == 3


def test_connection_urls_carry_the_credentials_url_encoded(rendered):
    import json
    secrets = json.loads((rendered["defaults"] / "secrets.json").read_text())
    assert secrets["database_url"] == (
        "postgresql+psycopg://commandcenter:r3nd3r-db-Xc5vB9nL1k@postgres:5432/commandcenter")
    assert secrets["redis_url"] == "redis://commandcenter:r3nd3r-redis-Jh6gF3dS8a@redis:6379/0"
    assert secrets["nats_url"] == "nats://commandcenter:r3nd3r-nats-Pk2jH7gT4r@nats:4222"
    assert secrets["secret_key"] == "r3nd3r-key-Vb8nM2qW4z"


# The release the deploy annotations show: rendered for an image with a registry port and
# for a digest-pinned one, then read by promtool like node-exporter's textfile collector.
RELEASES = {
    "registry-port": ({"id": "0123456789ab", "backend_image": "localhost:5000/commandcenter/cc-backend:v2",
                       "deployed_at": "2026-12-04T16:30:00.123456+00:00"}, "v2", 1796401800),
    "whole-second": ({"id": "ba9876543210", "backend_image": "ghcr.io/commandcenter/commandcenter-backend:1.4.0",
                      "deployed_at": "2026-01-01T00:00:00+00:00"}, "1.4.0", 1767225600),
    "no-tag": ({"id": "00000000aaaa", "backend_image": "registry.example.org:443/backend",
                "deployed_at": "1970-01-02T00:00:00+00:00"}, "latest", 86400),
}


@pytest.fixture(scope="module")
def release_metrics(tmp_path_factory) -> dict[str, Path]:
    variants = {name: (False, {"_app_serving": release[0]}) for name, release in RELEASES.items()}
    return render_variants(tmp_path_factory.mktemp("app-release"), "app", variants,
                           {"release.prom": "{{ lookup('ansible.builtin.template', 'release.prom.j2') }}"},
                           LOCAL_INVENTORY, TEST_SECRETS)


@pytest.mark.parametrize("variant", RELEASES)
def test_release_metrics_name_the_release_its_version_and_switch_time(release_metrics, variant):
    import subprocess
    serving, version, switched = RELEASES[variant]
    text = (release_metrics[variant] / "release.prom").read_text()
    labels = f'{{release="{serving["id"]}",version="{version}"}}'
    assert f"cc_app_release_info{labels} 1\n" in text, text
    assert f"cc_app_release_switch_timestamp_seconds{labels} {switched}\n" in text, text
    # promtool check metrics: the exposition format node-exporter parses, with its lint rules.
    proc = subprocess.run(["docker", "run", "--rm", "-i", "--network", "none", "--log-driver", "none", "--entrypoint",
                           "/bin/promtool", "commandcenter/prometheus:2.53", "check", "metrics"],
                          input=text, capture_output=True, text=True, check=False, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
