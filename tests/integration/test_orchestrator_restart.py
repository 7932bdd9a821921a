"""Conversation state lives in the changelog: a restarted orchestrator carries on, and a
request published while it recovers is read (faust #596, fixed in agents/faust_fixes.py)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from agentstream.client import AgentClient
from agentstream.stack import Stack, StackConfig
from config.settings import Settings
from tests.conftest import KafkaUnderTest
from topics.messages import AgentEvent, AgentRequest, AgentResponse

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def small_stack(kafka: KafkaUnderTest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    prefix = f"rs{uuid.uuid4().hex[:8]}."
    running = Stack(
        StackConfig(
            bootstrap=kafka.bootstrap_servers,
            prefix=prefix,
            log_dir=tmp_path_factory.mktemp("restart-logs"),
            tools={"sleep": 1, "calculator": 1},
            env={"PYTHONPATH": str(ROOT)},
        )
    )
    try:
        running.start()
        asyncio.run(running.wait_for_tools(["sleep", "calculator"]))
        yield running
    finally:
        running.stop()


async def test_a_conversation_survives_an_orchestrator_restart(small_stack: Stack) -> None:
    settings = Settings(
        kafka_bootstrap_servers=small_stack.config.bootstrap, topic_prefix=small_stack.config.prefix
    )
    client = AgentClient(settings)
    await client.start()
    try:
        first = AgentRequest(
            conversation_id=f"r-{uuid.uuid4().hex[:8]}",
            tools=["sleep"],
            prompt="sleep 3 seconds and sleep 3 seconds",
        )
        second = AgentRequest(
            conversation_id=f"r-{uuid.uuid4().hex[:8]}", tools=["calculator"], prompt="compute 6*7"
        )
        await client.submit(first)
        restarted = False
        outcome: dict[str, AgentResponse] = {}
        ids = {first.conversation_id, second.conversation_id}
        async for message in client.follow(ids, timeout_s=120):
            if (
                isinstance(message, AgentEvent)
                and message.type == "model_call_finished"
                and not restarted
            ):
                # Both sleeps are running on the worker: replace the orchestrator now.
                await asyncio.to_thread(small_stack.restart, "orchestrator")
                restarted = True
                await client.submit(second)  # lands while the new instance starts up
            if isinstance(message, AgentResponse):
                outcome[message.conversation_id] = message
        assert restarted
        response = outcome[first.conversation_id]
        assert response.status == "completed", response.error
        assert response.tool_calls == 2 and response.iterations == 2
        assert "slept 3s; sleep(seconds=3) = slept 3s" in response.text
        later = outcome[second.conversation_id]
        assert later.status == "completed" and "42" in later.text
    finally:
        await client.stop()
