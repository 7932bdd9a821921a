"""Where the PromQL of the monitoring assets lives, and the metric names it uses."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

METRIC_TOKEN = re.compile(r"\bagentstream_[a-z0-9_]+")
# Grafana's variables, replaced by values of the right kind so promtool can parse the query.
GRAFANA_VARIABLES = {"$__rate_interval": "1m", "$__interval": "1m", "$__range": "1h", "$tool": ".*"}


def metric_tokens(expr: str) -> set[str]:
    """Every `agentstream_*` identifier in a PromQL expression."""
    return set(METRIC_TOKEN.findall(expr))


def panels(dashboard: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every panel of a dashboard, those nested in collapsed rows included."""
    for panel in dashboard.get("panels", []):
        yield panel
        yield from panel.get("panels", [])


def dashboard_exprs(dashboard: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(where, PromQL) for every panel target and every query variable."""
    for panel in panels(dashboard):
        for target in panel.get("targets", []):
            if "expr" in target:
                yield f"panel {panel['id']} {panel['title']!r}", target["expr"]
    for variable in dashboard.get("templating", {}).get("list", []):
        query = variable.get("query")
        if isinstance(query, dict):
            query = query.get("query")
        if variable.get("type") == "query" and query:
            yield f"variable {variable['name']!r}", query


def grafana_to_promql(expr: str) -> str:
    """The expression with Grafana's variables replaced by plain values."""
    for name in sorted(GRAFANA_VARIABLES, key=len, reverse=True):
        expr = expr.replace(name, GRAFANA_VARIABLES[name])
    return expr
