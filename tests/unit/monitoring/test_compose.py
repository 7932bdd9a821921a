"""docker-compose.yml, the Dockerfile and the Prometheus scrape config agree."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from typing import Any

import pytest

from agentstream.cli import COMMANDS
from tests.unit.monitoring.conftest import DOCKERFILE
from tool_workers.definitions import load

TOOLS = ("calculator", "clock", "search_docs", "sleep")
TOOL_SERVICES = {f"tool-{tool.replace('_', '-')}": tool for tool in TOOLS}
EXPECTED_SERVICES = {
    "kafka",
    "topics",
    "orchestrator",
    "model-worker",
    "model-server",
    "lag-exporter",
    "prometheus",
    "grafana",
    *TOOL_SERVICES,
}
# Project services that serve no /metrics: a one-shot job and the model server.
WITHOUT_METRICS = {"topics", "model-server"}


def _services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return compose["services"]


def _project_services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Services that run the agentstream image built from this repository."""
    return {
        name: service
        for name, service in _services(compose).items()
        if "build" in service or str(service.get("image", "")).startswith("agentstream:")
    }


def _option(command: list[str], flag: str) -> str | None:
    for i, arg in enumerate(command):
        if arg == flag:
            return command[i + 1]
        if arg.startswith(flag + "="):
            return arg.split("=", 1)[1]
    return None


def _metrics_ports(compose: dict[str, Any]) -> dict[str, int]:
    ports = {}
    for name, service in _project_services(compose).items():
        port = _option(service["command"], "--metrics-port")
        if port is not None:
            ports[name] = int(port)
    return ports


def _scrape_targets(prometheus_config: dict[str, Any]) -> dict[str, set[tuple[str, int]]]:
    """job -> {(host, port)}, from static targets and DNS service discovery."""
    jobs: dict[str, set[tuple[str, int]]] = {}
    for job in prometheus_config["scrape_configs"]:
        targets = jobs.setdefault(job["job_name"], set())
        for static in job.get("static_configs", []):
            for target in static["targets"]:
                host, port = target.rsplit(":", 1)
                targets.add((host, int(port)))
        for dns in job.get("dns_sd_configs", []):
            assert dns.get("type", "SRV") == "A", f"{job['job_name']}: only A lookups"
            for host in dns["names"]:
                targets.add((host, int(dns["port"])))
        assert targets, f"job {job['job_name']} has no target"
    return jobs


def test_expected_services_exist(compose: dict[str, Any]) -> None:
    assert set(_services(compose)) == EXPECTED_SERVICES


def test_every_image_is_pinned(compose: dict[str, Any]) -> None:
    for name, service in _services(compose).items():
        image = service.get("image")
        assert image, f"{name}: no image"
        match = re.fullmatch(r"(?P<repo>[a-z0-9._/-]+):(?P<tag>[A-Za-z0-9._-]+)", image)
        assert match, f"{name}: image {image!r} has no tag"
        assert match["tag"] != "latest", f"{name}: image {image!r} is not pinned"
        assert re.search(r"\d", match["tag"]), f"{name}: tag of {image!r} names no version"


def test_dockerfile_base_is_pinned_and_runs_agentstream() -> None:
    text = DOCKERFILE.read_text(encoding="utf-8")
    bases = re.findall(r"^FROM\s+(\S+)", text, flags=re.MULTILINE)
    assert bases, "no FROM line"
    for base in bases:
        assert re.fullmatch(r"python:3\.11[.\w-]*-slim[\w-]*", base), base
    assert re.search(r"^RUN\s+pip install \.", text, flags=re.MULTILINE)
    assert re.search(r'^ENTRYPOINT \["agentstream"\]', text, flags=re.MULTILINE)


def test_project_services_are_built_from_this_repository(compose: dict[str, Any]) -> None:
    project = _project_services(compose)
    assert set(project) == EXPECTED_SERVICES - {"kafka", "prometheus", "grafana"}
    for name, service in project.items():
        assert service["build"]["context"] == ".", name
        assert (Path(DOCKERFILE.parent) / service["build"]["dockerfile"]).is_file(), name


def test_commands_name_existing_subcommands(compose: dict[str, Any]) -> None:
    for name, service in _project_services(compose).items():
        command = service["command"]
        assert isinstance(command, list) and command, f"{name}: command must be a list"
        assert command[0] in COMMANDS, (
            f"{name}: `agentstream {command[0]}` is not a subcommand ({sorted(COMMANDS)})"
        )


def test_metrics_port_is_an_option_of_the_subcommand(compose: dict[str, Any]) -> None:
    for name, service in _project_services(compose).items():
        if name in WITHOUT_METRICS:
            assert _option(service["command"], "--metrics-port") is None, name
            continue
        subcommand = service["command"][0]
        if subcommand not in COMMANDS:
            pytest.fail(f"{name}: `agentstream {subcommand}` is not a subcommand")
        spec = importlib.util.find_spec(COMMANDS[subcommand])
        assert spec is not None and spec.origin, subcommand
        source = Path(spec.origin).read_text(encoding="utf-8")
        assert '"--metrics-port"' in source, f"{COMMANDS[subcommand]} takes no --metrics-port"
        assert _option(service["command"], "--metrics-port") is not None, (
            f"{name}: no --metrics-port"
        )


