"""Paths and loaders shared by the monitoring asset tests."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[3]
MONITORING = ROOT / "monitoring"
ALERTS = MONITORING / "alerts.yml"
ALERTS_TEST = MONITORING / "alerts_test.yml"
PROMETHEUS_CONFIG = MONITORING / "prometheus.yml"
GRAFANA = MONITORING / "grafana"
DASHBOARDS = GRAFANA / "dashboards"
DASHBOARD_FILES = ("overview.json", "tools.json")
DATASOURCES = GRAFANA / "provisioning" / "datasources" / "prometheus.yml"
DASHBOARD_PROVIDERS = GRAFANA / "provisioning" / "dashboards" / "dashboards.yml"
COMPOSE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
INSTALL_SCRIPT = ROOT / "scripts" / "install-prometheus.sh"


def load_yaml(path: Path) -> Any:
    with path.open(encoding="utf-8") as f:
        return yaml.safe_load(f)


@pytest.fixture(scope="session")
def compose() -> dict[str, Any]:
    return load_yaml(COMPOSE)


@pytest.fixture(scope="session")
def prometheus_config() -> dict[str, Any]:
    return load_yaml(PROMETHEUS_CONFIG)


@pytest.fixture(scope="session")
def alert_rules() -> list[dict[str, Any]]:
    """Every alerting rule of alerts.yml, in file order."""
    return [rule for group in load_yaml(ALERTS)["groups"] for rule in group["rules"]]


@pytest.fixture(scope="session")
def dashboards() -> dict[str, dict[str, Any]]:
    return {
        name: json.loads((DASHBOARDS / name).read_text(encoding="utf-8"))
        for name in DASHBOARD_FILES
    }


def require_promtool() -> str:
    """The promtool binary; its absence fails the calling test (never a skip)."""
    path = shutil.which("promtool")
    if path is None:
        pytest.fail(
            "promtool is not on PATH: run scripts/install-prometheus.sh "
            "(as root on Debian/Ubuntu) to install Prometheus and promtool"
        )
    return path
