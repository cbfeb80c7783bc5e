# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright (c) 2026, CommandCenter platform team
"""The monitoring UIs through the deployed Traefik (the monitoring role's tasks/routes.yml):
https://prometheus.DOMAIN and https://alertmanager.DOMAIN answer only to the dashboard
users (traefik_dashboard_users, basic auth), from outside the platform, over the
sandbox's CA. Grafana and Loki run from upstream images only, which cannot be pulled
here: inventories/local switches them off, so their routes must not exist (404), and
the test says that they were not run.
"""
from __future__ import annotations

import pytest
import yaml
from app_client import Client
from conftest import host_var, put_root_file

DYNAMIC_FILE = "/opt/commandcenter/traefik/dynamic/monitoring.yml"
NETRC = "/root/.cc-test-monitoring-netrc"
NOT_RUN = ("NOT RUN here: Grafana and Loki (upstream images grafana/grafana and grafana/loki only, not "
           "pullable in this scenario; inventories/local sets monitoring_grafana_enabled and "
           "monitoring_logs_enabled false): their routes were checked to be absent, not to work")


class MonitoringClient(Client):
    """The app tests' client, with the dashboard user's credentials for the monitoring names."""

    def netrc(self) -> str:
        if self._netrc is None:
            user = host_var("traefik_dashboard_users")[0]
            put_root_file(NETRC, "".join(f"machine {name}.{self.domain} login {user['name']} password {user['password']}\n"
                                         for name in ("prometheus", "alertmanager", "loki", "grafana")))
            self._netrc = NETRC
        return self._netrc


@pytest.fixture(scope="module")
def client(host):
    return MonitoringClient(host)


@pytest.fixture(scope="module")
def switches() -> dict[str, bool]:
    return {"grafana": bool(host_var("monitoring_grafana_enabled")), "loki": bool(host_var("monitoring_logs_enabled"))}


def test_the_dynamic_file_routes_the_parts_that_run(host, switches):
    content = yaml.safe_load(host.file(DYNAMIC_FILE).content_string)
    routers = content["http"]["routers"]
    expected = {"monitoring-prometheus", "monitoring-alertmanager"}
    expected |= {f"monitoring-{name}" for name, on in switches.items() if on}
    assert set(routers) == expected
    for name, router in routers.items():
        auth = "dashboard-auth@file" in router["middlewares"]
        assert auth == (name != "monitoring-grafana"), (name, router["middlewares"])


@pytest.mark.parametrize("name", ["prometheus", "alertmanager"])
def test_needs_the_dashboard_credentials(client, name):
    status, _ = client.curl(f"{name}.{client.domain}", "/-/ready")
    assert status == 401, f"{name}: {status} without credentials"
    status, _ = client.curl(f"{name}.{client.domain}", "/-/ready", "-u", "admin:not-the-password")
    assert status == 401, f"{name}: {status} with a wrong password"
    status, body = client.curl(f"{name}.{client.domain}", "/-/ready", netrc=True)
    assert status == 200, f"{name}: {status} with the dashboard user: {body[:300]}"


def test_grafana_and_loki_routes(client, switches):
    grafana = client.curl(f"grafana.{client.domain}", "/api/health")
    loki = client.curl(f"loki.{client.domain}", "/ready")
    if not switches["grafana"]:
        assert grafana[0] == 404, f"Grafana is off but grafana.{client.domain} answers {grafana[0]}"
    else:  # Grafana's own login: no basic auth in front of its health endpoint.
        assert grafana[0] == 200, grafana
    if not switches["loki"]:
        assert loki[0] == 404, f"Loki is off but loki.{client.domain} answers {loki[0]}"
    else:
        assert loki[0] == 401, loki
        assert client.curl(f"loki.{client.domain}", "/ready", netrc=True)[0] == 200
    if not (switches["grafana"] and switches["loki"]):
        print(NOT_RUN)
