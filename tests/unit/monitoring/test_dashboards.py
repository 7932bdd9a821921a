"""The Grafana dashboards and their provisioning."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.unit.monitoring.conftest import (
    DASHBOARD_FILES,
    DASHBOARD_PROVIDERS,
    DASHBOARDS,
    DATASOURCES,
    load_yaml,
)
from tests.unit.monitoring.promql import dashboard_exprs, panels

GRID_WIDTH = 24


@pytest.fixture(scope="module")
def datasource_uid() -> str:
    (source,) = load_yaml(DATASOURCES)["datasources"]
    assert source["type"] == "prometheus"
    assert source["url"] == "http://prometheus:9090"
    return source["uid"]


def test_provisioned_datasource_is_prometheus(datasource_uid: str) -> None:
    assert datasource_uid == "prometheus"


def test_dashboard_provider_reads_the_mounted_dashboards(compose: dict[str, Any]) -> None:
    (provider,) = load_yaml(DASHBOARD_PROVIDERS)["providers"]
    assert provider["type"] == "file"
    path = provider["options"]["path"]
    mounts = {}
    for volume in compose["services"]["grafana"]["volumes"]:
        source, target = volume.split(":")[:2]
        mounts[target] = source
    assert mounts.get(path) == "./monitoring/grafana/dashboards"
    assert mounts.get("/etc/grafana/provisioning") == "./monitoring/grafana/provisioning"


def test_every_dashboard_file_is_valid_json() -> None:
    found = sorted(p.name for p in DASHBOARDS.glob("*.json"))
    assert found == sorted(DASHBOARD_FILES)
    for name in DASHBOARD_FILES:
        json.loads((DASHBOARDS / name).read_text(encoding="utf-8"))


@pytest.mark.parametrize("name", DASHBOARD_FILES)
def test_dashboard_model(name: str, dashboards: dict[str, dict[str, Any]]) -> None:
    dashboard = dashboards[name]
    assert dashboard["title"]
    assert dashboard["uid"]
    assert 36 <= dashboard["schemaVersion"] <= 41
    assert dashboard["panels"]


def test_dashboard_uids_are_unique(dashboards: dict[str, dict[str, Any]]) -> None:
    uids = [d["uid"] for d in dashboards.values()]
    assert len(uids) == len(set(uids))


@pytest.mark.parametrize("name", DASHBOARD_FILES)
def test_panel_ids_are_unique(name: str, dashboards: dict[str, dict[str, Any]]) -> None:
    ids = [panel["id"] for panel in panels(dashboards[name])]
    assert all(isinstance(i, int) for i in ids)
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    assert not duplicates, f"{name}: duplicate panel ids {duplicates}"


@pytest.mark.parametrize("name", DASHBOARD_FILES)
def test_panels_have_title_position_and_queries(
    name: str, dashboards: dict[str, dict[str, Any]], datasource_uid: str
) -> None:
    for panel in panels(dashboards[name]):
        where = f"{name} panel {panel['id']}"
        assert panel.get("title"), f"{where}: no title"
        grid = panel["gridPos"]
        assert {"x", "y", "w", "h"} <= set(grid), f"{where}: gridPos {grid}"
        assert grid["x"] >= 0 and grid["x"] + grid["w"] <= GRID_WIDTH, f"{where}: {grid}"
        assert grid["h"] > 0, f"{where}: {grid}"
        if panel["type"] == "row":
            assert not panel.get("targets"), f"{where}: a row holds no queries"
            continue
        assert panel["datasource"]["uid"] == datasource_uid, where
        targets = panel.get("targets", [])
        assert targets, f"{where}: no targets"
        ref_ids = [t["refId"] for t in targets]
        assert len(ref_ids) == len(set(ref_ids)), f"{where}: duplicate refIds"
        for target in targets:
            assert target.get("expr", "").strip(), f"{where}: a target without expr"
            assert target["datasource"]["uid"] == datasource_uid, where


@pytest.mark.parametrize("name", DASHBOARD_FILES)
def test_panels_do_not_overlap(name: str, dashboards: dict[str, dict[str, Any]]) -> None:
    cells: dict[tuple[int, int], int] = {}
    for panel in panels(dashboards[name]):
        grid = panel["gridPos"]
        for x in range(grid["x"], grid["x"] + grid["w"]):
            for y in range(grid["y"], grid["y"] + grid["h"]):
                assert (x, y) not in cells, (
                    f"{name}: panel {panel['id']} overlaps panel {cells[(x, y)]}"
                )
                cells[(x, y)] = panel["id"]


@pytest.mark.parametrize("name", DASHBOARD_FILES)
def test_variables_use_the_provisioned_datasource(
    name: str, dashboards: dict[str, dict[str, Any]], datasource_uid: str
) -> None:
    for variable in dashboards[name].get("templating", {}).get("list", []):
        if variable.get("type") == "query":
            assert variable["datasource"]["uid"] == datasource_uid, variable["name"]


def test_overview_shows_conversations_cost_and_tokens(
    dashboards: dict[str, dict[str, Any]],
) -> None:
    exprs = " ".join(expr for _, expr in dashboard_exprs(dashboards["overview.json"]))
    for needle in (
        "agentstream_conversations_total",
        "by (status)",
        "by (stop_reason)",
        "agentstream_conversation_iterations_bucket",
        "agentstream_cost_usd_total",
        "agentstream_tokens_total",
        "agentstream_conversations_in_flight",
    ):
        assert needle in exprs, needle


def test_tools_dashboard_shows_latency_retries_and_lag(
    dashboards: dict[str, dict[str, Any]],
) -> None:
    exprs = " ".join(expr for _, expr in dashboard_exprs(dashboards["tools.json"]))
    for needle in (
        "histogram_quantile(0.5, sum by (le, tool) (rate(agentstream_tool_execution_seconds_bucket",
        "histogram_quantile(0.99, sum by (le, tool) "
        "(rate(agentstream_tool_execution_seconds_bucket",
        "agentstream_tool_round_trip_seconds_bucket",
        'outcome="timeout"',
        "agentstream_model_sdk_retries_total",
        "agentstream_tool_retries_total",
        "agentstream_model_recoveries_total",
        "agentstream_consumer_lag_messages",
    ):
        assert needle in exprs, needle
