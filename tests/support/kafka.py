"""Small aiokafka helpers the integration tests share."""

from __future__ import annotations

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError
from aiokafka.structs import ConsumerRecord

from tests.support.waiting import wait_until

SERVED_TIMEOUT_S = 30.0


async def create_topic(bootstrap: str, name: str, partitions: int) -> None:
    """Create one topic and wait until every partition's leader answers for it.

    The controller acknowledges a topic a moment before its leader serves it; a client
    asking in between gets NotLeaderForPartition and waits out its retry back-off (a test
    that sets a long one, to hold a fetch in back-off, then waited 30 s for a position).
    """
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, partitions, 1)])
    finally:
        await admin.close()
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    tps = [TopicPartition(name, p) for p in range(partitions)]

    async def served() -> bool:
        try:
            await consumer.end_offsets(tps)
        except KafkaError:
            return False
        return True

    try:
        await wait_until(served, SERVED_TIMEOUT_S, f"the partitions of {name} served")
    finally:
        await consumer.stop()


async def committed_total(bootstrap: str, group: str, topic: str) -> int:
    """Sum of the group's committed offsets over `topic`'s partitions (0 where none)."""
    offsets = await committed_offsets(bootstrap, group)
    return sum(offset for (name, _), offset in offsets.items() if name == topic and offset > 0)


async def committed_offsets(bootstrap: str, group: str) -> dict[tuple[str, int], int]:
    """(topic, partition) -> the group's committed offset, where it has one."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(group)
    finally:
        await admin.close()
    return {(tp.topic, tp.partition): meta.offset for tp, meta in offsets.items()}


async def read_partition(bootstrap: str, topic: str, partition: int) -> list[ConsumerRecord]:
    """Every record of one partition, from its start to its end as of the call."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        tp = TopicPartition(topic, partition)
        consumer.assign([tp])
        await consumer.seek_to_beginning(tp)
        end = (await consumer.end_offsets([tp]))[tp]
        records: list[ConsumerRecord] = []
        while await consumer.position(tp) < end:
            batch = await consumer.getmany(tp, timeout_ms=1000)
            records += batch.get(tp, [])
        return records
    finally:
        await consumer.stop()