def test_scrape_targets_are_compose_services_on_their_metrics_ports(
    compose: dict[str, Any], prometheus_config: dict[str, Any]
) -> None:
    ports = _metrics_ports(compose)
    assert set(ports) == set(_project_services(compose)) - WITHOUT_METRICS
    scraped: dict[str, int] = {}
    for job, targets in _scrape_targets(prometheus_config).items():
        for host, port in targets:
            assert host in _services(compose), f"job {job}: {host} is no compose service"
            assert ports.get(host) == port, (
                f"job {job}: scrapes {host}:{port}, the service serves --metrics-port "
                f"{ports.get(host)}"
            )
            scraped[host] = port
    assert scraped == ports, f"services not scraped: {sorted(set(ports) - set(scraped))}"


def test_prometheus_config_basics(
    compose: dict[str, Any], prometheus_config: dict[str, Any]
) -> None:
    assert prometheus_config["global"]["scrape_interval"] == "5s"
    assert prometheus_config["rule_files"] == ["alerts.yml"]
    mounts = dict(
        v.split(":")[:2] for v in _services(compose)["prometheus"]["volumes"] if v.startswith("./")
    )
    config_target = mounts["./monitoring/prometheus.yml"]
    alerts_target = mounts["./monitoring/alerts.yml"]
    # rule_files are resolved relative to the config file's directory.
    assert Path(alerts_target) == Path(config_target).parent / "alerts.yml"
    command = _services(compose)["prometheus"].get("command", [])
    assert f"--config.file={config_target}" in command


def test_tool_workers_run_every_tool_with_replicas(compose: dict[str, Any]) -> None:
    assert set(TOOLS) == set(load([])), "a shipped tool without a worker service"
    services = _services(compose)
    for name, tool in TOOL_SERVICES.items():
        service = services[name]
        assert service["command"][0] == "worker", name
        assert _option(service["command"], "--tool") == tool, name
        assert int(service["deploy"]["replicas"]) >= 2, name
    created = services["topics"]["command"]
    assert created[:2] == ["topics", "create"]
    assert sorted(a for i, a in enumerate(created) if i and created[i - 1] == "--tool") == sorted(
        TOOLS
    )


def test_startup_order(compose: dict[str, Any]) -> None:
    services = _services(compose)
    assert "healthcheck" in services["kafka"]
    assert services["topics"]["depends_on"]["kafka"]["condition"] == "service_healthy"
    for name in _metrics_ports(compose):
        depends = services[name]["depends_on"]
        assert depends["topics"]["condition"] == "service_completed_successfully", name


def test_model_server_is_reachable_from_the_workers(compose: dict[str, Any]) -> None:
    services = _services(compose)
    command = services["model-server"]["command"]
    assert command[0] == "model-server"
    assert _option(command, "--host") == "0.0.0.0"
    port = _option(command, "--port")
    env = services["model-worker"]["environment"]
    assert env["AGENTSTREAM_ANTHROPIC_BASE_URL"] == (
        f"${{AGENTSTREAM_ANTHROPIC_BASE_URL:-http://model-server:{port}}}"
    )
    # Passed through only when set, so an unset key keeps the local-model default.
    assert "ANTHROPIC_API_KEY" in env and env["ANTHROPIC_API_KEY"] is None
    assert env["KAFKA_BOOTSTRAP_SERVERS"] == "kafka:9092"
    assert (
        "PLAINTEXT://kafka:9092" in services["kafka"]["environment"]["KAFKA_ADVERTISED_LISTENERS"]
    )


def test_grafana_and_prometheus_mount_the_monitoring_assets(compose: dict[str, Any]) -> None:
    services = _services(compose)
    for name in ("prometheus", "grafana"):
        for volume in services[name]["volumes"]:
            source = volume.split(":")[0]
            if source.startswith("./"):
                assert (DOCKERFILE.parent / source).exists(), f"{name}: {source} missing"


def test_compose_waits_longer_than_a_process_bounds_its_own_stop(compose: dict[str, Any]) -> None:
    """docker sends SIGKILL after `stop_grace_period` (10 s unless set): shorter than the
    platform's own stop bound, it would cut every graceful stop short."""
    from config.settings import Settings

    grace = Settings().stop_grace_s
    for name, service in _project_services(compose).items():
        period = str(service.get("stop_grace_period", "10s"))
        match = re.fullmatch(r"(\d+)s", period)
        assert match, f"{name}: stop_grace_period {period!r} is not in seconds"
        assert int(match.group(1)) > grace, f"{name}: {period} is not above {grace:g} s"
