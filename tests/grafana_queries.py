# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright (c) 2026, CommandCenter platform team
"""The queries of a Grafana dashboard (JSON model), ready to send to Prometheus or Loki.

Shared by the unit and render tests of the monitoring role's dashboards and by the
Molecule check that runs every panel's query against a live Prometheus:

    import grafana_queries          # tests/ on sys.path, or load it by file path
    for uid, title, ds_uid, expr in grafana_queries.panel_queries(json.loads(text)):
        if ds_uid == "prometheus": ...

Template variables are replaced by concrete values, so the expression is valid PromQL or
LogQL as is: Grafana's interval variables by fixed durations (INTERVALS), a dashboard
variable by its "All" value (allValue, else `.*`) when it offers one, else by its current
value. A variable the dashboard does not define is an error (a typo in a query would
otherwise reach Prometheus as a literal `$name`).
"""
from __future__ import annotations

import re
from collections.abc import Iterator

# Grafana's built-in variables and the value each one stands for here: a rate window
# holding several scrapes, a step, and the dashboards' default time range (now-6h).
INTERVALS = {
    "__rate_interval": "5m",
    "__interval": "1m",
    "__interval_ms": "60000",
    "__auto": "1m",
    "__range": "6h",
    "__range_s": "21600",
    "__range_ms": "21600000",
}
# The value of a variable that matches everything (used in =~ matchers), as Grafana's "All".
ALL = ".*"

# $name, ${name}, ${name:format}, [[name]], [[name:format]]; a name is \w+ (Grafana's rule).
_VARIABLE = re.compile(r"\$\{(\w+)(?::[^}]*)?\}|\[\[(\w+)(?::[^\]]*)?\]\]|\$(\w+)")

Query = tuple[str, str, str, str]


class UnknownVariable(ValueError):
    """A query uses a variable that is neither built in nor defined by the dashboard."""


def _current(current: dict | None):
    value = (current or {}).get("value")
    if isinstance(value, list):
        value = value[0] if len(value) == 1 else None
    return value


def variable_values(dashboard: dict, overrides: dict[str, str] | None = None) -> dict[str, str]:
    """name -> substituted value of every variable the dashboard can use: the built-in
    intervals, then the dashboard's template variables, then `overrides` (e.g. a test
    pinning $instance to one host)."""
    values = dict(INTERVALS)
    for var in dashboard.get("templating", {}).get("list", []):
        name, current = var["name"], _current(var.get("current"))
        if var.get("type") == "datasource":
            # A data source variable stands for a data source UID (resolved by _datasource).
            values[name] = current if current not in (None, "", "$__all", "default") else var.get("query", "")
        elif var.get("includeAll") or current in (None, "", "$__all"):
            values[name] = var.get("allValue") or ALL
        else:
            values[name] = str(current)
    values.update(overrides or {})
    return values


def substitute(expr: str, values: dict[str, str]) -> str:
    """expr with every variable reference replaced by its value (UnknownVariable if undefined)."""
    def replace(match: re.Match) -> str:
        name = next(group for group in match.groups() if group)
        if name not in values:
            raise UnknownVariable(f"undefined variable {match.group(0)!r} in {expr!r}")
        return values[name]
    return _VARIABLE.sub(replace, expr)


def walk_panels(panels: list[dict]) -> Iterator[dict]:
    """Every panel, depth first: a row's panels (a collapsed row keeps them in its own
    `panels` list) right after the row itself."""
    for panel in panels or []:
        yield panel
        yield from walk_panels(panel.get("panels", []))


def _datasource(ref, values: dict[str, str]) -> str:
    """The UID a panel's or target's datasource reference names ("" for none).

    A reference is {"type": ..., "uid": ...} (Grafana 8.3+) or a bare name/UID string
    (older models); a UID of "${datasource}" is resolved through the variables."""
    if ref is None:
        return ""
    uid = ref.get("uid", "") if isinstance(ref, dict) else str(ref)
    return substitute(uid, values) if uid else ""


def _expression(target: dict) -> str:
    # Prometheus and Loki both keep their query in `expr`; `query` is a fallback some
    # older Loki panels used.
    return target.get("expr") or target.get("query") or ""


def panel_queries(dashboard: dict, variables: dict[str, str] | None = None) -> list[Query]:
    """(dashboard uid, panel title, data source uid, expression) for every target of every
    panel (nested rows included), variables substituted. A target without a data source
    of its own uses its panel's; a hidden target (`hide: true`) is still listed: Grafana
    does not draw it, but it must still parse."""
    values = variable_values(dashboard, variables)
    queries = []
    for panel in walk_panels(dashboard.get("panels", [])):
        panel_ds = _datasource(panel.get("datasource"), values)
        for target in panel.get("targets") or []:
            ds = _datasource(target.get("datasource"), values) or panel_ds
            queries.append((dashboard.get("uid", ""), panel.get("title", ""), ds,
                            substitute(_expression(target), values)))
    return queries


def annotation_queries(dashboard: dict, variables: dict[str, str] | None = None) -> list[Query]:
    """(dashboard uid, "annotation: <name>", data source uid, expression) for every
    annotation query with an expression (Grafana's built-in annotations have none). The
    Prometheus annotation editor keeps the query in `target.expr`; older models in `expr`."""
    values = variable_values(dashboard, variables)
    queries = []
    for annotation in dashboard.get("annotations", {}).get("list", []):
        expr = (annotation.get("target") or {}).get("expr") or annotation.get("expr") or ""
        if expr:
            queries.append((dashboard.get("uid", ""), f"annotation: {annotation.get('name', '')}",
                            _datasource(annotation.get("datasource"), values), substitute(expr, values)))
    return queries


def variable_queries(dashboard: dict) -> list[Query]:
    """(dashboard uid, "variable: <name>", data source uid, selector) for every Prometheus
    query variable of the form label_values(<selector>, <label>): the selector is PromQL
    (label_values itself is Grafana's, not Prometheus's). Other forms are not listed."""
    values = variable_values(dashboard)
    queries = []
    for var in dashboard.get("templating", {}).get("list", []):
        if var.get("type") != "query":
            continue
        query = var.get("query")
        text = query.get("query", "") if isinstance(query, dict) else str(query or "")
        match = re.fullmatch(r"\s*label_values\((.+),\s*(\w+)\s*\)\s*", text)
        if match:
            queries.append((dashboard.get("uid", ""), f"variable: {var['name']}",
                            _datasource(var.get("datasource"), values), substitute(match.group(1), values)))
    return queries
