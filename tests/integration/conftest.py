"""A whole platform (model server, orchestrator, workers) for the integration tests."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from agentstream import broker
from agentstream.broker import Secured
from agentstream.client import AgentClient
from agentstream.stack import Stack, StackConfig
from config.settings import Settings
from tests.conftest import KafkaUnderTest
from tests.support.secured import SECURE_USERS
from tool_workers.tool_worker import publish_spec
from topics.admin import ensure_topics
from topics.messages import AgentRequest, ToolSpec
from topics.names import Topics

ROOT = Path(__file__).resolve().parents[2]

CALL_LEASE_S = 2.0
TOOLS = {"sleep": 2, "calculator": 1, "clock": 1, "stall": 1, "flaky": 1, "vault": 1, "ledger": 1}


async def _probe(settings: Settings) -> None:
    """The orchestrator answers a request end to end (so later timings exclude start-up)."""
    client = AgentClient(settings)
    await client.start()
    try:
        request = AgentRequest(
            conversation_id=f"probe-{uuid.uuid4().hex[:8]}", prompt="[scenario:stop-end-turn] hello"
        )
        await client.submit(request)
        async for _ in client.follow({request.conversation_id}, timeout_s=120):
            pass
    finally:
        await client.stop()


UNATTENDED = ToolSpec(
    name="unattended",
    timeout_s=1.0,
    input_schema={"type": "object", "properties": {}},
    description="Do the unattended thing.\nUse when asked for unattended.\nDo not use otherwise.",
)


async def register_unserved(bootstrap: str, prefix: str, spec: ToolSpec) -> None:
    """Register a tool that no worker serves: only the orchestrator (or a test playing the
    worker) ever answers its calls."""
    topics = Topics(prefix)
    await ensure_topics(bootstrap, [topics.tool_registry(spec.name), topics.tool_calls(spec.name)])
    await publish_spec(bootstrap, prefix, spec)


@pytest.fixture(scope="session")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Secured]:
    """One secured broker for the session: SASL_SSL, SCRAM, StandardAuthorizer."""
    home = tmp_path_factory.mktemp("secured-broker")
    _, started = broker.start_secured(home, SECURE_USERS)
    try:
        yield started
    finally:
        broker.stop(home)


@pytest.fixture(scope="session")
def stack(kafka: KafkaUnderTest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    prefix = f"it{uuid.uuid4().hex[:8]}."
    config = StackConfig(
        bootstrap=kafka.bootstrap_servers,
        prefix=prefix,
        log_dir=tmp_path_factory.mktemp("stack-logs"),
        tools=TOOLS,
        modules=["tests.support.fixture_tools"],
        scenario_dirs=[ROOT / "tests" / "scenarios"],
        # A short lease, so re-publishing calls runs throughout the suite.
        env={"PYTHONPATH": str(ROOT), "AGENTSTREAM_CALL_LEASE_S": str(CALL_LEASE_S)},
    )
    running = Stack(config)
    try:
        asyncio.run(register_unserved(kafka.bootstrap_servers, prefix, UNATTENDED))
        running.start()
        asyncio.run(running.wait_for_tools([*TOOLS, UNATTENDED.name], 90))
        asyncio.run(_probe(settings_for(running)))
        yield running
    except Exception:
        for name in running.processes:
            print(f"--- {name} ---\n{running.log_tail(name)}")
        raise
    finally:
        running.stop()


def settings_for(stack: Stack) -> Settings:
    return Settings(
        kafka_bootstrap_servers=stack.config.bootstrap, topic_prefix=stack.config.prefix
    )


@pytest.fixture
async def client(stack: Stack) -> AsyncIterator[AgentClient]:
    agent_client = AgentClient(settings_for(stack))
    await agent_client.start()
    try:
        yield agent_client
    finally:
        await agent_client.stop()
        assert not stack.dead(), f"platform processes died: {stack.dead()}"
