# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright (c) 2026, CommandCenter platform team
"""monitoring: Grafana's dashboards (roles/monitoring/files/grafana/dashboards/*.json),
checked without Grafana.

- every file is JSON formatted with 2-space indentation, the six dashboards are there,
  their uids and titles unique, each with the tag commandcenter, the schemaVersion of
  the pinned Grafana and the time range now-6h;
- every panel, target, annotation and variable names a data source the provisioning
  creates (the UIDs and types come from the datasources template, rendered here with the
  role's Grafana defaults), with a type that matches it;
- every query is non-empty, every metric it reads is one the exporters really emit
  (KNOWN_METRICS), and every template variable it uses is defined;
- every dashboard with time series carries the deploy annotation;
- tests/grafana_queries.py walks nested rows and substitutes variables.

Whether Prometheus accepts every query is tests/render/test_monitoring_grafana.py.
"""
from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path

import jinja2
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
ROLE = ROOT / "roles" / "monitoring"
DASHBOARD_DIR = ROLE / "files" / "grafana" / "dashboards"
DATASOURCES_TEMPLATE = ROLE / "templates" / "grafana" / "provisioning" / "datasources.yml.j2"
GRAFANA_DEFAULTS = ROLE / "defaults" / "main.yml"


def _load_queries_module():
    """tests/grafana_queries.py, by file path: tests/ is not a package."""
    spec = importlib.util.spec_from_file_location("grafana_queries", ROOT / "tests" / "grafana_queries.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


gq = _load_queries_module()

# file -> (uid, title): the six dashboards, with the uids links and bookmarks rely on.
EXPECTED = {
    "overview.json": ("cc-overview", "CommandCenter overview"),
    "golden-signals.json": ("cc-golden-signals", "Golden signals"),
    "database.json": ("cc-database", "Database performance"),
    "errors.json": ("cc-errors", "Error tracking"),
    "celery.json": ("cc-celery", "Celery deep dive"),
    "hosts.json": ("cc-hosts", "Hosts and containers"),
}
# The dashboard schema of each Grafana minor the image pin may name (the JSON declares it).
SCHEMA_VERSIONS = {"12.0": 41}
DEPLOY_METRIC = "cc_app_release_switch_timestamp_seconds"
TIME_SERIES_TYPES = {"timeseries", "state-timeline"}

# Every metric a dashboard may read, by the program that emits it (names as exported, with
# the _bucket/_total suffixes): a misspelt or invented name fails here, not as an empty
# panel in production.
KNOWN_METRICS = {
    # Prometheus itself (up per scrape target, ALERTS from the rule evaluation)
    "up", "ALERTS",
    # node-exporter 1.9 (cpu, meminfo, filesystem, diskstats, netdev, loadavg, uname)
    "node_cpu_seconds_total", "node_memory_MemTotal_bytes", "node_memory_MemAvailable_bytes",
    "node_memory_SwapTotal_bytes", "node_memory_SwapFree_bytes", "node_filesystem_avail_bytes",
    "node_filesystem_size_bytes", "node_disk_read_bytes_total", "node_disk_written_bytes_total",
    "node_disk_io_time_seconds_total", "node_network_receive_bytes_total", "node_network_transmit_bytes_total",
    "node_network_receive_errs_total", "node_network_transmit_errs_total", "node_network_receive_drop_total",
    "node_network_transmit_drop_total", "node_load1", "node_load5", "node_load15", "node_uname_info",
    # cAdvisor
    "container_cpu_usage_seconds_total", "container_memory_working_set_bytes", "container_spec_memory_limit_bytes",
    "container_last_seen", "container_start_time_seconds", "container_oom_events_total",
    "container_network_receive_bytes_total", "container_network_transmit_bytes_total",
    # postgres_exporter 0.17 (pg_stat_database's counters have no _total suffix)
    "pg_up", "pg_settings_max_connections", "pg_stat_activity_count", "pg_stat_activity_max_tx_duration",
    "pg_stat_database_xact_commit", "pg_stat_database_xact_rollback", "pg_stat_database_blks_hit",
    "pg_stat_database_blks_read", "pg_stat_database_deadlocks", "pg_stat_database_tup_fetched",
    "pg_stat_database_tup_inserted", "pg_stat_database_tup_updated", "pg_stat_database_tup_deleted",
    "pg_database_size_bytes", "pg_locks_count",
    # redis_exporter 1.69 (redis_key_size: --check-single-keys)
    "redis_key_size",
    # Traefik 3
    "traefik_service_requests_total", "traefik_service_request_duration_seconds_bucket",
    "traefik_entrypoint_requests_total",
    # Flower's /metrics
    "flower_worker_online", "flower_events_total", "flower_task_runtime_seconds_bucket",
    "flower_worker_number_of_currently_executing_tasks", "flower_worker_prefetched_tasks",
    # the reference backend (commandcenter_ref.api and .db)
    "cc_http_requests_total", "cc_http_request_duration_seconds_bucket", "cc_db_pool_checked_out_connections",
    "cc_db_pool_max_connections", "cc_db_query_duration_seconds_bucket",
    # the app role's release switch (node-exporter's textfile collector)
    DEPLOY_METRIC,
}
# What each dashboard must at least read (the metrics its purpose names).
REQUIRED_METRICS = {
    "cc-overview": {"up", "traefik_service_requests_total", "cc_http_requests_total",
                    "traefik_service_request_duration_seconds_bucket", "container_last_seen", "ALERTS"},
    "cc-golden-signals": {"traefik_service_request_duration_seconds_bucket", "cc_http_request_duration_seconds_bucket",
                          "traefik_service_requests_total", "cc_http_requests_total", "node_cpu_seconds_total",
                          "node_memory_MemAvailable_bytes", "node_filesystem_avail_bytes"},
    "cc-database": {"pg_up", "pg_stat_activity_count", "pg_settings_max_connections", "pg_stat_database_xact_commit",
                    "pg_stat_database_blks_hit", "pg_stat_database_deadlocks", "pg_database_size_bytes",
                    "pg_locks_count"},
    "cc-errors": {"cc_http_requests_total", "traefik_service_requests_total"},
    "cc-celery": {"flower_worker_online", "flower_events_total", "flower_task_runtime_seconds_bucket",
                  "flower_worker_number_of_currently_executing_tasks", "redis_key_size"},
    "cc-hosts": {"node_cpu_seconds_total", "node_memory_MemAvailable_bytes", "node_filesystem_avail_bytes",
                 "node_network_receive_bytes_total", "node_load1", "container_cpu_usage_seconds_total",
                 "container_memory_working_set_bytes", "container_spec_memory_limit_bytes",
                 "container_start_time_seconds"},
}
# PromQL words that are not metric names (keywords, set operators, modifiers).
PROMQL_WORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or", "unless",
                "offset", "inf", "nan"}
