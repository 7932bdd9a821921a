"""The broker is real: groups split and rebalance, offsets resume, idempotence works."""

from __future__ import annotations

import asyncio

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from tests.conftest import KafkaUnderTest
from tests.support.kafka import create_topic
from tests.support.waiting import wait_until

pytestmark = pytest.mark.integration


def _consumer(kafka: KafkaUnderTest, topic: str, group: str) -> AIOKafkaConsumer:
    return AIOKafkaConsumer(
        topic,
        bootstrap_servers=kafka.bootstrap_servers,
        group_id=group,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        session_timeout_ms=6000,
        heartbeat_interval_ms=500,
        fetch_max_wait_ms=50,
    )


async def _produce(kafka: KafkaUnderTest, topic: str, values: list[bytes], partitions: int) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=kafka.bootstrap_servers)
    await producer.start()
    try:
        for i, value in enumerate(values):
            await producer.send(topic, value, partition=i % partitions)
        await producer.flush()
    finally:
        await producer.stop()


async def test_group_members_split_partitions_and_take_over(
    kafka: KafkaUnderTest, unique: str
) -> None:
    topic, group = f"{unique}.split", f"{unique}.group"
    await create_topic(kafka.bootstrap_servers, topic, 4)
    first, second = _consumer(kafka, topic, group), _consumer(kafka, topic, group)
    seen: dict[str, list[bytes]] = {"first": [], "second": []}

    async def poll_both() -> bool:
        for name, consumer in (("first", first), ("second", second)):
            batch = await consumer.getmany(timeout_ms=50)
            for records in batch.values():
                seen[name].extend(r.value for r in records)
                await consumer.commit()
        return len(first.assignment()) == 2 and len(second.assignment()) == 2

    await first.start()
    await second.start()
    try:
        await wait_until(poll_both, 30, "both members to own two partitions each")
        assert first.assignment().isdisjoint(second.assignment())
        await _produce(kafka, topic, [f"a{i}".encode() for i in range(40)], 4)
        await wait_until(
            lambda: _drain(poll_both, seen, 40), 30, "40 records split across both members"
        )
        assert len(seen["first"]) == 20 and len(seen["second"]) == 20
        assert sorted(seen["first"] + seen["second"]) == sorted(f"a{i}".encode() for i in range(40))
        await second.stop()
        seen = {"first": [], "second": []}

        async def first_owns_all() -> bool:
            batch = await first.getmany(timeout_ms=50)
            for records in batch.values():
                seen["first"].extend(r.value for r in records)
            return len(first.assignment()) == 4

        await wait_until(first_owns_all, 30, "the remaining member to take all four partitions")
        await _produce(kafka, topic, [f"b{i}".encode() for i in range(40)], 4)

        async def first_got_all() -> bool:
            await first_owns_all()
            return len(seen["first"]) >= 40

        await wait_until(first_got_all, 30, "the remaining member to read all 40 new records")
        assert sorted(seen["first"]) == sorted(f"b{i}".encode() for i in range(40))
    finally:
        await first.stop()
        await second.stop()


async def _drain(poll, seen: dict[str, list[bytes]], total: int) -> bool:
    await poll()
    return sum(len(v) for v in seen.values()) >= total


async def test_committed_offsets_resume_after_restart(kafka: KafkaUnderTest, unique: str) -> None:
    topic, group = f"{unique}.resume", f"{unique}.group"
    await create_topic(kafka.bootstrap_servers, topic, 1)
    await _produce(kafka, topic, [f"m{i}".encode() for i in range(10)], 1)
    tp = TopicPartition(topic, 0)

    consumer = _consumer(kafka, topic, group)
    await consumer.start()
    taken = []
    try:

        async def six_taken() -> bool:
            batch = await consumer.getmany(tp, timeout_ms=100, max_records=6 - len(taken))
            taken.extend(batch.get(tp, []))
            return len(taken) == 6

        await wait_until(six_taken, 30, "the first six records")
        await consumer.commit({tp: taken[-1].offset + 1})
    finally:
        await consumer.stop()

    restarted = _consumer(kafka, topic, group)
    await restarted.start()
    rest = []
    try:

        async def rest_taken() -> bool:
            batch = await restarted.getmany(tp, timeout_ms=100)
            rest.extend(batch.get(tp, []))
            return len(rest) >= 4

        await wait_until(rest_taken, 30, "the remaining four records")
        assert await restarted.committed(tp) == 6
    finally:
        await restarted.stop()
    assert [r.value for r in taken] == [f"m{i}".encode() for i in range(6)]
    assert [r.offset for r in rest] == [6, 7, 8, 9]
    assert [r.value for r in rest] == [f"m{i}".encode() for i in range(6, 10)]


async def test_idempotent_producer_writes_each_record_once_in_order(
    kafka: KafkaUnderTest, unique: str
) -> None:
    topic = f"{unique}.idempotent"
    await create_topic(kafka.bootstrap_servers, topic, 2)
    producer = AIOKafkaProducer(
        bootstrap_servers=kafka.bootstrap_servers, enable_idempotence=True, acks="all"
    )
    await producer.start()
    try:
        futures = [
            await producer.send(topic, f"{i}".encode(), key=f"k{i % 2}".encode())
            for i in range(200)
        ]
        metadata = await asyncio.gather(*futures)
        pid = producer._txn_manager.producer_id  # assigned by the broker (InitProducerId)
    finally:
        await producer.stop()
    assert pid >= 0
    assert len({(m.partition, m.offset) for m in metadata}) == 200

    consumer = _consumer(kafka, topic, f"{unique}.reader")
    await consumer.start()
    got: dict[bytes, list[int]] = {b"k0": [], b"k1": []}
    try:

        async def all_read() -> bool:
            for records in (await consumer.getmany(timeout_ms=100)).values():
                for r in records:
                    got[r.key].append(int(r.value))
            return sum(map(len, got.values())) >= 200

        await wait_until(all_read, 30, "200 records")
    finally:
        await consumer.stop()
    assert got[b"k0"] == list(range(0, 200, 2))
    assert got[b"k1"] == list(range(1, 200, 2))
