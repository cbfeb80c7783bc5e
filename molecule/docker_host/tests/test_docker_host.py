# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright (c) 2026, CommandCenter platform team
"""docker_host: the engine works as configured, not merely installed."""
import json
import os
import uuid

import pytest
from conftest import docker_json, sh

REGISTRY = os.environ.get("CC_REGISTRY_HOST", "172.17.0.1:5000")
IMAGE = f"{REGISTRY}/commandcenter/debian:trixie"
# perl-base is in every Debian image: a one-file HTTP server and client without extra packages.
SERVER = ("perl -MIO::Socket::INET -e '$s=IO::Socket::INET->new(LocalPort=>8080,Listen=>5,ReuseAddr=>1)"
          " or die $!; while($c=$s->accept){print $c \"HTTP/1.0 200 OK\\r\\n\\r\\ncc-answer\\n\"; close $c}'")
CLIENT = ("perl -MIO::Socket::INET -e 'for(1..50){$c=IO::Socket::INET->new(PeerAddr=>\"%s:8080\") and last;"
          " select(undef,undef,undef,0.2)} $c or die \"no answer\"; print $c \"GET / HTTP/1.0\\r\\n\\r\\n\";"
          " print while <$c>'")


def test_engine_is_active_and_enabled(host):
    docker = host.service("docker")
    assert docker.is_running
    assert docker.is_enabled


def test_distro_packages_installed(host):
    for name in ("docker.io", "docker-cli", "docker-compose"):
        assert host.package(name).is_installed, name


def test_compose_is_v2(host):
    assert sh(host, "docker compose version --short").lstrip("v").startswith("2.")


def test_docker_info_reflects_daemon_json(host):
    info = docker_json(host, "info")
    # One Docker host: no swarm (a swarm is formed only with several), so live-restore stays on.
    assert info["Swarm"]["LocalNodeState"] == "inactive", info["Swarm"]
    assert info["LiveRestoreEnabled"] is True
    assert info["LoggingDriver"] == "json-file"
    assert f"{REGISTRY.split(':')[0]}" in json.dumps(info["RegistryConfig"]["IndexConfigs"]) or \
        any(REGISTRY.split(":")[0] in c for c in info["RegistryConfig"]["InsecureRegistryCIDRs"])
    daemon = json.loads(host.file("/etc/docker/daemon.json").content_string)
    assert daemon["log-opts"] == {"max-size": "20m", "max-file": "4"}
    assert daemon["icc"] is False and daemon["userland-proxy"] is False


def test_shared_networks_exist(host):
    for name in ("edge", "data", "monitoring"):
        assert docker_json(host, "network", "inspect", name)["Driver"] == "bridge"


def test_operator_is_in_docker_group(host):
    assert "docker" in host.user("cc-operator").groups


@pytest.fixture()
def server(host):
    """A container from the local registry, serving HTTP on the data network."""
    name = f"cc-probe-{uuid.uuid4().hex[:8]}"
    sh(host, f"docker pull -q {IMAGE}")
    sh(host, f"docker run -d --name {name} --network data {IMAGE} sh -c %s", SERVER)
    yield name
    host.run(f"docker rm -f {name}")


def test_registry_image_runs_and_answers(host, server):
    out = sh(host, f"docker run --rm --network data {IMAGE} sh -c %s", CLIENT % server)
    assert "200 OK" in out and "cc-answer" in out


def test_containers_get_daemon_defaults(host, server):
    log_config = docker_json(host, "inspect", server)["HostConfig"]["LogConfig"]
    assert log_config == {"Type": "json-file", "Config": {"max-size": "20m", "max-file": "4"}}
    status = sh(host, f"docker exec {server} cat /proc/1/status")
    assert "NoNewPrivs:\t1" in status


def test_invalid_daemon_json_is_refused_and_engine_untouched(host, converge):
    before = host.file("/etc/docker/daemon.json").content_string
    pid = sh(host, "systemctl show -p MainPID --value docker")
    run = converge(extra_vars={"docker_host_daemon_options": {"log-level": "chatty"}})
    assert run.returncode != 0, "a daemon.json dockerd refuses must fail the play"
    output = " ".join(run.output.split())
    assert "daemon.json: not installed, its check refused the new content" in output, output[-4000:]
    assert "invalid logging level: chatty" in output, output[-4000:]
    assert host.file("/etc/docker/daemon.json").content_string == before
    assert sh(host, "systemctl show -p MainPID --value docker") == pid
    assert host.service("docker").is_running
