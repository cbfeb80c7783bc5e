# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright (c) 2026, CommandCenter platform team
"""monitoring: Grafana's provisioning and the dashboards' queries, without Grafana.

- the provisioning templates (datasources, dashboards) and grafana.ini render with the
  role's Grafana defaults and with every variable changed, parse, and carry the fixed
  data source UIDs, the variables' URLs and the dashboards' path;
- a throwaway Prometheus accepts every PromQL expression of every dashboard (panels,
  deploy annotations, variable selectors) after tests/grafana_queries.py substituted the
  variables: a parse error or an unknown function fails, naming dashboard and panel. Its
  TSDB is empty, so no query returns data: whether they do is the Molecule test's job.
- LogQL cannot be checked here (no Loki): the test listing them is skipped saying so.

Needs Docker and the image commandcenter/prometheus:2.53 (`make images`); skipped with
the reason without them.
"""
from __future__ import annotations

import configparser
import importlib.util
import json
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
import yaml
from conftest import needs_images, render_variants

ROOT = Path(__file__).resolve().parents[2]
ROLE = ROOT / "roles" / "monitoring"
DASHBOARD_DIR = ROLE / "files" / "grafana" / "dashboards"
PROMETHEUS_IMAGE = "commandcenter/prometheus:2.53"
FIXED_UIDS = {"prometheus": "prometheus", "loki": "loki", "alertmanager": "alertmanager"}

pytestmark = needs_images(PROMETHEUS_IMAGE)


def _load_queries_module():
    """tests/grafana_queries.py, by file path: tests/ is not a package."""
    spec = importlib.util.spec_from_file_location("grafana_queries", ROOT / "tests" / "grafana_queries.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


gq = _load_queries_module()


OVERRIDES = {
    "monitoring_grafana_prometheus_url": "http://prom.monitoring.internal:9091",
    "monitoring_grafana_loki_url": "https://loki.example.org",
    "monitoring_grafana_alertmanager_url": "http://am:19093",
    "monitoring_grafana_scrape_interval": "30s",
    "monitoring_grafana_admin_user": "ops-admin",
    "monitoring_grafana_root_url": "https://grafana.example.org/",
    "monitoring_grafana_log_level": "warn",
    "monitoring_grafana_dashboards_path": "/srv/grafana/dashboards",
    "monitoring_grafana_dashboards_folder": "Platform: CommandCenter",
}
# name -> (with inventories/local?, extra variables); the provisioning needs no inventory.
VARIANTS = {
    "defaults": (False, None),
    "overrides": (False, OVERRIDES),
}
# The defaults the "defaults" rendering must show (templated ones as they render).
DEFAULTS = {**yaml.safe_load((ROLE / "defaults" / "main.yml").read_text()),
            "monitoring_grafana_prometheus_url": "http://prometheus:9090",
            "monitoring_grafana_scrape_interval": "15s"}
RENDERED = {
    "datasources.yml": "{{ lookup('ansible.builtin.template', 'grafana/provisioning/datasources.yml.j2') }}",
    "dashboards.yml": "{{ lookup('ansible.builtin.template', 'grafana/provisioning/dashboards.yml.j2') }}",
    "grafana.ini": "{{ lookup('ansible.builtin.template', 'grafana/grafana.ini.j2') }}",
}


@pytest.fixture(scope="module")
def renders(tmp_path_factory) -> dict[str, Path]:
    return render_variants(tmp_path_factory.mktemp("grafana-render"), "monitoring", VARIANTS, RENDERED, [], {})


def variables(variant: str) -> dict:
    return {**DEFAULTS, **(VARIANTS[variant][1] or {})}


def ini(out: Path) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None, comment_prefixes=(";", "#"))
    parser.read_string((out / "grafana.ini").read_text())
    return parser


# --- provisioning ---------------------------------------------------------------------

@pytest.mark.parametrize("variant", list(VARIANTS))
def test_datasources_have_the_fixed_uids_and_the_urls(renders, variant):
    v = variables(variant)
    doc = yaml.safe_load((renders[variant] / "datasources.yml").read_text())
    assert doc["apiVersion"] == 1
    by_uid = {ds["uid"]: ds for ds in doc["datasources"]}
    assert {uid: ds["type"] for uid, ds in by_uid.items()} == FIXED_UIDS
    assert by_uid["prometheus"]["url"] == v["monitoring_grafana_prometheus_url"]
    assert by_uid["loki"]["url"] == v["monitoring_grafana_loki_url"]
    assert by_uid["alertmanager"]["url"] == v["monitoring_grafana_alertmanager_url"]
    assert by_uid["alertmanager"]["jsonData"]["implementation"] == "prometheus"
    assert by_uid["prometheus"]["jsonData"]["timeInterval"] == v["monitoring_grafana_scrape_interval"]
    assert [uid for uid, ds in by_uid.items() if ds.get("isDefault")] == ["prometheus"]
    assert all(ds["access"] == "proxy" and ds["editable"] is False for ds in doc["datasources"])


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_dashboards_provider_reads_the_dashboards_path(renders, variant):
    v = variables(variant)
    doc = yaml.safe_load((renders[variant] / "dashboards.yml").read_text())
    assert doc["apiVersion"] == 1
    [provider] = doc["providers"]
    assert provider["type"] == "file"
    assert provider["options"]["path"] == v["monitoring_grafana_dashboards_path"]
    assert provider["folder"] == v["monitoring_grafana_dashboards_folder"]
    assert provider["allowUiUpdates"] is False and provider["disableDeletion"] is True


