"""Call ids are idempotency keys: two real workers of a tool that is not idempotent, fed
repeated and interrupted calls with a plain Kafka producer, run each id at most once."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from agentstream.processes import Spawned, spawn, stop_pid
from agentstream.stack import CLI, MARKER, wait_for_tools
from tests.conftest import KafkaUnderTest
from tests.support.wire import Wire
from topics.admin import ensure_topics
from topics.codec import encode, encode_key
from topics.messages import CallJournalEntry, ToolCall
from topics.names import TOOL_PARTITIONS, Topics

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
TOOL = "charge"


@dataclass
class Workers:
    topics: Topics
    bootstrap: str
    executions: Path
    logs: list[Path]

    def executed(self, tool_use_id: str) -> int:
        if not self.executions.exists():
            return 0
        return self.executions.read_text().split().count(tool_use_id)

    def logged(self, text: str) -> bool:
        return any(text in p.read_text(errors="replace") for p in self.logs if p.exists())


@pytest.fixture(scope="module")
def workers(kafka: KafkaUnderTest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workers]:
    prefix = f"id{uuid.uuid4().hex[:8]}."
    topics = Topics(prefix)
    specs = [topics.tool_calls(TOOL), topics.tool_journal(TOOL), topics.agent_steps]
    asyncio.run(ensure_topics(kafka.bootstrap_servers, [*specs, *topics.core()]))
    logs = tmp_path_factory.mktemp("idempotency-logs")
    env = {
        "PATH": "/usr/bin:/bin",
        "PYTHONPATH": str(ROOT),
        "KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap_servers,
        "AGENTSTREAM_TOPIC_PREFIX": prefix,
        "AGENTSTREAM_TEST_EXECUTIONS": str(logs / "executions.txt"),
    }
    argv = [*CLI, "worker", "--tool", TOOL, "--module", "tests.support.fixture_tools"]
    started: list[Spawned] = []
    try:
        for i in range(2):
            started.append(spawn(argv, logs / f"worker-{i}.log", env=env))
        asyncio.run(wait_for_tools(kafka.bootstrap_servers, prefix, [TOOL], 60))
        yield Workers(
            topics, kafka.bootstrap_servers, logs / "executions.txt", [s.log_path for s in started]
        )
    finally:
        for process in started:
            stop_pid(process.pid, expect_in_cmdline=MARKER)


@pytest.fixture
async def wire(workers: Workers) -> AsyncIterator[Wire]:
    async with Wire(workers.bootstrap, workers.topics, [workers.topics.agent_steps.name]) as w:
        yield w


def _call(seconds: float) -> ToolCall:
    now = time.time()
    return ToolCall(
        conversation_id=f"c-{uuid.uuid4().hex[:8]}",
        tool_use_id=f"toolu_{uuid.uuid4().hex[:12]}",
        tool=TOOL,
        input={"seconds": seconds},
        deadline_at=now + 15,
        dispatched_at=now,
    )


async def _deliver(wire: Wire, workers: Workers, call: ToolCall, partition: int) -> None:
    topic = workers.topics.tool_calls(TOOL).name
    key = encode_key(call.tool_use_id)
    await wire.producer.send_and_wait(topic, encode(call), key=key, partition=partition)


def _results(wire: Wire, workers: Workers, call: ToolCall) -> list[dict[str, object]]:
    steps = wire.on(workers.topics.agent_steps.name)
    return [s for s in steps if s.get("tool_use_id") == call.tool_use_id]


async def test_a_repeated_call_is_answered_again_without_running_again(
    wire: Wire, workers: Workers
) -> None:
    call = _call(0.1)
    await _deliver(wire, workers, call, 0)
    await wire.wait_for(lambda: _results(wire, workers, call), 30, "the first result")
    for partition in range(TOOL_PARTITIONS):  # reaches both workers
        await _deliver(wire, workers, call, partition)
    await wire.wait_for(
        lambda: len(_results(wire, workers, call)) == 1 + TOOL_PARTITIONS,
        30,
        "a result for every repeated delivery",
    )
    results = _results(wire, workers, call)
    assert {json.dumps(r, sort_keys=True) for r in results} == {
        json.dumps(results[0], sort_keys=True)
    }, "every repeat re-sends the very same result"
    assert workers.executed(call.tool_use_id) == 1


async def test_copies_delivered_at_once_run_once(wire: Wire, workers: Workers) -> None:
    call = _call(1.0)
    await asyncio.gather(*(_deliver(wire, workers, call, p) for p in range(TOOL_PARTITIONS)))
    await wire.wait_for(lambda: _results(wire, workers, call), 30, "a result")
    await _deliver(wire, workers, call, 1)
    await wire.wait_for(
        lambda: len(_results(wire, workers, call)) >= 2, 30, "the result re-sent once more"
    )
    assert workers.executed(call.tool_use_id) == 1


async def test_a_call_interrupted_by_a_crash_is_not_run_again(wire: Wire, workers: Workers) -> None:
    call = _call(0.1)
    interrupted = CallJournalEntry(
        tool_use_id=call.tool_use_id,
        state="started",
        worker="host:1 (killed)",
        at=time.time(),
        deadline_at=call.deadline_at,
    )
    journal = workers.topics.tool_journal(TOOL).name
    await wire.producer.send_and_wait(
        journal, encode(interrupted), key=encode_key(call.tool_use_id)
    )
    await _deliver(wire, workers, call, 2)
    await wire.wait_for(
        lambda: workers.logged(f"Call {call.tool_use_id} of {TOOL} was started by host:1"),
        30,
        "the worker to refuse running the call again",
    )
    assert workers.executed(call.tool_use_id) == 0
    assert not _results(wire, workers, call)