SCRAPE_JOBS = {"prometheus", "backend", "postgres", "redis", "node", "cadvisor", "traefik", "alertmanager", "nats",
               "blackbox", "flower"}


def provisioned_datasources() -> dict[str, str]:
    """uid -> type of the provisioned data sources: the datasources template rendered with
    the role's Grafana defaults (to_json as Ansible's; nothing else is used there)."""
    env = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    env.filters["to_json"] = json.dumps
    text = env.from_string(DATASOURCES_TEMPLATE.read_text()).render(**yaml.safe_load(GRAFANA_DEFAULTS.read_text()))
    return {ds["uid"]: ds["type"] for ds in yaml.safe_load(text)["datasources"]}


DATASOURCES = provisioned_datasources()
FILES = sorted(p.name for p in DASHBOARD_DIR.glob("*.json"))


def load(name: str) -> dict:
    return json.loads((DASHBOARD_DIR / name).read_text())


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression reads: identifiers outside strings, label
    matchers, ranges and grouping lists that are not function calls or keywords."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    text = re.sub(r"\{[^}]*\}", " ", text)
    text = re.sub(r"\[[^\]]*\]", " ", text)
    text = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text)
    names = set()
    for match in re.finditer(r"(?<![\w.])([A-Za-z_:][\w:]*)(?![\w:])(?!\s*\()", text):
        if match.group(1).lower() not in PROMQL_WORDS:
            names.add(match.group(1))
    return names


