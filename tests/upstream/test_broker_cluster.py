"""A 3-node KRaft cluster survives losing a partition leader: no acknowledged record is lost.

The cluster is the project's own (`agentstream broker start --nodes 3`), so the chaos
harness can rely on kill_node / restart_node / partition_leader behaving as shown here.
"""

from __future__ import annotations

import asyncio
import shutil
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError

from agentstream import broker
from agentstream.broker import ClusterInfo
from tests.support.waiting import wait_until

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        shutil.which("java") is None or shutil.which("mvn") is None,
        reason="the local Kafka cluster needs java and mvn: run scripts/install-test-tools.sh",
    ),
]

TOPIC = "cluster.failover"
FAILOVER_S = 40.0


@pytest.fixture
async def cluster(tmp_path: Path) -> AsyncIterator[tuple[Path, ClusterInfo]]:
    home = tmp_path / "cluster"
    try:
        info = await asyncio.to_thread(broker.start_cluster, home, 3)
        yield home, info
    finally:
        await asyncio.to_thread(broker.stop, home)


async def _create_topic(bootstrap: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        topic = NewTopic(TOPIC, 1, 3, topic_configs={"min.insync.replicas": "2"})
        response = await admin.create_topics([topic])
    finally:
        await admin.close()
    errors = [error for error in response.topic_errors if error[1]]
    assert not errors, f"creating {TOPIC} failed: {errors}"


async def _state(bootstrap: str) -> broker.PartitionState | None:
    """Partition 0's state, or None while metadata is briefly unavailable mid-failover."""
    try:
        return await broker.partition_state(bootstrap, TOPIC, 0)
    except (KafkaError, broker.BrokerError, OSError):
        return None


async def _isr_size_is(bootstrap: str, size: int) -> bool:
    state = await _state(bootstrap)
    return state is not None and len(state.isr) == size


async def _produce(producer: AIOKafkaProducer, values: list[bytes], acked: list[bytes]) -> None:
    """Send one at a time; a value counts only once the broker acknowledged it (acks=all)."""
    for value in values:
        await producer.send_and_wait(TOPIC, value, partition=0)
        acked.append(value)


async def _consume_all(bootstrap: str) -> list[bytes]:
    """Every record in partition 0, read from the start up to the high watermark."""
    tp = TopicPartition(TOPIC, 0)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        consumer.assign([tp])
        await consumer.seek_to_beginning(tp)
        end = (await consumer.end_offsets([tp]))[tp]
        seen: list[bytes] = []

        async def caught_up() -> bool:
            batch = await consumer.getmany(tp, timeout_ms=200)
            seen.extend(record.value for record in batch.get(tp, []))
            return await consumer.position(tp) >= end

        await wait_until(caught_up, 20, f"reading {TOPIC}-0 up to offset {end}")
        return seen
    finally:
        await consumer.stop()


async def test_leader_loss_keeps_every_acknowledged_record(
    cluster: tuple[Path, ClusterInfo],
) -> None:
    home, info = cluster
    bootstrap = info.bootstrap_servers
    await _create_topic(bootstrap)
    await wait_until(lambda: _isr_size_is(bootstrap, 3), 20, "all three replicas in sync")
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", enable_idempotence=True, request_timeout_ms=30000
    )
    await producer.start()
    acked: list[bytes] = []
    try:
        await _produce(producer, [f"before-{i}".encode() for i in range(50)], acked)
        old_leader = await broker.partition_leader(bootstrap, TOPIC, 0)
        await asyncio.to_thread(broker.kill_node, home, old_leader)

        seen: list[broker.PartitionState] = []

        async def new_leader() -> bool:
            state = await _state(bootstrap)
            seen.extend([state] if state else [])
            return state is not None and state.leader not in (-1, old_leader)

        await wait_until(new_leader, FAILOVER_S, f"a leader other than node {old_leader}")
        assert old_leader not in seen[-1].isr and len(seen[-1].isr) == 2, seen[-1]
        await asyncio.wait_for(
            _produce(producer, [f"after-{i}".encode() for i in range(50)], acked), FAILOVER_S
        )
    finally:
        await producer.stop()
    assert len(acked) == 100
    consumed = await _consume_all(bootstrap)
    lost, doubled = set(acked) - set(consumed), [v for v, n in Counter(consumed).items() if n > 1]
    assert not lost and not doubled, f"lost {sorted(lost)}, doubled {doubled}"
    assert consumed == acked, "the partition holds other records than those acknowledged"

    await asyncio.to_thread(broker.restart_node, home, old_leader)
    await wait_until(lambda: _isr_size_is(bootstrap, 3), FAILOVER_S, f"node {old_leader} in ISR")
