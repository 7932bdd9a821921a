"""A real Prometheus server scrapes the running platform and sees its conversations."""

from __future__ import annotations

import json
import shutil
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator

import pytest

from agentstream.broker import free_port
from agentstream.client import AgentClient
from agentstream.processes import spawn, stop_pid
from agentstream.stack import Stack
from tests.support.waiting import wait_until
from topics.messages import AgentRequest, AgentResponse

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def prometheus(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    binary = shutil.which("prometheus")
    assert binary, "prometheus is not installed: run scripts/install-prometheus.sh"
    home = tmp_path_factory.mktemp("prometheus")
    targets = [f"127.0.0.1:{port}" for port in stack.metrics_ports.values()]
    config = {
        "global": {"scrape_interval": "1s"},
        "scrape_configs": [{"job_name": "agentstream", "static_configs": [{"targets": targets}]}],
    }
    (home / "prometheus.yml").write_text(json.dumps(config))  # JSON is valid YAML
    port = free_port()
    proc = spawn(
        [
            binary,
            f"--config.file={home / 'prometheus.yml'}",
            f"--storage.tsdb.path={home / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        home / "prometheus.log",
    )
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        stop_pid(proc.pid, expect_in_cmdline="prometheus")


def query(base: str, promql: str) -> float:
    url = f"{base}/api/v1/query?{urllib.parse.urlencode({'query': promql})}"
    try:
        with urllib.request.urlopen(url, timeout=5) as page:
            body = json.load(page)
    except OSError:
        return 0.0  # not listening yet
    return sum(float(r["value"][1]) for r in body["data"]["result"])


async def test_prometheus_sees_iterations_tool_calls_and_cost(
    stack: Stack, client: AgentClient, prometheus: str
) -> None:
    responses: list[AgentResponse] = []
    ids = set()
    for prompt in ("compute 6*7 and compute 2+2", "sleep 0.1 seconds and compute 1+1"):
        request = AgentRequest(
            conversation_id=f"prom-{uuid.uuid4().hex[:8]}",
            prompt=prompt,
            tools=["calculator", "sleep"],
        )
        ids.add(request.conversation_id)
        await client.submit(request)
    async for message in client.follow(ids, timeout_s=60):
        if isinstance(message, AgentResponse):
            responses.append(message)
    assert all(r.status == "completed" for r in responses)

    checks = {
        "sum(agentstream_conversation_iterations_count)": 2,
        'sum(agentstream_tool_calls_total{outcome="ok"})': 4,
        'sum(agentstream_tool_executions_total{tool="calculator"})': 3,
        "sum(agentstream_cost_usd_total)": sum(r.cost_usd for r in responses) * 0.999,
        'sum(agentstream_tokens_total{kind="output"})': 1,
        "sum(agentstream_model_calls_total)": 4,
    }
    for promql, at_least in checks.items():
        await wait_until(
            lambda q=promql, n=at_least: query(prometheus, q) >= n,
            60,
            f"Prometheus to report {promql} >= {at_least}",
            poll_s=0.5,
        )