def all_queries(dashboard: dict) -> list[tuple[str, str, str, str]]:
    return gq.panel_queries(dashboard) + gq.annotation_queries(dashboard) + gq.variable_queries(dashboard)


def test_the_provisioned_datasources_have_the_fixed_uids():
    assert DATASOURCES == {"prometheus": "prometheus", "loki": "loki", "alertmanager": "alertmanager"}


def test_the_six_dashboards_are_there():
    assert sorted(EXPECTED) == FILES


@pytest.mark.parametrize("name", FILES)
def test_dashboard_is_formatted_json(name):
    text = (DASHBOARD_DIR / name).read_text()
    assert text == json.dumps(json.loads(text), indent=2, ensure_ascii=False) + "\n", \
        f"{name}: not formatted with 2-space indentation (json.dumps(..., indent=2) + newline)"


def test_uids_and_titles_are_unique():
    dashboards = [load(name) for name in FILES]
    assert len({d["uid"] for d in dashboards}) == len(dashboards)
    assert len({d["title"] for d in dashboards}) == len(dashboards)


@pytest.mark.parametrize("name", FILES)
def test_dashboard_header(name):
    dashboard = load(name)
    image = yaml.safe_load(GRAFANA_DEFAULTS.read_text())["monitoring_grafana_image"]
    minor = ".".join(image.rsplit(":", 1)[1].split(".")[:2])
    assert (dashboard["uid"], dashboard["title"]) == EXPECTED[name]
    assert len(dashboard["uid"]) <= 40 and re.fullmatch(r"[a-z0-9-]+", dashboard["uid"])
    assert "commandcenter" in dashboard["tags"]
    assert dashboard["schemaVersion"] == SCHEMA_VERSIONS[minor], f"schemaVersion of Grafana {minor}"
    assert dashboard["time"] == {"from": "now-6h", "to": "now"}
    # Provisioning matches by uid: a fixed numeric id would clash across instances.
    assert dashboard.get("id") is None


@pytest.mark.parametrize("name", FILES)
def test_panel_ids_are_unique_and_panels_titled(name):
    panels = list(gq.walk_panels(load(name)["panels"]))
    ids = [p["id"] for p in panels]
    assert len(ids) == len(set(ids)), f"{name}: duplicate panel ids"
    assert all(p.get("title") for p in panels), f"{name}: a panel without a title"


def _refs(dashboard: dict):
    """(where, datasource reference) of every panel, target, annotation and variable."""
    for panel in gq.walk_panels(dashboard["panels"]):
        if panel["type"] == "row":
            continue
        yield f"panel {panel['title']!r}", panel.get("datasource")
        for target in panel.get("targets", []):
            yield f"panel {panel['title']!r} target {target.get('refId')}", target.get("datasource")
    for annotation in dashboard["annotations"]["list"]:
        yield f"annotation {annotation.get('name')!r}", annotation.get("datasource")
    for var in dashboard["templating"]["list"]:
        if var["type"] == "query":
            yield f"variable {var['name']!r}", var.get("datasource")


@pytest.mark.parametrize("name", FILES)
def test_every_datasource_is_a_provisioned_uid(name):
    dashboard = load(name)
    values = gq.variable_values(dashboard)
    problems = []
    for where, ref in _refs(dashboard):
        if not isinstance(ref, dict) or not {"type", "uid"} <= set(ref):
            problems.append(f"{where}: datasource {ref!r} is not {{type, uid}}")
            continue
        uid = gq.substitute(ref["uid"], values)
        if DATASOURCES.get(uid) != ref["type"]:
            problems.append(f"{where}: {ref!r} names no provisioned data source {DATASOURCES}")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("name", FILES)