def test_every_dashboard_uses_only_the_provisioned_uids(renders):
    doc = yaml.safe_load((renders["defaults"] / "datasources.yml").read_text())
    provisioned = {ds["uid"] for ds in doc["datasources"]}
    for path in sorted(DASHBOARD_DIR.glob("*.json")):
        dashboard = json.loads(path.read_text())
        queries = gq.panel_queries(dashboard) + gq.annotation_queries(dashboard) + gq.variable_queries(dashboard)
        used = {query[2] for query in queries}
        assert used <= provisioned, f"{path.name}: {used - provisioned}"


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_grafana_ini(renders, variant):
    v = variables(variant)
    text = (renders[variant] / "grafana.ini").read_text()
    cfg = ini(renders[variant])
    assert cfg["security"]["admin_user"] == v["monitoring_grafana_admin_user"]
    assert "admin_password" not in cfg["security"], "the password comes from GF_SECURITY_ADMIN_PASSWORD__FILE"
    assert cfg["auth.anonymous"]["enabled"] == "false"
    assert cfg["users"]["allow_sign_up"] == "false"
    assert cfg["analytics"]["reporting_enabled"] == "false"
    assert cfg["analytics"]["check_for_updates"] == "false"
    assert cfg["plugins"]["preinstall_disabled"] == "true"
    assert cfg["log"]["level"] == v["monitoring_grafana_log_level"]
    assert cfg["dashboards"]["default_home_dashboard_path"] == \
        v["monitoring_grafana_dashboards_path"] + "/overview.json"
    assert (DASHBOARD_DIR / "overview.json").is_file()
    https = v["monitoring_grafana_root_url"].startswith("https://")
    assert cfg["security"]["cookie_secure"] == str(https).lower()
    assert cfg["server"].get("root_url", "") == v["monitoring_grafana_root_url"]
    assert "paths" not in cfg.sections(), "the image's GF_PATHS_* variables override [paths]"
    assert "{{" not in text and "{%" not in text


# --- the queries against Prometheus ---------------------------------------------------

def _all_queries() -> list[tuple[str, str, str, str]]:
    queries = []
    for path in sorted(DASHBOARD_DIR.glob("*.json")):
        dashboard = json.loads(path.read_text())
        queries += gq.panel_queries(dashboard) + gq.annotation_queries(dashboard) + gq.variable_queries(dashboard)
    return queries


QUERIES = _all_queries()
PROMQL = [q for q in QUERIES if q[2] == "prometheus"]
LOGQL = [q for q in QUERIES if q[2] == "loki"]


def _ids(queries) -> list[str]:
    seen: dict[str, int] = {}
    ids = []
    for uid, title, *_rest in queries:
        key = f"{uid}/{title}"
        seen[key] = seen.get(key, 0) + 1
        ids.append(f"{key}#{seen[key]}")
    return ids


@pytest.fixture(scope="module")
def prometheus(request) -> str:
    """The base URL of a throwaway Prometheus (its own default configuration, empty TSDB),
    published on a random loopback port; removed at the end of the module."""
    proc = subprocess.run(["docker", "run", "-d", "--rm", "-p", "127.0.0.1::9090", PROMETHEUS_IMAGE],
                          capture_output=True, text=True, check=True, timeout=120)
    container = proc.stdout.strip()
    request.addfinalizer(lambda: subprocess.run(["docker", "stop", "-t", "2", container],
                                                capture_output=True, check=False, timeout=60))
    port = subprocess.run(["docker", "port", container, "9090/tcp"], capture_output=True, text=True,
                          check=True, timeout=30).stdout.splitlines()[0].rsplit(":", 1)[1]
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(f"{base}/-/ready", timeout=2) as response:
                if response.status == 200:
                    return base
        except (urllib.error.URLError, ConnectionError, OSError):
            pass
        if time.monotonic() > deadline:
            logs = subprocess.run(["docker", "logs", container], capture_output=True, text=True, check=False)
            pytest.fail(f"Prometheus not ready after 60 s:\n{logs.stdout}{logs.stderr}")
        time.sleep(0.5)


def query(base: str, expr: str) -> dict:
    """POST /api/v1/query (as Grafana's data source does with httpMethod POST)."""
    data = urllib.parse.urlencode({"query": expr, "time": f"{time.time():.3f}"}).encode()
    try:
        with urllib.request.urlopen(urllib.request.Request(f"{base}/api/v1/query", data=data), timeout=30) as r:
            return json.loads(r.read())
    except urllib.error.HTTPError as exc:  # 400/422: the body says why
        return json.loads(exc.read() or b"{}") or {"status": "error", "error": str(exc)}


def test_there_are_queries_to_check():
    assert len(PROMQL) > 50 and LOGQL


@pytest.mark.parametrize(("uid", "title", "ds", "expr"), PROMQL, ids=_ids(PROMQL))
def test_prometheus_accepts_the_query(prometheus, uid, title, ds, expr):
    result = query(prometheus, expr)
    assert result.get("status") == "success", \
        f"dashboard {uid}, {title}: Prometheus refuses {expr!r}: {result.get('errorType')}: {result.get('error')}"


def test_prometheus_refuses_a_broken_query(prometheus):
    """The check above can fail: an unknown function and a parse error are refused."""
    for expr in ("rate_of(up[5m])", "sum(rate(up[5m])"):
        assert query(prometheus, expr)["status"] == "error", expr


def test_logql_is_not_checked_here():
    listing = "; ".join(f"{uid}/{title}: {expr}" for uid, title, _datasource, expr in LOGQL)
    pytest.skip(f"{len(LOGQL)} LogQL queries not checked (no Loki here): {listing}")
