"""The dashboards and alerts query only metrics the code exports, and cover all of them."""

from __future__ import annotations

from typing import Any

import prometheus_client
import pytest

import monitoring.metrics
from tests.unit.monitoring.promql import dashboard_exprs, metric_tokens

# Metric families that no panel or alert needs to show, each with the reason.
UNUSED_ON_PURPOSE: dict[str, str] = {}

SAMPLE_SUFFIXES = {
    "counter": ("_total",),
    "gauge": ("",),
    "histogram": ("_bucket", "_sum", "_count"),
}


def _families() -> dict[str, set[str]]:
    """agentstream family name -> the sample names Prometheus scrapes for it.

    Labelled metrics have no samples until a child exists, so the names follow from the
    family's type, as prometheus-client exposes them (`_created` samples are left out:
    dashboards and alerts must not depend on them).
    """
    families: dict[str, set[str]] = {}
    for family in prometheus_client.REGISTRY.collect():
        if not family.name.startswith("agentstream_"):
            continue
        assert family.type in SAMPLE_SUFFIXES, f"{family.name}: unexpected type {family.type}"
        families[family.name] = {family.name + s for s in SAMPLE_SUFFIXES[family.type]}
    return families


FAMILIES = _families()
SAMPLE_NAMES = {name for names in FAMILIES.values() for name in names}


def _all_exprs(
    dashboards: dict[str, dict[str, Any]], alert_rules: list[dict[str, Any]]
) -> list[tuple[str, str]]:
    found = [
        (f"{name}: {where}", expr)
        for name, dashboard in dashboards.items()
        for where, expr in dashboard_exprs(dashboard)
    ]
    found += [(f"alerts.yml: {rule['alert']}", rule["expr"]) for rule in alert_rules]
    return found


def test_registry_holds_the_platform_metrics() -> None:
    assert "agentstream_conversations" in FAMILIES
    assert FAMILIES["agentstream_conversations"] == {"agentstream_conversations_total"}
    assert FAMILIES["agentstream_tool_execution_seconds"] == {
        "agentstream_tool_execution_seconds_bucket",
        "agentstream_tool_execution_seconds_sum",
        "agentstream_tool_execution_seconds_count",
    }
    assert FAMILIES["agentstream_consumer_lag_messages"] == {"agentstream_consumer_lag_messages"}


@pytest.mark.parametrize(
    "metric",
    [
        monitoring.metrics.ITERATIONS,
        monitoring.metrics.IN_FLIGHT,
        monitoring.metrics.DUPLICATE_REQUESTS,
        monitoring.metrics.REKEYED,
        monitoring.metrics.CALLS_PER_TURN,
    ],
    ids=lambda m: m._name,
)
def test_sample_names_match_what_the_library_exposes(metric: Any) -> None:
    """For unlabelled metrics the real samples exist: the derived names must equal them."""
    (family,) = metric.collect()
    exposed = {s.name for s in family.samples if not s.name.endswith("_created")}
    assert exposed == FAMILIES[family.name]


def test_every_expression_names_real_metrics(
    dashboards: dict[str, dict[str, Any]], alert_rules: list[dict[str, Any]]
) -> None:
    exprs = _all_exprs(dashboards, alert_rules)
    assert len(exprs) > 20
    unknown = {
        f"{where}: {token}" for where, expr in exprs for token in metric_tokens(expr) - SAMPLE_NAMES
    }
    assert not unknown, f"metrics that monitoring/metrics.py does not export: {sorted(unknown)}"


def test_every_expression_queries_a_platform_metric(
    dashboards: dict[str, dict[str, Any]], alert_rules: list[dict[str, Any]]
) -> None:
    """No panel or alert without any agentstream metric, except target health (`up`)."""
    empty = [
        where
        for where, expr in _all_exprs(dashboards, alert_rules)
        if not metric_tokens(expr) and not expr.strip().startswith("up")
    ]
    assert not empty, f"expressions without an agentstream metric: {empty}"


def test_every_metric_is_shown_or_alerted_on(
    dashboards: dict[str, dict[str, Any]], alert_rules: list[dict[str, Any]]
) -> None:
    used = {
        token for _, expr in _all_exprs(dashboards, alert_rules) for token in metric_tokens(expr)
    }
    unused = {family for family, names in FAMILIES.items() if not names & used}
    assert unused == set(UNUSED_ON_PURPOSE), (
        f"metric families in no panel or alert: {sorted(unused - set(UNUSED_ON_PURPOSE))}; "
        f"listed as unused but used: {sorted(set(UNUSED_ON_PURPOSE) - unused)}"
    )


def test_alerts_cover_the_required_signals(alert_rules: list[dict[str, Any]]) -> None:
    by_metric: dict[str, list[str]] = {}
    for rule in alert_rules:
        for token in metric_tokens(rule["expr"]):
            by_metric.setdefault(token, []).append(rule["alert"])
    for metric in (
        "agentstream_conversations_total",
        "agentstream_cost_usd_total",
        "agentstream_tool_calls_total",
        "agentstream_topic_messages",
        "agentstream_dead_letters_total",
        "agentstream_consumer_lag_messages",
        "agentstream_model_calls_total",
    ):
        assert metric in by_metric, f"no alert on {metric}"


def test_alerts_have_severity_and_annotations(alert_rules: list[dict[str, Any]]) -> None:
    names = [rule["alert"] for rule in alert_rules]
    assert len(names) == len(set(names)), "duplicate alert names"
    for rule in alert_rules:
        assert rule["labels"]["severity"] in {"info", "warning", "critical"}, rule["alert"]
        assert rule["annotations"].get("summary"), rule["alert"]
        assert rule["annotations"].get("description"), rule["alert"]