def test_every_query_is_non_empty_and_reads_known_metrics(name):
    dashboard = load(name)
    queries = gq.panel_queries(dashboard)
    targets = [p for p in gq.walk_panels(dashboard["panels"]) if p["type"] != "row"]
    assert all(p.get("targets") for p in targets), f"{name}: a panel without a query"
    unknown = []
    read = set()
    for uid, title, ds, expr in all_queries(dashboard):
        assert expr.strip(), f"{uid} / {title}: empty query"
        assert "$" not in expr and "[[" not in expr, f"{uid} / {title}: variable left in {expr!r}"
        if ds == "prometheus":
            names = metric_names(expr)
            assert names, f"{uid} / {title}: reads no metric: {expr!r}"
            unknown += [f"{title}: {n}" for n in sorted(names - KNOWN_METRICS)]
            read |= names
            for job in re.findall(r'\bjob="([^"]+)"', expr):
                assert job in SCRAPE_JOBS, f"{uid} / {title}: unknown scrape job {job!r}"
        elif ds == "loki":
            # LogQL: a stream selector with at least one matcher that is not empty-compatible.
            assert re.search(r'\{\s*\w+\s*(=|=~)\s*"[^"]*[^"*]"', expr), f"{uid} / {title}: {expr!r}"
    assert not unknown, f"{name}: metrics no exporter emits: {unknown}"
    assert not REQUIRED_METRICS[dashboard["uid"]] - read, f"{name}: missing {REQUIRED_METRICS[dashboard['uid']] - read}"
    assert len(queries) >= 5


def test_error_tracking_reads_error_lines_from_loki():
    loki = [q for q in gq.panel_queries(load("errors.json")) if q[2] == "loki"]
    assert loki, "no Loki query on the error tracking dashboard"
    assert any(query[3].startswith("{") for query in loki), "no log lines panel"
    # level is a stream label (the log shipper sets it from the JSON level or the journal
    # priority), so the selector itself picks the error lines.
    assert all(re.search(r'\{[^}]*\blevel=~?"[^"]*\berror\b', expr) for query in loki for expr in [query[3]]), loki


@pytest.mark.parametrize("name", FILES)
def test_time_series_dashboards_show_the_deploys(name):
    dashboard = load(name)
    if not any(p["type"] in TIME_SERIES_TYPES for p in gq.walk_panels(dashboard["panels"])):
        pytest.skip(f"{name} has no time series")
    deploys = [a for a in dashboard["annotations"]["list"] if DEPLOY_METRIC in (a.get("target") or {}).get("expr", "")]
    assert len(deploys) == 1, f"{name}: no (or more than one) annotation on {DEPLOY_METRIC}"
    deploy = deploys[0]
    assert deploy["datasource"] == {"type": "prometheus", "uid": "prometheus"}
    assert deploy["enable"] is True and "{{version}}" in deploy["titleFormat"]
    # The value is the switch time in seconds; Grafana places the annotation at the value
    # in milliseconds (useValueForTime).
    assert deploy["useValueForTime"] is True and deploy["target"]["expr"].endswith("* 1000")
    assert deploy.get("expr", deploy["target"]["expr"]) == deploy["target"]["expr"]


@pytest.mark.parametrize("name", FILES)
def test_variables_are_simple(name):
    for var in load(name)["templating"]["list"]:
        assert var["type"] in {"query", "custom"}, f"{name}: variable {var['name']} is {var['type']}"
        if var["type"] == "query":
            assert gq.variable_queries({"templating": {"list": [var]}}), f"{name}: {var['name']} not label_values"
        if var.get("includeAll"):
            assert var.get("allValue") in {".*", ".+"}


def test_metric_names_of_an_expression():
    expr = ('sum by (job, le) (rate(foo_bucket{job="x",le=~"1"}[5m])) / on (job) group_left max(bar) '
            "or on () vector(0) > bool 1")
    assert metric_names(expr) == {"foo_bucket", "bar"}


