# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright (c) 2026, CommandCenter platform team
"""The networks split by least privilege (docs/architecture.md, Networks), on the converged
site: the internet-facing containers (Traefik, its maintenance responder, the static
frontend) cannot open a TCP connection to PostgreSQL, Redis or NATS, neither by name (the
names do not resolve on their networks) nor by any of the data services' addresses (Docker
drops traffic between networks: the connection times out, never refused). The backend API, on the data
network, connects to all three by name: the control that shows the probe can succeed.

Every probe is bash's /dev/tcp under `timeout` inside the container (`docker exec`): each
of these images has bash, timeout and getent (the traefik, haproxy and frontend images
have no nc, python3 or curl in common). A probe prints how it ended:
  unresolved          the name does not resolve in the container (getent exit 2)
  connected           the TCP handshake completed
  timeout             no answer within PROBE_TIMEOUT seconds (timeout's exit 124)
  failed <message>    refused, unreachable, ... (bash's own message)
"""
from __future__ import annotations

import shlex

import pytest
from conftest import docker_json, inventory_hostvars, sh

HOSTVARS = inventory_hostvars()
# The data services: (compose project, service) -> the name and port clients use.
DATA_SERVICES = {
    "postgres": (("cc-postgres", "postgres"), int(HOSTVARS.get("app_database_port", 5432))),
    "redis": (("cc-redis", "redis"), int(HOSTVARS.get("redis_port", 6379))),
    "nats": (("cc-nats", "nats"), int(HOSTVARS.get("nats_client_port", 4222))),
}
EDGE = HOSTVARS.get("traefik_edge_network", "edge")
DATA = HOSTVARS.get("app_data_network", "data")
MONITORING = HOSTVARS.get("traefik_monitoring_network", "monitoring")
# Seconds a connection attempt may take: a refused or routed connection answers in
# milliseconds, a dropped one is what the timeout is for.
PROBE_TIMEOUT = 3

# Run with `bash -c SCRIPT probe <target> <port> [<target> <port> ...]`: every target at once
# (background jobs), one line "<target> <port> <result>" each.
PROBE = r"""
probe() {
  if [ -z "${1##*[!0-9.]*}" ] && ! getent hosts "$1" >/dev/null 2>&1; then
    echo "$1 $2 unresolved"; return
  fi
  out=$(timeout %(timeout)d bash -c 'exec 3<>"/dev/tcp/$1/$2"' probe "$1" "$2" 2>&1)
  case $? in
    0) echo "$1 $2 connected" ;;
    124) echo "$1 $2 timeout" ;;
    *) echo "$1 $2 failed ${out##*: }" ;;
  esac
}
while [ $# -gt 0 ]; do probe "$1" "$2" & shift 2; done
wait
""" % {"timeout": PROBE_TIMEOUT}


def container(host, project: str | None, service: str) -> dict:
    """The running container of a compose service (the first replica of the app's current release)."""
    labels = f"--filter label=com.docker.compose.service={service}"
    if project:
        labels += f" --filter label=com.docker.compose.project={project}"
    names = sh(host, f"docker ps {labels} --filter status=running --format '{{{{.Names}}}}'").split()
    assert names, f"no running container of service {service}" + (f" in {project}" if project else "")
    return docker_json(host, "inspect", sorted(names)[0])


def probe(host, name: str, targets: list[tuple[str, int]]) -> dict[tuple[str, int], str]:
    """Connect from inside container `name` to each (host, port) at once; each one's result."""
    argv = " ".join(f"{shlex.quote(t)} {port}" for t, port in targets)
    out = sh(host, f"docker exec {shlex.quote(name)} bash -c {shlex.quote(PROBE)} probe {argv}")
    results = {}
    for line in out.splitlines():
        target, port, result = line.split(" ", 2)
        results[(target, int(port))] = result
    assert set(results) == set(targets), f"{name}: no result for {set(targets) - set(results)}:\n{out}"
    return results


@pytest.fixture(scope="module")
def data_services(host) -> dict[str, dict]:
    return {alias: container(host, *ident) for alias, (ident, _port) in DATA_SERVICES.items()}


@pytest.fixture(scope="module")
def exposed(host) -> dict[str, dict]:
    """The internet-facing containers: Traefik, its maintenance responder, the frontend."""
    return {"traefik": container(host, "cc-traefik", "traefik"),
            "maintenance": container(host, "cc-traefik", "maintenance"),
            "frontend": container(host, None, "frontend")}


def networks(c: dict) -> set[str]:
    return set(c["NetworkSettings"]["Networks"])


def test_each_container_joins_only_its_networks(host, data_services, exposed):
    """Where each side is, as docker sees it: the data services on the data network alone,
    the internet-facing containers never on it, and the backend on all three."""
    for alias, c in data_services.items():
        assert networks(c) == {DATA}, f"{alias}: {sorted(networks(c))}"
    assert networks(exposed["traefik"]) == {EDGE, MONITORING}
    assert networks(exposed["maintenance"]) == {EDGE}
    assert networks(exposed["frontend"]) == {EDGE}
    backend = container(host, None, "backend")
    assert networks(backend) == {EDGE, DATA, MONITORING}
    # The old shared network is gone from a fresh site.
    assert "commandcenter" not in sh(host, "docker network ls --format '{{.Name}}'").split()


@pytest.mark.parametrize("source", ["traefik", "maintenance", "frontend"])
def test_exposed_containers_cannot_reach_the_data_services(host, data_services, exposed, source):
    """By name: the data services' names do not resolve there (not even to something that
    answers). By address: every address of every data service, on whatever network, is
    dropped on the way (timeout), never answered."""
    name = exposed[source]["Name"].lstrip("/")
    by_name = [(alias, port) for alias, (_ident, port) in DATA_SERVICES.items()]
    by_address = [(net["IPAddress"], DATA_SERVICES[alias][1])
                  for alias, c in data_services.items()
                  for net in c["NetworkSettings"]["Networks"].values() if net.get("IPAddress")]
    assert len(by_address) == len(DATA_SERVICES), by_address
    results = probe(host, name, by_name + by_address)
    print(f"{name}: " + ", ".join(f"{t}:{p} {r}" for (t, p), r in sorted(results.items())))
    for target in by_name:
        assert results[target] == "unresolved", f"{name} -> {target[0]}:{target[1]}: {results[target]}"
    for target in by_address:
        # Dropped between networks: no answer at all (or, with a rejecting firewall, no route).
        assert results[target] in ("timeout", "failed No route to host"), \
            f"{name} -> {target[0]}:{target[1]}: {results[target]}"


def test_backend_reaches_every_data_service(host, data_services):
    """The control: the same probe from the backend API (on the data network) connects to
    each data service by name and by its address on the data network."""
    name = container(host, None, "backend")["Name"].lstrip("/")
    targets = [(alias, port) for alias, (_ident, port) in DATA_SERVICES.items()]
    targets += [(c["NetworkSettings"]["Networks"][DATA]["IPAddress"], DATA_SERVICES[alias][1])
                for alias, c in data_services.items()]
    results = probe(host, name, targets)
    print(f"{name}: " + ", ".join(f"{t}:{p} {r}" for (t, p), r in sorted(results.items())))
    assert all(r == "connected" for r in results.values()), results
