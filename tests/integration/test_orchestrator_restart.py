"""Conversation state lives in the changelog: a restarted orchestrator carries on, a
request published while it recovers is read (faust #596, fixed in agents/faust_fixes.py),
and what is committed is stored."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiokafka.partitioner import DefaultPartitioner

from agents.faust_app import app_id
from agents.state import load_stored
from agentstream.client import AgentClient
from agentstream.stack import Stack, StackConfig
from config.settings import Settings
from tests.conftest import KafkaUnderTest
from tests.support.kafka import committed_offsets, read_partition
from tests.support.waiting import wait_until
from topics.codec import encode_key
from topics.messages import AgentEvent, AgentRequest, AgentResponse
from topics.names import Topics

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


async def test_a_committed_conversation_has_its_last_state_in_the_changelog(
    small_stack: Stack,
) -> None:
    """States are held until faust commits and stored just before (agents/state_writes.py):
    once the offsets of a conversation's inputs are committed, its finished state is in the
    changelog, written fewer times than the conversation had events."""
    cfg = small_stack.config
    settings = Settings(kafka_bootstrap_servers=cfg.bootstrap, topic_prefix=cfg.prefix)
    topics = Topics(cfg.prefix)
    client = AgentClient(settings)
    await client.start()
    try:
        request = AgentRequest(
            conversation_id=f"w-{uuid.uuid4().hex[:8]}", tools=["calculator"], prompt="compute 6*7"
        )
        await client.submit(request)
        async for message in client.follow({request.conversation_id}, timeout_s=60):
            if isinstance(message, AgentResponse):
                assert message.status == "completed", message.error
                break
    finally:
        await client.stop()
    key = encode_key(request.conversation_id)
    partitions = list(range(topics.agent_requests.partitions))
    partition = DefaultPartitioner()(key, partitions, partitions)
    inputs = {
        name: await read_partition(cfg.bootstrap, name, partition)
        for name in (topics.agent_requests.name, topics.agent_steps.name)
    }
    ends = {name: records[-1].offset + 1 for name, records in inputs.items()}

    async def inputs_committed() -> bool:
        committed = await committed_offsets(cfg.bootstrap, app_id(settings))
        return all(committed.get((name, partition), -1) >= end for name, end in ends.items())

    await wait_until(inputs_committed, 30, "the orchestrator to commit the conversation's inputs")
    changelog = f"{app_id(settings)}-conversations-changelog"
    writes = [r for r in await read_partition(cfg.bootstrap, changelog, partition) if r.key == key]
    steps = [r for r in inputs[topics.agent_steps.name] if r.key == key]
    assert writes and writes[-1].value is not None
    assert load_stored(writes[-1].value).finished
    # The request, two model results and a tool result; a redelivered call's result may
    # come twice (workers answer a repeated id again, the state machine applies it once).
    kinds = [json.loads(r.value).get("kind") for r in steps]
    assert len(steps) >= 3, kinds
    assert len(writes) < 4, kinds
