"""promtool validates the Prometheus config, the alert rules, their unit tests and the
dashboards' queries. A missing promtool fails these tests: scripts/install-prometheus.sh
installs it."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import yaml

from tests.unit.monitoring.conftest import (
    ALERTS,
    ALERTS_TEST,
    INSTALL_SCRIPT,
    PROMETHEUS_CONFIG,
    ROOT,
    require_promtool,
)
from tests.unit.monitoring.promql import dashboard_exprs, grafana_to_promql


def _promtool(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [require_promtool(), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _assert_ok(result: subprocess.CompletedProcess[str]) -> None:
    assert result.returncode == 0, f"{result.args}:\n{result.stdout}\n{result.stderr}"


def test_install_script_is_valid_bash() -> None:
    result = subprocess.run(
        ["bash", "-n", str(INSTALL_SCRIPT)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr


def test_check_config() -> None:
    result = _promtool("check", "config", str(PROMETHEUS_CONFIG.relative_to(ROOT)))
    _assert_ok(result)
    assert "alerts.yml" in result.stdout + result.stderr  # the rule file was found and read


def test_check_rules() -> None:
    result = _promtool("check", "rules", str(ALERTS.relative_to(ROOT)))
    _assert_ok(result)


def test_rule_unit_tests() -> None:
    _assert_ok(_promtool("test", "rules", str(ALERTS_TEST.relative_to(ROOT))))


def test_rule_unit_tests_cover_every_alert(alert_rules: list[dict[str, Any]]) -> None:
    """Each alert has a case where it fires and one where it does not."""
    tests = yaml.safe_load(ALERTS_TEST.read_text(encoding="utf-8"))
    assert tests["rule_files"] == ["alerts.yml"]
    firing: set[str] = set()
    quiet: set[str] = set()
    for case in tests["tests"]:
        for check in case.get("alert_rule_test", []):
            (firing if check.get("exp_alerts") else quiet).add(check["alertname"])
    names = {rule["alert"] for rule in alert_rules}
    assert names - firing == set(), f"alerts never expected to fire: {names - firing}"
    assert names - quiet == set(), f"alerts never expected to stay quiet: {names - quiet}"
    assert (firing | quiet) - names == set(), "tests of alerts that do not exist"


def test_dashboard_queries_parse(dashboards: dict[str, dict[str, Any]], tmp_path: Path) -> None:
    """Every panel query, with Grafana's variables filled in, is valid PromQL."""
    rules = []
    for name, dashboard in dashboards.items():
        for i, (_where, expr) in enumerate(dashboard_exprs(dashboard)):
            if expr.startswith("label_values("):
                metric = expr.removeprefix("label_values(").split(",")[0].strip()
                expr = metric
            rules.append(
                {"record": f"dashboard:{Path(name).stem}:q{i}", "expr": grafana_to_promql(expr)}
            )
    assert len(rules) > 20
    path = tmp_path / "dashboard_queries.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboards", "rules": rules}]}))
    _assert_ok(_promtool("check", "rules", str(path), cwd=tmp_path))
