# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright (c) 2026, CommandCenter platform team
"""cc-node's read-only Docker API proxy, as the role deployed it on the scenario's host
(host_vars/cc-monitoring.yml switches it on alone: cAdvisor and Alloy have no offline
image, inventories/local switches them off).

- cAdvisor and Alloy are not deployed (and the output says why);
- it runs healthy, as uid 99 with the socket's group and no capability, on the cc-node
  project's internal network only, and no other container of the host mounts the socket;
- a client on that network gets the read calls cAdvisor makes (version, a container's
  inspect) and 403 for a stop of a real container of the platform (node-exporter), which
  keeps running, and for the other endpoints tried; the proxy's log shows the refusals.
"""
from __future__ import annotations

import json
import shlex

from conftest import sh

PROXY = "cc-node-docker-api-proxy-1"
NETWORK = "cc-node_docker-api"
TARGET = "cc-node-node-exporter-1"
SOCKET = "/var/run/docker.sock"
NOT_RUN_HERE = ("cAdvisor and Grafana Alloy were NOT run in this scenario: no offline image of either exists "
                "(no Debian package, no registry reachable), so inventories/local switches them off "
                "(monitoring_cadvisor_enabled, monitoring_logs_enabled); their services are checked by "
                "tests/render/test_monitoring_agents.py, the proxy cAdvisor would use is tested here")


def inspect(host, name: str) -> dict:
    return json.loads(sh(host, "docker inspect %s", name))[0]


def client(host, *wget_args: str) -> tuple[int, str, str]:
    """busybox wget of the proxy's own image, in a throw-away container on the proxy's
    network (nothing else is there): (rc, body, stderr)."""
    image = inspect(host, PROXY)["Config"]["Image"]
    result = host.run("docker run --rm --network %s --entrypoint wget %s " + " ".join(["%s"] * len(wget_args)),
                      NETWORK, image, *wget_args)
    return result.rc, result.stdout, result.stderr


def get(host, path: str) -> str:
    rc, body, err = client(host, "-q", "-O", "-", f"http://docker-api-proxy:2375{path}")
    assert rc == 0, f"GET {path}: {err}"
    return body


def refused(host, path: str, post: bool = False) -> str:
    """The request fails with 403 (busybox wget names the status it got)."""
    args = ["-q", "-O", "-"] + (["--post-data", "{}"] if post else []) + [f"http://docker-api-proxy:2375{path}"]
    rc, _, err = client(host, *args)
    assert rc != 0 and "403" in err, f"{'POST' if post else 'GET'} {path}: rc {rc}, {err}"
    return err


def test_cadvisor_and_alloy_are_not_deployed_here(host):
    """Their switches are off here: cc-node has node-exporter and the proxy only. Said in the
    output of every run (Molecule shows what passing tests print)."""
    services = sh(host, "docker ps -a --filter label=com.docker.compose.project=cc-node "
                        "--format '{{.Label \"com.docker.compose.service\"}}'").split()
    assert sorted(services) == ["docker-api-proxy", "node-exporter"], services
    print(NOT_RUN_HERE)


def test_the_proxy_runs_unprivileged_on_the_internal_network_only(host):
    proxy = inspect(host, PROXY)
    assert proxy["State"]["Health"]["Status"] == "healthy"
    assert proxy["Config"]["User"] == "99:99"
    socket_gid = sh(host, "stat -c %%g %s", SOCKET)
    assert proxy["HostConfig"]["GroupAdd"] == [socket_gid]
    assert proxy["HostConfig"]["CapDrop"] == ["ALL"] and not proxy["HostConfig"]["CapAdd"]
    assert proxy["HostConfig"]["ReadonlyRootfs"] is True
    assert proxy["HostConfig"]["SecurityOpt"] == ["no-new-privileges:true"]
    assert not proxy["HostConfig"]["Privileged"] and not proxy["HostConfig"]["PortBindings"]
    assert set(proxy["NetworkSettings"]["Networks"]) == {NETWORK}
    assert json.loads(sh(host, "docker network inspect %s", NETWORK))[0]["Internal"] is True
    # Nothing else of the platform joins it (cAdvisor would, and is not deployed here).
    members = json.loads(sh(host, "docker network inspect %s", NETWORK))[0]["Containers"]
    assert sorted(m["Name"] for m in members.values()) == [PROXY]


def test_no_other_container_mounts_the_docker_socket(host):
    names = sh(host, "docker ps -a --format '{{.Names}}'").split()
    mounting = sorted(n for n in names if any(
        m.get("Source") in (SOCKET, "/run/docker.sock", "/var/run", "/run") for m in inspect(host, n)["Mounts"]))
    assert mounting == [PROXY], mounting
    print(f"containers on the host: {len(names)}; the only one with Docker's socket: {PROXY}")


def test_a_client_gets_cadvisors_read_calls(host):
    version = json.loads(get(host, "/version"))
    assert version["ApiVersion"], version
    target_id = inspect(host, TARGET)["Id"]
    inspected = json.loads(get(host, f"/v{version['ApiVersion']}/containers/{target_id}/json"))
    assert inspected["Name"] == f"/{TARGET}"
    assert json.loads(get(host, "/info"))["ServerVersion"] == version["Version"]
    print(f"through the proxy: /version (Docker {version['Version']}, API {version['ApiVersion']}), /info and "
          f"the inspect of {TARGET}: 200")


def test_a_stop_of_a_real_container_is_refused_and_it_keeps_running(host):
    target = inspect(host, TARGET)
    try:
        refused(host, f"/containers/{target['Id']}/stop", post=True)
        refused(host, f"/v1.41/containers/{target['Id']}/kill", post=True)
        refused(host, "/containers/create", post=True)
        refused(host, f"/containers/{target['Id']}/exec", post=True)
        refused(host, f"/containers/{target['Id']}/archive?path=/")
        refused(host, f"/containers/{target['Id']}/logs?stdout=1")
        refused(host, "/containers/json")
        refused(host, "/secrets")
    finally:
        after = inspect(host, TARGET)
        if not after["State"]["Running"]:
            host.run("docker start %s", TARGET)
    assert after["State"]["Running"] is True
    assert after["State"]["StartedAt"] == target["State"]["StartedAt"], "not stopped, not restarted"
    log = host.run("docker logs %s", PROXY)
    assert f"POST /containers/{target['Id']}/stop" in log.stdout + log.stderr
    print(f"through the proxy: stop/kill of {TARGET}, create, exec, archive, logs, /containers/json, /secrets: "
          f"403; {TARGET} still running since {shlex.quote(after['State']['StartedAt'])}")