# --- tests/grafana_queries.py -------------------------------------------------------

INLINE = {
    "uid": "inline",
    "templating": {"list": [
        {"name": "instance", "type": "query", "includeAll": True, "allValue": ".+",
         "current": {"text": ["All"], "value": ["$__all"]}},
        {"name": "job", "type": "custom", "includeAll": False, "current": {"text": "node", "value": "node"}},
        {"name": "mode", "type": "custom", "current": {}},
        {"name": "datasource", "type": "datasource", "query": "prometheus",
         "current": {"text": "Prometheus", "value": "prometheus"}},
    ]},
    "annotations": {"list": [
        {"name": "Annotations & Alerts", "builtIn": 1, "datasource": {"type": "grafana", "uid": "-- Grafana --"}},
        {"name": "Deploys", "datasource": {"type": "prometheus", "uid": "prometheus"},
         "target": {"expr": "changes(deploy{job=\"$job\"}[$__interval]) > 0"}},
    ]},
    "panels": [
        {"type": "stat", "title": "Top", "datasource": {"type": "prometheus", "uid": "prometheus"},
         "targets": [{"refId": "A", "expr": 'up{job="[[job]]"}'}]},
        {"type": "row", "title": "Collapsed", "collapsed": True, "panels": [
            {"type": "timeseries", "title": "Nested", "datasource": {"type": "prometheus", "uid": "${datasource}"},
             "targets": [
                {"refId": "A",
                 "expr": 'rate(node_cpu_seconds_total{instance=~"$instance",mode=~"${mode}"}[$__rate_interval])'},
                {"refId": "B", "expr": "increase(x_total{instance=~\"${instance:regex}\"}[$__range])",
                 "datasource": {"type": "loki", "uid": "loki"}},
            ]},
        ]},
        {"type": "row", "title": "Open", "collapsed": False, "panels": []},
        {"type": "logs", "title": "Logs", "datasource": {"type": "loki", "uid": "loki"},
         "targets": [{"refId": "A", "expr": '{service_name=~".+"} | json | level="error"'}]},
    ],
}


def test_panel_queries_walks_rows_and_substitutes_variables():
    assert gq.panel_queries(INLINE) == [
        ("inline", "Top", "prometheus", 'up{job="node"}'),
        ("inline", "Nested", "prometheus", 'rate(node_cpu_seconds_total{instance=~".+",mode=~".*"}[5m])'),
        ("inline", "Nested", "loki", 'increase(x_total{instance=~".+"}[6h])'),
        ("inline", "Logs", "loki", '{service_name=~".+"} | json | level="error"'),
    ]


def test_panel_queries_takes_overrides():
    queries = gq.panel_queries(INLINE, {"instance": "host1:9100", "__rate_interval": "2m"})
    assert queries[1][3] == 'rate(node_cpu_seconds_total{instance=~"host1:9100",mode=~".*"}[2m])'


def test_annotation_and_variable_queries():
    assert gq.annotation_queries(INLINE) == [
        ("inline", "annotation: Deploys", "prometheus", 'changes(deploy{job="node"}[1m]) > 0')]
    dashboard = {"uid": "v", "templating": {"list": [
        {"name": "instance", "type": "query", "datasource": {"type": "prometheus", "uid": "prometheus"},
         "query": {"query": 'label_values(node_uname_info{job="node"}, instance)'}}]}}
    assert gq.variable_queries(dashboard) == [
        ("v", "variable: instance", "prometheus", 'node_uname_info{job="node"}')]


def test_an_undefined_variable_is_an_error():
    dashboard = {"uid": "u", "panels": [{"type": "stat", "title": "T", "targets": [{"expr": 'up{job="$nope"}'}]}]}
    with pytest.raises(gq.UnknownVariable, match=r"\$nope"):
        gq.panel_queries(dashboard)
