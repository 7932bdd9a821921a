"""The broker gone under load: every process idles quietly and stops within its grace.

Each test runs its own broker (the session's is shared) and stops it by PID. Before the
fixes, a broker stopped under load had the orchestrator and the model worker each
spinning a core on metadata retries and writing thousands of log lines a second, and the
orchestrator outlived SIGTERM (aiokafka's consumer stop cut short by its own cancelled
fetch; then faust's drain, commit and flush waiting on the broker).
"""

from __future__ import annotations

import asyncio
import json
import logging
import signal
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer, TopicPartition

from agentstream import broker
from agentstream.broker import BrokerInfo
from agentstream.stack import Stack, StackConfig
from bench.suite.stats import cpu_seconds
from tests.support.kafka import create_topic
from tests.support.waiting import wait_until
from topics import clients
from topics.names import Topics

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]
ROOT = Path(__file__).resolve().parents[2]
GRACE_S = 5.0
WINDOW_S = 5.0
MAX_CPU_SHARE = 0.5
"""Of one core, per process, while the broker is gone (a spinning process used ~1.0)."""
MAX_LINES_PER_S = 10.0
"""Log lines per second per process while the broker is gone (thousands before)."""


@pytest.fixture
def own_broker(tmp_path: Path) -> Iterator[tuple[Path, BrokerInfo]]:
    home = tmp_path / "broker"
    info = broker.start(home)
    try:
        yield home, info
    finally:
        broker.stop(home)


def line_count(path: Path) -> int:
    with path.open("rb") as log:
        return sum(1 for _ in log)


async def submit(bootstrap: str, topic: str, count: int) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5)
    await producer.start()
    try:
        for i in range(count):
            cid = f"outage-{i}"
            prompt = f"compute {i}+1 and compute {i}*2 and compute {i}-3"
            body = {"conversation_id": cid, "prompt": prompt, "tools": ["calculator"]}
            await producer.send(topic, json.dumps(body).encode(), key=cid.encode())
        await producer.flush()
    finally:
        await producer.stop()


async def answered(bootstrap: str, topics: Topics, at_least: int) -> bool:
    """Whether the response topic holds `at_least` answers: the load is under way."""
    spec = topics.agent_responses
    consumer = clients.consumer(bootstrap, group_id=None)
    await consumer.start()
    try:
        ends = await consumer.end_offsets(
            [TopicPartition(spec.name, p) for p in range(spec.partitions)]
        )
        return sum(ends.values()) >= at_least
    finally:
        await clients.stop_consumer(consumer)


def test_with_the_broker_gone_under_load_each_process_idles_and_stops_within_its_grace(
    own_broker: tuple[Path, BrokerInfo], tmp_path: Path
) -> None:
    home, info = own_broker
    prefix = f"outage{uuid.uuid4().hex[:6]}."
    topics = Topics(prefix)
    stack = Stack(
        StackConfig(
            bootstrap=info.bootstrap_servers,
            prefix=prefix,
            log_dir=tmp_path / "logs",
            tools={"calculator": 1},
            metrics=False,
            env={"PYTHONPATH": str(ROOT), "AGENTSTREAM_STOP_GRACE_S": str(GRACE_S)},
        )
    )
    try:
        stack.start()
        asyncio.run(stack.wait_for_tools(["calculator"], 90))
        asyncio.run(submit(info.bootstrap_servers, topics.agent_requests.name, 1500))
        asyncio.run(
            wait_until(
                lambda: answered(info.bootstrap_servers, topics, 50),
                60,
                "the first 50 answers of the load",
                poll_s=0.2,
            )
        )
        broker.stop(home)  # under load: calls, results and state writes in flight
        kafka_clients = {n: p for n, p in stack.processes.items() if n != "model-server"}
        time.sleep(2.0)  # the outage's first retries
        cpu = {n: cpu_seconds(p.pid) for n, p in kafka_clients.items()}
        lines = {n: line_count(p.log_path) for n, p in kafka_clients.items()}
        time.sleep(WINDOW_S)  # the measured window
        for name, process in kafka_clients.items():
            share = (cpu_seconds(process.pid) - cpu[name]) / WINDOW_S
            rate = (line_count(process.log_path) - lines[name]) / WINDOW_S
            tail = stack.log_tail(name, 15)
            assert share < MAX_CPU_SHARE, f"{name} used {share:.0%} of a core:\n{tail}"
            assert rate < MAX_LINES_PER_S, f"{name} logged {rate:.0f} lines/s:\n{tail}"
        for name in kafka_clients:
            began = time.monotonic()
            assert stack.kill(name, signal.SIGTERM, timeout_s=GRACE_S + 10), (
                f"{name} still ran {GRACE_S + 10:g} s after SIGTERM:\n{stack.log_tail(name)}"
            )
            assert time.monotonic() - began < GRACE_S + 10
    finally:
        stack.stop()


async def test_a_consumer_whose_fetch_is_backing_off_stops_whole(
    own_broker: tuple[Path, BrokerInfo], caplog: pytest.LogCaptureFixture
) -> None:
    """aiokafka's own `stop()` raises the back-off's CancelledError here (#647);
    `clients.stop_consumer` closes everything and returns."""
    home, info = own_broker
    topic = f"outage-{uuid.uuid4().hex[:6]}"
    await create_topic(info.bootstrap_servers, topic, 1)
    consumer = clients.consumer(
        info.bootstrap_servers, topic, group_id=None, retry_backoff_ms=30_000
    )
    await consumer.start()
    partition = TopicPartition(topic, 0)
    await wait_until(lambda: partition in consumer.assignment(), 10, "the partition assigned")
    # With its position known, the consumer's only request left is a fetch of records:
    # one still looking up its offset when the broker goes fails that lookup instead.
    await asyncio.wait_for(consumer.position(partition), 10)
    await consumer.getmany(timeout_ms=200)
    caplog.set_level(logging.ERROR, logger="aiokafka.consumer.fetcher")
    await asyncio.to_thread(broker.stop, home)
    await wait_until(
        lambda: any("Failed fetch messages" in r.getMessage() for r in caplog.records),
        30,
        "a failed fetch (now in its 30 s back-off)",
    )
    began = time.monotonic()
    await asyncio.wait_for(clients.stop_consumer(consumer), 10)
    assert time.monotonic() - began < 10
    assert all(task.done() for task in consumer._fetcher._pending_tasks)
